"""Masked-LM masking in tf.data, on real drug reviews and MiniLM's real vocabulary."""

import numpy as np
import pytest
import tensorflow as tf

from tfadapt.data import masking

SEQUENCE_LENGTH = 128


@pytest.fixture(scope="module")
def tokenizer(tiny_preset):
    import keras_hub

    return keras_hub.models.BertTokenizer.from_preset(tiny_preset)


@pytest.fixture(scope="module")
def preprocessor(tokenizer):
    import keras_hub

    return keras_hub.models.BertTextClassifierPreprocessor(tokenizer,
                                                           sequence_length=SEQUENCE_LENGTH)


@pytest.fixture(scope="module")
def reviews(drug_rows):
    return [text for text, _ in drug_rows[:200]]


@pytest.fixture(scope="module", params=[False, True], ids=["word_piece", "whole_word"])
def masked(request, reviews, tokenizer, preprocessor):
    """(whole_word, fixed masks of 200 reviews, the unmasked token ids)."""
    masker = masking.build_masker(tokenizer, SEQUENCE_LENGTH, 0.15, request.param)
    fixed = masking.fixed_masks(reviews, preprocessor, masker, seed=7)
    return request.param, fixed, _originals(fixed)


def _originals(fixed):
    ids = fixed.features["token_ids"].copy()
    for row, (positions, originals, weights) in enumerate(
            zip(fixed.features["mask_positions"], fixed.mask_ids, fixed.mask_weights)):
        real = weights > 0
        ids[row, positions[real]] = originals[real]
    return ids


def _chosen(fixed, row):
    return set(fixed.features["mask_positions"][row][fixed.mask_weights[row] > 0].tolist())


def test_mask_rate_and_80_10_10_on_real_reviews(masked, tokenizer):
    _, fixed, originals = masked
    lengths = fixed.features["padding_mask"].sum(1)
    maskable = (lengths - 2).sum()  # all but [CLS] and [SEP]
    # keras-hub rounds each text's share up (ceil), so slightly above 15%.
    assert 0.15 <= fixed.masked_tokens / maskable < 0.16
    real = fixed.mask_weights > 0
    rows = np.nonzero(real)[0]
    positions = fixed.features["mask_positions"][real]
    now = fixed.features["token_ids"][rows, positions]
    was = fixed.mask_ids[real]
    assert (originals[rows, positions] == was).all()
    as_mask = (now == tokenizer.mask_token_id).mean()
    kept = (now == was).mean()
    assert 0.77 < as_mask < 0.83, as_mask
    assert 0.08 < kept < 0.12, kept
    assert 0.08 < 1 - as_mask - kept < 0.12  # random tokens
    # Outside the chosen slots nothing changed.
    unchanged = fixed.features["token_ids"] == originals
    assert unchanged.sum() == unchanged.size - real.sum() + (now == was).sum()


def test_special_tokens_and_padding_are_never_masked(masked):
    _, fixed, _ = masked
    slots = masking.max_predictions(SEQUENCE_LENGTH, 0.15)
    assert fixed.features["mask_positions"].shape[1] == slots
    lengths = fixed.features["padding_mask"].sum(1)
    for row, length in enumerate(lengths):
        chosen = _chosen(fixed, row)
        assert chosen and min(chosen) >= 1 and max(chosen) <= length - 2  # not [CLS]/[SEP]/pad
    # Padding slots point at position 0 with weight 0 (the loss ignores them).
    assert (fixed.features["mask_positions"][fixed.mask_weights == 0] == 0).all()


def test_whole_word_masking_masks_every_piece_of_a_chosen_word(masked, tokenizer):
    whole_word, fixed, originals = masked
    continuation = np.array([piece.startswith("##") for piece in tokenizer.get_vocabulary()])
    split_words = masked_words = 0
    for row, length in enumerate(fixed.features["padding_mask"].sum(1)):
        ids = originals[row, :length]
        starts = ~continuation[ids]
        words = np.cumsum(starts) - 1
        chosen = _chosen(fixed, row)
        for word in np.unique(words[1:-1]):
            pieces = set(np.nonzero(words == word)[0].tolist())
            if len(pieces) > 1 and pieces & chosen:
                masked_words += 1
                split_words += not pieces <= chosen
    assert masked_words > 50  # many multi-piece words were chosen
    if whole_word:
        assert split_words == 0
    else:  # the reason for the option: word pieces alone split words
        assert split_words > 10


def test_a_continuation_piece_after_cls_is_a_word_of_its_own(tokenizer):
    vocabulary = tokenizer.get_vocabulary()
    masker = masking.WholeWordMasker(vocabulary, tokenizer.special_token_ids,
                                     tokenizer.mask_token_id, mask_rate=0.99, slots=8)
    # [CLS] ##ing the ##ing [SEP]: a text cut in the middle of a word.
    ing, the = vocabulary.index("##ing"), vocabulary.index("the")
    ids = tf.constant([tokenizer.cls_token_id, ing, the, ing, tokenizer.sep_token_id])
    out = masker(ids, tf.constant([3, 4], tf.int64))
    weights = out["mask_weights"].numpy()
    assert sorted(out["mask_positions"].numpy()[weights > 0].tolist()) == [1, 2, 3]
    assert out["mask_ids"].numpy()[weights > 0].tolist() == [ing, the, ing]


def test_heldout_masks_are_fixed_and_training_masks_change(reviews, tokenizer, preprocessor):
    masker = masking.build_masker(tokenizer, SEQUENCE_LENGTH, 0.15, whole_word=True)
    fixed = masking.fixed_masks(reviews[:40], preprocessor, masker, seed=3)
    again = masking.fixed_masks(reviews[:40], preprocessor, masker, seed=3)
    np.testing.assert_array_equal(fixed.features["mask_positions"],
                                  again.features["mask_positions"])
    ds = masking.heldout_dataset(fixed, 16, (32, 64), SEQUENCE_LENGTH)
    first, second = list(ds.as_numpy_iterator()), list(ds.as_numpy_iterator())
    assert len(first) == 3 and [len(b[1]) for b in first] == [16, 16, 8]  # partial batch last
    for a, b in zip(first, second):
        for key in a[0]:
            np.testing.assert_array_equal(a[0][key], b[0][key])
        np.testing.assert_array_equal(a[1], b[1])
    # Training draws new masks on every pass over the same text (dynamic masking).
    stream = masking.training_dataset(reviews[:1], preprocessor, masker, 1, (32, 64), seed=3)
    passes = [batch[0]["mask_positions"].numpy().tolist() for batch in stream.take(3)]
    assert passes[0] != passes[1] or passes[1] != passes[2]


def test_training_batches_are_integer_and_padded_per_bucket(reviews, tokenizer, preprocessor):
    masker = masking.build_masker(tokenizer, SEQUENCE_LENGTH, 0.15)
    ds = masking.training_dataset(reviews, preprocessor, masker, 8, (32, 64), seed=1)
    for features, mask_ids, mask_weights in ds.take(6):
        assert {k: v.dtype for k, v in features.items()} == {
            "token_ids": tf.int32, "segment_ids": tf.int32, "padding_mask": tf.int32,
            "mask_positions": tf.int32}
        assert mask_ids.dtype == tf.int32 and mask_weights.dtype == tf.float32
        width = features["token_ids"].shape[1]
        longest = int(tf.reduce_max(tf.reduce_sum(features["padding_mask"], 1)))
        assert width == longest  # padded to its longest text, not to sequence_length
        assert int(tf.reduce_max(features["mask_positions"])) < width
