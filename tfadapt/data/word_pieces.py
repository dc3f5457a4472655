"""Word pieces aligned to words, for token classification (NER), in TensorFlow ops.

keras-hub's preprocessors pack whole texts; a tagger needs to know which word each piece
came from. `align_words` tokenizes a sentence's words with the keras-hub tokenizer and
returns, per position of `[CLS] pieces… [SEP]`:

- `token_ids` and `padding_mask` for the backbone,
- `labels`: the word's tag id on the first piece of each word, -1 elsewhere ([CLS],
  [SEP], later pieces of a word), so the loss ignores those positions,
- `word_index`: which word a position belongs to (-1 for [CLS] and [SEP]).

Sentences longer than `sequence_length` pieces are cut at a word boundary: a word is kept
only if all its pieces fit, and the words that did not fit are reported by
`words_kept`. The same ops run in tf.data and in the exported serving graph, so training
and serving align words identically.

Example:
>>> features = align_words(tokenizer, tf.constant(["Empire", "State", "Building"]),
...                        tf.constant([1, 2, 2]), sequence_length=16)
>>> features["labels"]   # [CLS] Empire State Building [SEP]
<tf.Tensor: [-1, 1, 2, 2, -1]>
"""

import tensorflow as tf

IGNORE = -1


def align_words(tokenizer, words, tag_ids=None, sequence_length=128):
    """Features of one sentence (`words`: a 1-D string tensor) for a BERT tagger."""
    pieces = tokenizer(words)
    if not isinstance(pieces, tf.RaggedTensor):  # a tokenizer called eagerly on a vector
        pieces = tf.ragged.constant(pieces, dtype=tf.int32)
    pieces = tf.cast(pieces, tf.int32)
    # Keep whole words while [CLS] + their pieces + [SEP] fit.
    ends = tf.cumsum(pieces.row_lengths())
    kept = tf.cast(tf.reduce_sum(tf.cast(ends <= sequence_length - 2, tf.int32)), tf.int32)
    pieces = pieces[:kept]
    lengths = tf.cast(pieces.row_lengths(), tf.int32)
    flat = pieces.flat_values
    word_index = tf.repeat(tf.range(kept), lengths)
    first = tf.concat([[True], word_index[1:] != word_index[:-1]], 0)[:tf.size(word_index)]
    edge = tf.fill([1], IGNORE)
    features = {
        "token_ids": tf.concat([[tokenizer.cls_token_id], flat, [tokenizer.sep_token_id]], 0),
        "word_index": tf.concat([edge, word_index, edge], 0),
    }
    features["padding_mask"] = tf.ones_like(features["token_ids"])
    features["segment_ids"] = tf.zeros_like(features["token_ids"])
    features["words_kept"] = kept
    if tag_ids is not None:
        tags = tf.gather(tf.cast(tag_ids, tf.int32), word_index)
        features["labels"] = tf.concat([edge, tf.where(first, tags, IGNORE), edge], 0)
    return features


def word_predictions(position_scores, word_index, num_words):
    """Per-word scores from per-position scores: each word takes its first piece's."""
    position_scores = tf.convert_to_tensor(position_scores)
    is_word = word_index >= 0
    first = is_word & tf.concat([[True], word_index[1:] != word_index[:-1]], 0)
    return tf.scatter_nd(tf.expand_dims(tf.boolean_mask(word_index, first), 1),
                         tf.boolean_mask(position_scores, first),
                         tf.concat([[num_words], tf.shape(position_scores)[1:]], 0))
