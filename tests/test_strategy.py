"""Strategy resolution, and a real two-replica MirroredStrategy run on logical CPUs."""

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from tfadapt.data import pipeline
from tfadapt.errors import UserError
from tfadapt.models.classifier import build_classifier
from tfadapt.training.optimization import build_optimizer
from tfadapt.training.strategy import resolve_placement, resolve_strategy


def test_cpu_placement():
    placement = resolve_placement("auto")
    assert (placement.device, placement.replicas) == ("cpu", 1)
    assert placement.jit_compile is False  # slower on CPU for small BERTs
    assert placement.dtype_policy == "float32"
    assert resolve_placement("cpu", jit_compile="true", mixed_precision="bf16").dtype_policy \
        == "mixed_bfloat16"


def test_gpu_strategies_without_a_gpu_are_clear_errors():
    with pytest.raises(UserError, match="--strategy=multi_gpu needs at least two GPUs; found 0"):
        resolve_strategy("multi_gpu")
    with pytest.raises(UserError, match="--strategy=gpu: TensorFlow sees no GPU"):
        resolve_strategy("gpu")


def test_tpu_without_a_tpu_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)
    monkeypatch.delenv("COLAB_TPU_ADDR", raising=False)
    with pytest.raises(UserError, match=r"^--strategy=tpu: no TPU reachable at --tpu=''"):
        resolve_strategy("tpu")


def test_auto_picks_tpu_when_the_environment_names_one(monkeypatch):
    # Colab's variable sends auto to the TPU branch; here no TPU answers at that address.
    monkeypatch.setenv("COLAB_TPU_ADDR", "10.0.0.2:8470")
    calls = []

    def fake_resolver(tpu):
        calls.append(tpu)
        raise ValueError("unreachable")

    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", fake_resolver)
    with pytest.raises(UserError, match="--strategy=tpu: no TPU reachable"):
        resolve_strategy("auto")
    assert calls == ["grpc://10.0.0.2:8470"]


def test_mirrored_strategy_over_two_cpus_trains(tiny_preset, drug_rows, mirrored):
    strategy = mirrored
    placement = resolve_placement(strategy_object=strategy)
    assert placement.replicas == 2 and placement.jit_compile is False
    names = ["negative", "neutral", "positive"]
    texts = [text for text, _ in drug_rows[:64]]
    targets = np.eye(3, dtype="float32")[[names.index(label) for _, label in drug_rows[:64]]]
    keras.utils.set_random_seed(0)
    with strategy.scope():
        backbone = keras_hub.models.BertBackbone.from_preset(tiny_preset)
        model = build_classifier(backbone, 3, dropout=0.0)
        model.compile(build_optimizer("adamw", 3e-3, total_steps=24, warmup_ratio=0.0),
                      keras.losses.CategoricalCrossentropy(from_logits=True))
    tokenizer = keras_hub.models.BertTokenizer.from_preset(tiny_preset)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=32)
    ds = pipeline.training_dataset(texts, targets, preprocessor, batch_size=16,
                                   boundaries=(16,), seed=0)
    history = model.fit(ds, steps_per_epoch=4, epochs=6, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert losses[-1] < losses[0] - 0.05, losses
    variable = model.trainable_variables[0].value  # the tf.Variable behind Keras' wrapper
    assert isinstance(variable, tf.distribute.DistributedValues)
    assert len(variable.values) == 2


def test_a_resolved_strategy_is_reused_in_the_process(monkeypatch):
    from tfadapt.training import strategy as strategy_lib

    made = []
    monkeypatch.setattr(strategy_lib, "_STRATEGIES", {})
    monkeypatch.setattr(strategy_lib, "_new_strategy",
                        lambda name, tpu, gpus: made.append(name) or (object(), "cpu"))
    first = resolve_strategy("cpu")
    assert resolve_strategy("cpu") is first and made == ["cpu"]
