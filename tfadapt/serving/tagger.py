"""The serving function of a token classifier: raw sentences → tags and entity spans.

Sentences are split into words at whitespace (`tensorflow_text.WhitespaceTokenizer`),
so a user sends text the way CoNLL data is tokenized: words and punctuation separated
by spaces gives the same words the model was trained on. Each word is split into pieces
by the model's own tokenizer exactly as in training (`data/word_pieces.align_words`),
and takes the tag predicted on its first piece. Entities are decoded from the BIO tags
inside the graph, as `evaluation/entities.entity_spans` decodes them.

Outputs (dense, padded, so TF Serving's REST API can return them):
    tags           [N, W] string   per word ("" past a sentence's last word)
    word_starts    [N, W] int32    character offsets of each word (-1 as padding)
    word_ends      [N, W] int32    (exclusive)
    entity_types   [N, E] string   per entity ("" as padding)
    entity_starts  [N, E] int32    character offsets in the sentence (-1 as padding)
    entity_ends    [N, E] int32    (exclusive)
    entity_texts   [N, E] string   the entity's text as it appears in the sentence
Offsets count Unicode characters (not bytes), so `sentence[start:end]` in Python is the
entity. Words beyond `sequence_length` word pieces are tagged O.
"""

import tensorflow as tf

from tfadapt.data.word_pieces import align_words

_INPUTS = ("token_ids", "segment_ids", "padding_mask")


def tagger_serving_fn(model, tokenizer, tag_names, sequence_length):
    """(function, input signature) of the raw-sentence `serving_default` endpoint."""
    import tensorflow_text as tf_text

    splitter = tf_text.WhitespaceTokenizer()
    outside = tag_names.index("O")
    kinds = sorted({tag[2:] for tag in tag_names if tag != "O"})
    names = tf.constant(list(tag_names))
    kind_names = tf.constant(kinds + [""])  # the last: no entity
    kind_of = tf.constant([kinds.index(t[2:]) if t != "O" else -1 for t in tag_names], tf.int32)
    is_inside = tf.constant([t.startswith("I-") for t in tag_names])

    def align(words):
        f = align_words(tokenizer, words, None, sequence_length)
        return f["token_ids"], f["word_index"]

    def serve(text):
        words, byte_starts, byte_ends = splitter.tokenize_with_offsets(text)
        ragged = tf.RaggedTensorSpec([None], tf.int32, ragged_rank=0)
        token_ids, word_index = tf.map_fn(align, words, fn_output_signature=(ragged, ragged))
        features = {"token_ids": token_ids.to_tensor(),
                    "padding_mask": tf.ones_like(token_ids).to_tensor()}
        features["segment_ids"] = tf.zeros_like(features["token_ids"])
        logits = model({k: features[k] for k in _INPUTS}, training=False)
        best = tf.cast(tf.argmax(logits, axis=-1), tf.int32)

        # Each word's tag is its first piece's; words cut off by the length are O.
        index = word_index.to_tensor(default_value=-1)
        previous = tf.pad(index[:, :-1], [[0, 0], [1, 0]], constant_values=-1)
        first = (index >= 0) & (index != previous)
        # Scattered by word index, not packed in order: a word with no pieces (a lone
        # combining accent, a zero-width space) has no first piece and stays O.
        num_words = tf.cast(words.row_lengths(), tf.int32)
        width = tf.reduce_max(tf.concat([num_words, [0]], 0))
        positions = tf.where(first)
        tag_ids = tf.tensor_scatter_nd_update(
            tf.fill(tf.stack([tf.shape(text)[0], width]), outside),
            tf.stack([tf.cast(positions[:, 0], tf.int32), tf.gather_nd(index, positions)], 1),
            tf.gather_nd(best, positions))
        present = tf.sequence_mask(num_words, width)

        # Character offsets of the words, from tensorflow_text's byte offsets.
        char_starts = _chars_before(text, words, byte_starts)
        char_ends = _chars_before(text, words, byte_ends)

        # BIO decoding: an entity starts at B-X, or at I-X not continuing an X entity.
        kind = tf.gather(kind_of, tag_ids)
        previous_kind = tf.pad(kind[:, :-1], [[0, 0], [1, 0]], constant_values=-1)
        starts = (kind >= 0) & ~(tf.gather(is_inside, tag_ids) & (previous_kind == kind))
        continued = tf.pad(((kind >= 0) & ~starts)[:, 1:], [[0, 0], [0, 1]])
        ends = (kind >= 0) & ~continued

        def pick(values, mask, default):
            return tf.ragged.boolean_mask(values, mask).to_tensor(default_value=default)

        byte_start_of = pick(byte_starts.to_tensor(), starts, 0)
        byte_end_of = pick(byte_ends.to_tensor(), ends, 0)
        found = pick(tf.ones_like(kind, tf.bool), starts, False)
        entity_texts = tf.strings.substr(
            tf.broadcast_to(text[:, None], tf.shape(byte_start_of)), byte_start_of,
            byte_end_of - byte_start_of)
        return {
            "tags": tf.where(present, tf.gather(names, tag_ids), ""),
            "word_starts": char_starts.to_tensor(default_value=-1),
            "word_ends": char_ends.to_tensor(default_value=-1),
            "entity_types": tf.gather(kind_names, pick(kind, starts, len(kinds))),
            "entity_starts": pick(char_starts.to_tensor(), starts, -1),
            "entity_ends": pick(char_ends.to_tensor(), ends, -1),
            "entity_texts": tf.where(found, entity_texts, ""),
        }

    return serve, [tf.TensorSpec([None], tf.string, name="text")]


def _chars_before(text, words, byte_offsets):
    """Ragged [N, W]: how many Unicode characters of each sentence precede each offset."""
    sentences = tf.gather(text, words.value_rowids())
    lengths = tf.cast(byte_offsets.flat_values, tf.int32)
    prefixes = tf.strings.substr(sentences, tf.zeros_like(lengths), lengths)
    counts = tf.strings.length(prefixes, unit="UTF8_CHAR")
    return words.with_flat_values(counts)
