"""Freezing by the rule table: frozen variables do not move; the rest do."""

import keras
import keras_hub
import numpy as np
import pytest

from tfadapt.data import pipeline
from tfadapt.models.classifier import build_classifier
from tfadapt.config import TrainConfig
from tfadapt.training.callbacks import LayerFreezer, PadFractionLogger
from tfadapt.training.lr_rules import RuleTable, rules_for


def _fit(tiny_preset, drug_rows, freezer_for):
    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.BertBackbone.from_preset(tiny_preset)
    tokenizer = keras_hub.models.BertTokenizer.from_preset(tiny_preset)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=32)
    model = build_classifier(backbone, 3)
    model.compile(keras.optimizers.AdamW(1e-2), keras.losses.CategoricalCrossentropy(from_logits=True))
    names = ["negative", "neutral", "positive"]
    texts = [t for t, _ in drug_rows[:32]]
    targets = np.eye(3, dtype="float32")[[names.index(l) for _, l in drug_rows[:32]]]
    ds = pipeline.training_dataset(texts, targets, preprocessor, 8, (16,), seed=0)
    before = {v.path: np.array(v) for v in model.weights}
    model.fit(ds, steps_per_epoch=3, epochs=1, verbose=0, shuffle=False,
              callbacks=freezer_for(model))
    return {v.path for v in model.weights if not np.allclose(np.array(v), before[v.path])}


def _freezer(**flags):
    config = TrainConfig(train_data="t", preset="p", model_dir="m", **flags)
    return lambda model: [LayerFreezer(model, RuleTable(rules_for(config, 2)), 2)]


def test_freezing_embeddings_and_lowest_layer(tiny_preset, drug_rows):
    changed = _fit(tiny_preset, drug_rows, _freezer(freeze_embeddings=True, freeze_layers=1))
    assert not any(p.startswith(("token_embedding", "position_embedding", "segment_embedding",
                                 "embeddings_layer_norm", "transformer_layer_0/")) for p in changed)
    assert any(p.startswith("transformer_layer_1/") for p in changed)
    assert any(p.startswith("logits/") for p in changed)


def test_without_freezing_every_layer_moves(tiny_preset, drug_rows):
    changed = _fit(tiny_preset, drug_rows, _freezer())
    for prefix in ("token_embedding", "transformer_layer_0/", "transformer_layer_1/", "logits/"):
        assert any(p.startswith(prefix) for p in changed), prefix


def test_freezer_leaves_what_the_model_froze_itself_frozen(tiny_preset):
    backbone = keras_hub.models.BertBackbone.from_preset(tiny_preset)
    model = build_classifier(backbone, 3)  # mean pooling: the [CLS] pooler is frozen
    freezer = _freezer(freeze_layers=1)(model)[0]
    freezer.apply(0)
    paths = {v.path for v in model.trainable_variables}
    assert not any(p.startswith(("pooled_dense", "transformer_layer_0/")) for p in paths)
    freezer.table = RuleTable(())
    freezer.apply(0)  # the rule is gone: layer 0 trains again, the pooler stays frozen
    paths = {v.path for v in model.trainable_variables}
    assert any(p.startswith("transformer_layer_0/") for p in paths)
    assert not any(p.startswith("pooled_dense") for p in paths)


def test_pad_fraction_is_added_to_the_epoch_logs():
    meter = pipeline.PadMeter()
    meter.real.assign(3)
    meter.total.assign(4)
    logs = {}
    PadFractionLogger(meter).on_epoch_end(0, logs)
    assert logs == {"pad_fraction": pytest.approx(0.25)}
