"""Each fine-tuning strategy, trained for real on the tiny preset: which variables move.

A run's weights are compared with the pretrained preset it started from; a strategy's
test fails if a variable it should hold still moved, or one it should train did not.
"""

import dataclasses
import json

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from test_export import check_export
from tfadapt.config import TrainConfig
from tfadapt.training.model_dir import ModelDir, load_trained
from tfadapt.training.trainer import train


def _run(tmp_path, tiny_preset, review_files, strategy=None, **changes):
    values = dict(train_data=review_files["train"], preset=tiny_preset,
                  model_dir=str(tmp_path / "model"), sequence_length=32, batch_size=8, epochs=2,
                  learning_rate=1e-2, early_stopping_patience=0, weight_decay=0.0)
    config = TrainConfig(**{**values, **changes})
    lines = []
    summary = train(config, strategy=strategy, log=lines.append)
    return config, summary, lines


def _moved(config, tiny_preset):
    """Paths of the run's variables that differ from the pretrained preset's."""
    model, _, _, _ = load_trained(config.model_dir)
    pretrained = {v.path: np.array(v) for v in
                  keras_hub.models.BertBackbone.from_preset(tiny_preset).weights}
    return {v.path for v in model.weights
            if v.path not in pretrained or not np.allclose(np.array(v), pretrained[v.path])}


def _prefixes(paths):
    return {path.split("/")[0] for path in paths}


def test_head_only_moves_only_the_head(tmp_path, tiny_preset, review_files):
    config, summary, lines = _run(tmp_path, tiny_preset, review_files, freeze_backbone=True)
    assert _prefixes(_moved(config, tiny_preset)) == {"logits"}
    assert summary["trainable_params"] == 16 * 3 + 3
    assert any("--freeze_backbone" in line for line in lines)  # the printed table
    rows = json.load(open(ModelDir(config.model_dir).lr_rules))
    assert rows[0]["source"] == "--freeze_backbone" and rows[0]["trainable_params"] == 0


def test_layer_lr_decay_moves_lower_layers_less(tmp_path, tiny_preset, review_files):
    config, _, _ = _run(tmp_path, tiny_preset, review_files, layer_lr_decay=0.1, epochs=1)
    model, _, _, _ = load_trained(config.model_dir)
    pretrained = {v.path: np.array(v) for v in
                  keras_hub.models.BertBackbone.from_preset(tiny_preset).weights}
    step = {v.path: np.abs(np.array(v) - pretrained[v.path]).mean()
            for v in model.weights if v.path in pretrained}
    top = step["transformer_layer_1/feedforward_output_dense/kernel"]
    low = step["transformer_layer_0/feedforward_output_dense/kernel"]
    assert 0 < low < top / 3  # lr × 0.01 vs lr × 0.1 (Adam: steps scale with the rate)


def test_gradual_unfreezing_under_mirrored_strategy(tiny_preset, drug_rows, mirrored):
    from tfadapt.data import pipeline
    from tfadapt.models.classifier import build_classifier
    from tfadapt.training.callbacks import LayerFreezer
    from tfadapt.training.lr_rules import RuleTable
    from tfadapt.training.optimization import build_optimizer

    lines = []
    with mirrored.scope():
        model = build_classifier(keras_hub.models.BertBackbone.from_preset(tiny_preset), 3)
        freezer = LayerFreezer(model, RuleTable(()), 2, 1, "epoch", log=lines.append)
        optimizer = build_optimizer("adamw", 1e-2, 6)
        optimizer.build(freezer.ever_trained())
        freezer.apply(0)
        model.compile(optimizer, keras.losses.CategoricalCrossentropy(from_logits=True))
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        keras_hub.models.BertTokenizer.from_preset(tiny_preset), sequence_length=32)
    targets = np.eye(3, dtype="float32")[np.arange(32) % 3]
    ds = pipeline.training_dataset([t for t, _ in drug_rows[:32]], targets, preprocessor, 8,
                                   (16,), seed=0)
    before = {v.path: np.array(v) for v in model.weights}
    model.fit(ds, steps_per_epoch=3, epochs=2, verbose=0, shuffle=False, callbacks=[freezer])
    moved = {v.path for v in model.weights if not np.allclose(np.array(v), before[v.path])}
    # Epoch 1: the head only; epoch 2: the top layer joins. Nothing below it moved.
    assert _prefixes(moved) == {"logits", "transformer_layer_1"}
    assert lines == ["tfadapt: unfreezing stage 1: transformer_layer_1 now train"]


def test_gradual_unfreezing_run_logs_each_stage(tmp_path, tiny_preset, review_files):
    _, summary, lines = _run(tmp_path, tiny_preset, review_files, epochs=3,
                             unfreeze_schedule="2steps")  # 5 steps an epoch: stages 0–7
    stages = [line for line in lines if "unfreezing stage" in line]
    assert stages[0] == "tfadapt: unfreezing stage 1: transformer_layer_1 now train"
    assert stages[1] == "tfadapt: unfreezing stage 2: transformer_layer_0 now train"
    assert "token_embedding" in stages[2] and len(stages) == 3
    full = sum(int(np.prod(v.shape)) for v in keras_hub.models.BertBackbone.from_preset(
        tiny_preset).weights if not v.path.startswith("pooled_dense"))
    assert summary["trainable_params"] == full + 16 * 3 + 3  # everything trains by the end
    assert np.isfinite(summary["history"]["loss"]).all()


