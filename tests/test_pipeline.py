"""The tf.data pipeline: tokenization in tf.data, length bucketing, pad accounting."""

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from tfadapt.data import pipeline
from tfadapt.models.classifier import build_classifier


@pytest.fixture(scope="module")
def tiny(tiny_preset):
    keras.utils.set_random_seed(1)
    backbone = keras_hub.models.BertBackbone.from_preset(tiny_preset)
    tokenizer = keras_hub.models.BertTokenizer.from_preset(tiny_preset)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=64)
    return build_classifier(backbone, num_classes=3), preprocessor


TEXTS = ["short one", "a somewhat longer text with quite a few more words in it than the first",
         "mid length text here", "x " * 100, "tiny", "another medium sized sentence for tests"]


def test_features_are_integer_and_trimmed(tiny):
    _, preprocessor = tiny
    (features, target), *_ = list(pipeline.tokenized_dataset(TEXTS, preprocessor, [0] * 6))
    assert {k: v.dtype for k, v in features.items()} == {
        "token_ids": tf.int32, "segment_ids": tf.int32, "padding_mask": tf.int32}
    assert features["token_ids"].numpy().tolist() == [101, 2460, 2028, 102]  # [CLS] short one [SEP]
    lengths = [int(f["padding_mask"].shape[0]) for f, _ in pipeline.tokenized_dataset(
        TEXTS, preprocessor, [0] * 6)]
    assert max(lengths) == 64  # the 100-word text is truncated to sequence_length


def test_training_batches_pad_to_the_longest_in_bucket_not_sequence_length(tiny):
    _, preprocessor = tiny
    texts = [f"word {'w ' * (i % 7)}" for i in range(64)]
    ds = pipeline.training_dataset(texts, np.eye(2, dtype="float32")[[i % 2 for i in range(64)]],
                                   preprocessor, batch_size=8, boundaries=(8, 16, 32), seed=0)
    for features, targets in ds.take(10):
        mask = features["padding_mask"].numpy()
        assert mask.shape[0] == 8  # full batches only
        assert mask.shape[1] == mask.sum(axis=1).max() <= 16  # padded to the batch's longest
        assert targets.shape == (8, 2)


def test_pad_to_boundary_gives_fixed_shapes(tiny):
    _, preprocessor = tiny
    texts = [f"word {'w ' * (i % 7)}" for i in range(32)]
    ds = pipeline.training_dataset(texts, np.zeros((32, 2), "float32"), preprocessor,
                                   batch_size=4, boundaries=(8, 16), seed=0, pad_to_boundary=True)
    widths = {features["token_ids"].shape[1] for features, _ in ds.take(20)}
    assert widths == {8, 16}  # texts of 3–9 tokens: only the first two bucket edges


def test_shuffle_is_reproducible_with_the_seed(tiny):
    _, preprocessor = tiny
    texts = [f"text number {i}" for i in range(40)]
    targets = np.eye(40, dtype="float32")

    def first_targets(seed):
        ds = pipeline.training_dataset(texts, targets, preprocessor, 8, (32,), seed)
        return [int(t) for _, y in ds.take(3) for t in y.numpy().argmax(-1)]

    assert first_targets(5) == first_targets(5)
    assert first_targets(5) != first_targets(6)


def test_pad_meter_counts_pad_tokens(tiny):
    _, preprocessor = tiny
    meter = pipeline.PadMeter()
    texts = ["one", "one two three four five six seven"]  # 3 and 9 tokens with [CLS]/[SEP]
    ds = pipeline.training_dataset(texts, np.zeros((2, 2), "float32"), preprocessor,
                                   batch_size=2, boundaries=(32,), seed=0, pad_meter=meter)
    next(iter(ds))
    assert meter.fraction() == pytest.approx(6 / 18)
    meter.reset()
    assert meter.fraction() == 0.0


def test_predict_keeps_input_order_and_matches_full_padding(tiny):
    model, preprocessor = tiny
    logits = pipeline.predict(model, TEXTS, preprocessor, batch_size=2, boundaries=(4, 8, 16))
    padded = preprocessor(tf.constant(TEXTS))
    padded["padding_mask"] = tf.cast(padded["padding_mask"], tf.int32)
    np.testing.assert_allclose(logits, model.predict_on_batch(padded), atol=1e-5)


def test_evaluation_dataset_visits_every_example_once(tiny):
    _, preprocessor = tiny
    ds = pipeline.evaluation_dataset(TEXTS, np.arange(6), preprocessor, 4, (4, 16))
    seen = sorted(int(i) for _, index in ds for i in index.numpy())
    assert seen == list(range(6))
    assert ds.cardinality().numpy() == len(list(ds))


def test_evaluation_batches_are_sorted_with_the_partial_batch_last(tiny):
    _, preprocessor = tiny
    texts = TEXTS * 3  # 18 texts
    ds = pipeline.evaluation_dataset(texts, np.arange(18), preprocessor, 4, (4, 16))
    batches = [features["token_ids"].shape for features, _ in ds]
    assert [shape[0] for shape in batches] == [4, 4, 4, 4, 2]
    widths = [shape[1] for shape in batches]
    assert widths == sorted(widths)  # each batch pads only to its own longest text


def test_a_small_evaluation_set_splits_evenly_over_replicas(tiny):
    _, preprocessor = tiny
    ds = pipeline.evaluation_dataset(TEXTS[:5], np.arange(5), preprocessor, 8, (16,), replicas=2)
    assert [int(index.shape[0]) for _, index in ds] == [4, 1]


def test_evaluation_pad_to_boundary_gives_fixed_shapes(tiny):
    _, preprocessor = tiny
    ds = pipeline.evaluation_dataset(TEXTS, np.arange(6), preprocessor, 2, (4, 8),
                                     pad_to_boundary=True)
    assert [features["token_ids"].shape[1] for features, _ in ds] == [4, 8, 64]
