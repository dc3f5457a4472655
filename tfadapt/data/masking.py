"""Masked-LM examples in tf.data: keras-hub's masking, whole-word masking, fixed held-out masks.

keras-hub's `BertMaskedLMPreprocessor` tokenizes, packs `[CLS] text [SEP]`, pads to
`sequence_length` and masks in one call. Here the same steps run apart, in tf.data, so
that texts are tokenized once (and cached), every pass over the training text draws new
masks (dynamic masking, as RoBERTa does), and batches are padded per length bucket
(`pipeline`) rather than to `sequence_length`. The masking is keras-hub's own
`MaskedLMMaskGenerator`, built with the arguments `BertMaskedLMPreprocessor` gives it
(15% of the non-special pieces, of which 80% become [MASK], 10% a random token, 10%
stay), or `WholeWordMasker` below. The model takes only integer tensors.

Held-out text is masked once (`fixed_masks`) and kept as NumPy arrays, so every
evaluation (before training, after each epoch, after training) scores the same positions
and the losses compare.

Example:
>>> masker = build_masker(tokenizer, sequence_length=64, mask_rate=0.15)
>>> ds = training_dataset(texts, preprocessor, masker, 32, (16, 32), seed=42)
>>> features, mask_ids, mask_weights = next(iter(ds))
>>> sorted(features)
['mask_positions', 'padding_mask', 'segment_ids', 'token_ids']
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf

from tfadapt.data.pipeline import AUTOTUNE, bucketed, pad_to_edge, tokenized_dataset

MASK_TOKEN_RATE = 0.8  # of the chosen pieces: [MASK]
RANDOM_TOKEN_RATE = 0.1  # a random token; the remaining 10% stay as they are
_TRAIN_STREAM, _HELDOUT_STREAM = 0, 1  # seed streams: held-out masks never follow training's


def max_predictions(sequence_length, mask_rate):
    """Mask slots per sequence: room for `mask_rate` of the longest text's pieces.

    keras-hub picks `ceil(maskable × rate)` pieces in float32, which can round an exact
    product up by one; floor + 1 always leaves room, so no chosen piece is dropped.
    """
    return int(math.floor((sequence_length - 2) * mask_rate)) + 1


def build_masker(tokenizer, sequence_length, mask_rate, whole_word=False):
    """A function `(token_ids, seed) → masked example dict` for one packed sequence.

    The dict has `token_ids` (masked), and `mask_positions`, `mask_ids` (the original
    pieces there) and `mask_weights` (1 for a real slot, 0 for padding), each of length
    `max_predictions(sequence_length, mask_rate)`.
    """
    slots = max_predictions(sequence_length, mask_rate)
    if whole_word:
        return WholeWordMasker(tokenizer.get_vocabulary(), tokenizer.special_token_ids,
                               tokenizer.mask_token_id, mask_rate, slots)
    return KerasHubMasker(tokenizer, mask_rate, slots)


class KerasHubMasker:
    """keras-hub's `MaskedLMMaskGenerator`, as `BertMaskedLMPreprocessor` builds it.

    Its random draws come from TensorFlow's global seed (tf.text's selectors take no
    seed), so the per-example `seed` is not used.
    """

    def __init__(self, tokenizer, mask_rate, slots):
        import keras_hub

        self.slots = slots
        self.generator = keras_hub.layers.MaskedLMMaskGenerator(
            vocabulary_size=tokenizer.vocabulary_size(), mask_selection_rate=mask_rate,
            mask_token_id=tokenizer.mask_token_id, mask_selection_length=slots,
            unselectable_token_ids=tokenizer.special_token_ids,
            mask_token_rate=MASK_TOKEN_RATE, random_token_rate=RANDOM_TOKEN_RATE)

    def __call__(self, token_ids, seed=None):
        out = self.generator(token_ids)
        return {"token_ids": tf.cast(out["token_ids"], tf.int32),
                "mask_positions": tf.cast(out["mask_positions"], tf.int32),
                "mask_ids": tf.cast(out["mask_ids"], tf.int32),
                "mask_weights": tf.cast(out["mask_weights"], tf.float32)}


class WholeWordMasker:
    """Whole-word masking: every piece of a chosen word is masked, or none of it.

    keras-hub's generator picks pieces independently, so "##ing" can be masked while
    "runn" stays visible, and the model learns to complete words from their own first
    half, an easy guess that says little about context (the point of Google's
    whole-word-masking BERT). keras-hub has no whole-word option, so it is written here,
    in TF ops, to run inside tf.data. A word is a piece that does not start with "##"
    plus the "##" pieces after it; special tokens ([CLS], [SEP], [PAD], [MASK]) are
    never chosen. As in BERT's `create_pretraining_data.py`, a sequence's budget is
    `rate × maskable pieces` (rounded up, as keras-hub does), words are drawn in random
    order, and a word that would overshoot the budget is skipped. Each chosen piece then
    becomes [MASK] (80%), a random token (10%) or stays (10%), as keras-hub does.

    Args:
        vocabulary: the word pieces, in id order.
        special_token_ids: ids that are never masked.
        mask_token_id: the id of [MASK].
        mask_rate: share of the maskable pieces to choose.
        slots: length of `mask_positions` / `mask_ids` / `mask_weights`; the budget never
            exceeds it.

    Example:
    >>> masker = WholeWordMasker(tokenizer.get_vocabulary(), tokenizer.special_token_ids,
    ...                          tokenizer.mask_token_id, mask_rate=0.5, slots=4)
    >>> ids = tokenizer("the tokenization works")  # the token ##ization works
    >>> out = masker(tf.concat([[101], ids, [102]], 0), seed=tf.constant([2, 2], tf.int64))
    >>> out["mask_positions"], out["mask_weights"]  # token + ##ization, never one alone
    (<tf.Tensor: [2, 3, 0, 0]>, <tf.Tensor: [1., 1., 0., 0.]>)
    >>> out["token_ids"]  # [CLS] the [MASK] [MASK] works [SEP]
    <tf.Tensor: [101, 1996, 103, 103, 2573, 102]>
    """

    def __init__(self, vocabulary, special_token_ids, mask_token_id, mask_rate, slots):
        self.vocabulary_size = len(vocabulary)
        self.mask_token_id = mask_token_id
        self.mask_rate = mask_rate
        self.slots = slots
        self.continuation = tf.constant([piece.startswith("##") for piece in vocabulary])
        self.special_token_ids = tf.constant(sorted(set(special_token_ids)), tf.int32)

    def __call__(self, token_ids, seed):
        token_ids = tf.cast(token_ids, tf.int32)
        special = tf.reduce_any(token_ids[:, None] == self.special_token_ids[None, :], axis=1)
        # A "##" piece right after [CLS] (a truncated word) starts a word of its own, so
        # that no word ever contains a special token.
        after_special = tf.concat([[True], special[:-1]], 0)
        starts = special | after_special | ~tf.gather(self.continuation, token_ids)
        word = tf.cumsum(tf.cast(starts, tf.int32)) - 1
        words = word[-1] + 1
        length = tf.math.unsorted_segment_sum(tf.ones_like(word), word, words)
        maskable = tf.math.unsorted_segment_min(tf.cast(~special, tf.int32), word, words) > 0
        # keras-hub's budget; the epsilon keeps an exact product (20 × 0.15) from rounding up.
        count = tf.cast(tf.reduce_sum(tf.cast(~special, tf.int32)), tf.float32)
        budget = tf.minimum(tf.cast(tf.math.ceil(count * self.mask_rate - 1e-4), tf.int32),
                            self.slots)

        draw_order, draw_kind, draw_token = tf.unstack(
            tf.random.experimental.stateless_split(seed, 3))
        order = tf.argsort(tf.where(maskable, tf.random.stateless_uniform([words], draw_order),
                                    2.0))  # special tokens last, never taken
        sizes = tf.gather(tf.where(maskable, length, self.slots + 1), order)
        # Taking a word depends on what the words before it took: a scan, not a cumsum.
        covered = tf.scan(lambda total, size: total + tf.where(total + size <= budget, size, 0),
                          sizes, initializer=tf.constant(0))
        taken = covered > tf.concat([[0], covered[:-1]], 0)
        chosen_words = tf.scatter_nd(order[:, None], tf.cast(taken, tf.int32), [words]) > 0
        positions = tf.cast(tf.where(tf.gather(chosen_words, word))[:, 0], tf.int32)

        originals = tf.gather(token_ids, positions)
        kind = tf.random.stateless_uniform(tf.shape(positions), draw_kind)
        random_ids = tf.random.stateless_uniform(tf.shape(positions), draw_token, minval=0,
                                                 maxval=self.vocabulary_size, dtype=tf.int32)
        replaced = tf.where(kind < MASK_TOKEN_RATE, self.mask_token_id,
                            tf.where(kind < MASK_TOKEN_RATE + RANDOM_TOKEN_RATE, random_ids,
                                     originals))
        pad = [[0, self.slots - tf.size(positions)]]
        return {
            "token_ids": tf.tensor_scatter_nd_update(token_ids, positions[:, None], replaced),
            "mask_positions": tf.ensure_shape(tf.pad(positions, pad), [self.slots]),
            "mask_ids": tf.ensure_shape(tf.pad(originals, pad), [self.slots]),
            "mask_weights": tf.ensure_shape(tf.pad(tf.ones_like(positions, tf.float32), pad),
                                            [self.slots]),
        }


def _masked(ds, masker, seed, stream):
    """Masks each `(features,)` element; element i draws from seed (seed, stream, i)."""
    base = tf.constant([seed, stream], tf.int64)

    def mask(index, example):
        features = example[0]
        out = masker(features["token_ids"],
                     tf.random.experimental.stateless_fold_in(base, index))
        model_inputs = {"token_ids": out["token_ids"], "segment_ids": features["segment_ids"],
                        "padding_mask": features["padding_mask"],
                        "mask_positions": out["mask_positions"]}
        return model_inputs, out["mask_ids"], out["mask_weights"]

    return ds.enumerate().map(mask, num_parallel_calls=AUTOTUNE)


def training_dataset(texts, preprocessor, masker, batch_size, boundaries, seed,
                     pad_to_boundary=False):
    """An endless, shuffled stream of full masked-LM batches, with new masks every pass.

    Elements are `(features, mask_ids, mask_weights)`, which Keras reads as (x, y,
    sample_weight): the loss counts only the real mask slots. `preprocessor` is a
    keras-hub text-classifier preprocessor (tokenizer + packer; its masked-LM sibling
    packs the same way) and `masker` one of `build_masker`. Batches are padded to their
    length bucket (`pipeline`), full batches only.
    """
    ds = tokenized_dataset(texts, preprocessor).cache()
    ds = ds.shuffle(len(texts), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = _masked(ds, masker, seed, _TRAIN_STREAM)
    ds = bucketed(ds, batch_size, boundaries, preprocessor.sequence_length,
                   drop_remainder=True, pad_to_boundary=pad_to_boundary)
    return ds.prefetch(AUTOTUNE)


@dataclasses.dataclass
class FixedMasks:
    """Masked examples drawn once, as NumPy arrays, for evaluations that must compare.

    `features` holds `token_ids`, `segment_ids`, `padding_mask` (padded to the sequence
    length) and `mask_positions`; `mask_ids` and `mask_weights` are the targets.
    """

    features: dict
    mask_ids: np.ndarray
    mask_weights: np.ndarray

    def __len__(self):
        return len(self.mask_ids)

    @property
    def masked_tokens(self):
        return int(self.mask_weights.sum())


def fixed_masks(texts, preprocessor, masker, seed):
    """Tokenizes and masks `texts` once, from `seed`: the held-out set of a run."""
    length = preprocessor.sequence_length
    ds = _masked(tokenized_dataset(texts, preprocessor), masker, seed, _HELDOUT_STREAM)
    padded = ({"token_ids": [length], "segment_ids": [length], "padding_mask": [length],
               "mask_positions": [None]}, [None], [None])
    parts = list(ds.padded_batch(256, padded_shapes=padded).as_numpy_iterator())
    features = {k: np.concatenate([p[0][k] for p in parts]).astype("int32")
                for k in parts[0][0]}
    return FixedMasks(features, np.concatenate([p[1] for p in parts]).astype("int32"),
                      np.concatenate([p[2] for p in parts]).astype("float32"))


def heldout_dataset(fixed, batch_size, boundaries, sequence_length, pad_to_boundary=False,
                    replicas=1):
    """Every held-out example once, with its fixed masks, sorted by length, padded per batch.

    As `pipeline.evaluation_dataset`: sorting keeps padding low and leaves the one partial
    batch last; the first batch splits evenly over the replicas (Keras builds metrics
    from it); a set smaller than `batch_size` is batched in a multiple of `replicas`.
    """
    count = len(fixed)
    order = np.argsort(fixed.features["padding_mask"].sum(1), kind="stable")
    if count < batch_size:
        batch_size = max(replicas, count - count % replicas)
    ds = tf.data.Dataset.from_tensor_slices((
        {k: v[order] for k, v in fixed.features.items()},
        fixed.mask_ids[order], fixed.mask_weights[order]))

    def trim(features, mask_ids, mask_weights):
        length = tf.reduce_sum(features["padding_mask"])
        trimmed = {k: v[:length] if k != "mask_positions" else v for k, v in features.items()}
        return trimmed, mask_ids, mask_weights

    ds = ds.map(trim, num_parallel_calls=AUTOTUNE).padded_batch(batch_size)
    if pad_to_boundary:  # a fixed set of shapes for XLA: pad to the next bucket edge
        edges = tf.constant([b for b in boundaries if b < sequence_length] + [sequence_length])
        ds = ds.map(lambda features, *rest: (
            {**pad_to_edge({k: v for k, v in features.items() if k != "mask_positions"}, edges),
             "mask_positions": features["mask_positions"]}, *rest))
    ds = ds.apply(tf.data.experimental.assert_cardinality(-(-count // batch_size)))
    return ds.cache().prefetch(AUTOTUNE)