def test_unfreezing_keeps_the_optimizer_state_of_layers_already_training(tiny_preset):
    from tfadapt.training.callbacks import LayerFreezer
    from tfadapt.training.lr_rules import RuleTable
    from tfadapt.training.optimization import build_optimizer
    from tfadapt.models.classifier import build_classifier

    backbone = keras_hub.models.BertBackbone.from_preset(tiny_preset)
    model = build_classifier(backbone, 3)
    freezer = LayerFreezer(model, RuleTable(()), backbone.num_layers, 1, "step", log=lambda _: 0)
    optimizer = build_optimizer("adamw", 1e-2, 10, clip_norm=0, weight_decay=0.0,
                                per_variable_steps=True)
    optimizer.build(freezer.ever_trained())
    model.compile(optimizer=optimizer, loss="categorical_crossentropy")
    freezer.set_model(model)
    freezer.apply(0)
    head = model.get_layer("logits").kernel
    assert [v.path for v in model.trainable_variables] == ["logits/kernel", "logits/bias"]
    optimizer.apply([keras.ops.ones_like(v) for v in model.trainable_variables],
                    model.trainable_variables)
    moments = [np.array(v) for v in optimizer.variables if "logits_kernel" in v.path]
    freezer._enter(1)  # the top layer joins
    joined = model.get_layer("bert_backbone").get_layer("transformer_layer_1").weights[0]
    assert any(v is joined for v in model.trainable_variables)
    before = np.array(joined)
    optimizer.apply([keras.ops.ones_like(v) for v in model.trainable_variables],
                    model.trainable_variables)
    # The layer's first update is Adam's first step, lr × 1: its bias correction counts its
    # own updates (with the optimizer's count, 2, it would be lr × 0.74; joining at step
    # 1000, up to ~5 × lr over its first updates).
    np.testing.assert_allclose(before - np.array(joined), 1e-2, rtol=1e-3)
    after = [np.array(v) for v in optimizer.variables if "logits_kernel" in v.path]
    # Adam's first moment after two steps of gradient 1: 0.1 then 0.19 (not 0.1 again).
    np.testing.assert_allclose(moments[0], 0.1, rtol=1e-5)
    np.testing.assert_allclose(after[0], 0.19, rtol=1e-5)
    assert int(optimizer.iterations) == 2 and head.trainable


def test_prompt_tuning_moves_only_the_prompt_and_the_head(tmp_path, tiny_preset, review_files):
    config, summary, _ = _run(tmp_path, tiny_preset, review_files, prompt_tuning_length=4,
                              prompt_init_words=("drug", "review"),
                              export_dir=str(tmp_path / "export"))
    assert _prefixes(_moved(config, tiny_preset)) == {"soft_prompt", "logits"}
    assert summary["trainable_params"] == 4 * 16 + 16 * 3 + 3
    model, preprocessor, label_map, _ = load_trained(config.model_dir)
    check_export(summary["paths"]["export"], model, preprocessor, label_map.names)


def test_prompt_output_does_not_depend_on_batch_padding(tiny_preset):
    from tfadapt.models.prompt import build_prompt_classifier

    backbone = keras_hub.models.BertBackbone.from_preset(tiny_preset)
    model = build_prompt_classifier(backbone, 3, prompt_length=5)
    ids = np.array([[2, 45, 99, 3]], "int32")

    def logits(width):
        pad = width - ids.shape[1]
        features = {"token_ids": np.pad(ids, [[0, 0], [0, pad]]),
                    "segment_ids": np.zeros((1, width), "int32"),
                    "padding_mask": np.pad(np.ones_like(ids), [[0, 0], [0, pad]])}
        return np.asarray(model(features, training=False))

    np.testing.assert_allclose(logits(4), logits(40), atol=1e-5)


def test_prompt_init_from_words_uses_their_embeddings(tiny_preset):
    from tfadapt.models.prompt import initial_prompt

    backbone = keras_hub.models.BertBackbone.from_preset(tiny_preset)
    tokenizer = keras_hub.models.BertTokenizer.from_preset(tiny_preset)
    vectors = initial_prompt(backbone, tokenizer, 3, words=("pain",))
    np.testing.assert_allclose(vectors[0], vectors[2])  # one word piece, cycled
    random = initial_prompt(backbone, tokenizer, 3, seed=1)
    assert not np.allclose(random[0], random[1])


