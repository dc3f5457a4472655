"""Word pieces aligned to words for NER, on the real MiniLM vocabulary."""

import numpy as np
import pytest
import tensorflow as tf

from tfadapt.data.word_pieces import IGNORE, align_words, word_predictions


@pytest.fixture(scope="module")
def tokenizer(minilm_dir):
    import keras_hub

    return keras_hub.models.BertTokenizer.from_preset(minilm_dir, strip_accents=True)


WORDS = ["@paulwalk", "It", "'s", "Empire", "State"]  # pieces: 3, 1, 2, 1, 1
TAGS = [0, 0, 0, 1, 2]


def _align(tokenizer, words, tags, length):
    ds = tf.data.Dataset.from_tensors((tf.constant(words), tf.constant(tags)))
    return next(iter(ds.map(lambda w, t: align_words(tokenizer, w, t, length))))


def test_the_first_piece_of_each_word_carries_its_tag(tokenizer):
    features = _align(tokenizer, WORDS, TAGS, 32)
    assert features["token_ids"].numpy().tolist() == [
        101, 1030, 2703, 17122, 2009, 1005, 1055, 3400, 2110, 102]
    x = IGNORE
    assert features["labels"].numpy().tolist() == [x, 0, x, x, 0, 0, x, 1, 2, x]
    assert features["word_index"].numpy().tolist() == [x, 0, 0, 0, 1, 2, 2, 3, 4, x]
    assert int(features["words_kept"]) == 5
    assert features["padding_mask"].numpy().sum() == 10


def test_long_sentences_are_cut_between_words(tokenizer):
    features = _align(tokenizer, WORDS, TAGS, 8)  # room for 6 pieces: the first 3 words
    assert int(features["words_kept"]) == 3
    assert features["token_ids"].numpy().tolist() == [101, 1030, 2703, 17122, 2009, 1005, 1055, 102]


def test_word_predictions_take_each_words_first_piece(tokenizer):
    features = _align(tokenizer, WORDS, TAGS, 32)
    scores = np.arange(10, dtype="float32")[:, None] * [1.0, -1.0]  # position p → [p, -p]
    per_word = word_predictions(scores, features["word_index"], 5).numpy()
    np.testing.assert_array_equal(per_word[:, 0], [1, 4, 5, 7, 8])