def test_lora_trains_adapters_and_exports_the_same_outputs(tmp_path, tiny_preset, review_files):
    config, summary, _ = _run(tmp_path, tiny_preset, review_files, lora_rank=2, lora_alpha=4,
                              export_dir=str(tmp_path / "export"))
    model, preprocessor, label_map, _ = load_trained(config.model_dir)
    moved = _moved(config, tiny_preset)
    # Adapters live only on query / value; the saved kernels have the adapters merged in.
    assert {p.split("/")[-2] for p in moved if p.startswith("transformer")} == {"query", "value"}
    assert "transformer_layer_0/feedforward_output_dense/kernel" not in moved
    assert "logits/kernel" in moved
    # Per layer, query and value: A [16, 2 heads, rank 2], B [2, 8], bias [2, 8]; the head.
    assert summary["trainable_params"] == 2 * 2 * (16 * 2 * 2 + 2 * 8 + 2 * 8) + 16 * 3 + 3
    check_export(summary["paths"]["export"], model, preprocessor, label_map.names)
    # The preset the run wrote is a plain BERT with the adapters merged: same outputs.
    merged = keras_hub.models.BertBackbone.from_preset(ModelDir(config.model_dir).preset)
    features = preprocessor(tf.constant(["the drug helped my pain"]))
    features["padding_mask"] = tf.cast(features["padding_mask"], tf.int32)
    np.testing.assert_allclose(merged(features)["sequence_output"],
                               model.get_layer("bert_backbone")(features)["sequence_output"],
                               atol=1e-5)


def test_class_weights_reach_the_loss(tmp_path, tiny_preset, review_files):
    # Every class weighing 0: the loss is 0 and nothing moves (no weight decay here).
    config, summary, lines = _run(tmp_path, tiny_preset, review_files, epochs=1,
                                  class_weights="negative=0,neutral=0,positive=0")
    assert summary["history"]["loss"] == [0.0]
    # No pretrained weight moved (the head has no pretrained value to compare with).
    assert _prefixes(_moved(config, tiny_preset)) == {"logits"}
    assert "tfadapt: class weights negative 0, neutral 0, positive 0" in lines


def test_augmentation_touches_only_training_data(tmp_path, review_files):
    from tfadapt.training.trainer import read_inputs

    synonyms = tmp_path / "thesaurus.txt"
    synonyms.write_text("# drug-review thesaurus\npain, ache, soreness\nside effects, adverse effects\n")
    base = TrainConfig(train_data=review_files["train"], test_data=review_files["test"],
                       preset="p", model_dir="m")
    plain = read_inputs(base, log=lambda _: None)
    config = dataclasses.replace(base, augment_copies=2, synonyms=str(synonyms))
    augmented = read_inputs(config, log=lambda _: None)
    assert len(augmented.train) == 3 * len(plain.train)
    assert augmented.train.texts[:len(plain.train)] == plain.train.texts
    assert augmented.train.labels == plain.train.labels * 3
    assert augmented.validation.texts == plain.validation.texts  # never augmented
    assert augmented.test.texts == plain.test.texts
    assert set(augmented.train.texts[len(plain.train):]) - set(plain.train.texts)
    again = read_inputs(config, log=lambda _: None)
    assert again.train.texts == augmented.train.texts  # reproducible with the seed


def test_lora_alpha_sets_the_adapter_scale(tiny_preset):
    from tfadapt.data.labels import LabelMap
    from tfadapt.tasks import get_task
    from tfadapt.training.trainer import _build_model

    config = TrainConfig(train_data="t", preset=tiny_preset, model_dir="m", lora_rank=2,
                         lora_alpha=8)
    backbone = keras_hub.models.BertBackbone.from_preset(tiny_preset)
    _build_model(get_task("classification"), config, backbone, None, LabelMap("abc"))
    adapted = [layer for layer in backbone._flatten_layers() if getattr(layer, "lora_enabled", 0)]
    assert len(adapted) == 4  # query and value of both layers
    assert {(layer.lora_rank, layer.lora_alpha) for layer in adapted} == {(2, 8)}


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_prompt_model_saves_and_loads(tiny_preset, tmp_path, pooling):
    from tfadapt.models.prompt import build_prompt_classifier

    model = build_prompt_classifier(keras_hub.models.BertBackbone.from_preset(tiny_preset), 3,
                                    prompt_length=3, pooling=pooling)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    features = {"token_ids": np.array([[2, 45, 99, 3]], "int32"),
                "segment_ids": np.zeros((1, 4), "int32"),
                "padding_mask": np.ones((1, 4), "int32")}
    np.testing.assert_allclose(loaded(features), model(features), atol=1e-6)


def test_lora_with_flag_rules_on_frozen_variables_checks_out(tiny_preset):
    from tfadapt.training.lr_rules import RuleTable, rules_for
    from tfadapt.data.labels import LabelMap
    from tfadapt.tasks import get_task
    from tfadapt.training.trainer import _build_model

    config = TrainConfig(train_data="t", preset=tiny_preset, model_dir="m", lora_rank=2,
                         freeze_embeddings=True, layer_lr_decay=0.9)
    model = _build_model(get_task("classification"), config,
                         keras_hub.models.BertBackbone.from_preset(tiny_preset), None,
                         LabelMap("abc"))
    RuleTable(rules_for(config, 2)).check(model.weights)  # the embeddings exist, frozen by LoRA
