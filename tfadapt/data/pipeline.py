"""tf.data pipelines: tokenize with the keras-hub preprocessor, then batch by length.

Tokenization runs here, in tf.data, not inside the model: the model then takes only
integer tensors, which is what a TPU needs and what MirroredStrategy needs (a bool
`padding_mask` inside a distributed `fit` breaks Keras' cross-replica averaging).

Batches are padded to the longest sequence in a length bucket, not to
`sequence_length` ("dynamic padding"): on a CPU every pad token costs as much as a real
one, so short texts should not pay for long ones.
"""

import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE
_TOKENIZE_BATCH = 256


class PadMeter:
    """Counts real and padded token slots in the batches a pipeline produces.

    The counters are updated inside tf.data; `fraction()` is the share of pad tokens
    since the last `reset()`. With prefetching, batches prepared for the next epoch can
    be counted a few batches early.
    """

    def __init__(self):
        with tf.init_scope():
            self.real = tf.Variable(0, dtype=tf.int64, trainable=False)
            self.total = tf.Variable(0, dtype=tf.int64, trainable=False)

    def count(self, features, *rest):
        mask = tf.cast(features["padding_mask"], tf.int64)
        with tf.control_dependencies([self.real.assign_add(tf.reduce_sum(mask)),
                                      self.total.assign_add(tf.size(mask, out_type=tf.int64))]):
            features = {k: tf.identity(v) for k, v in features.items()}
        return (features, *rest)

    def reset(self):
        self.real.assign(0)
        self.total.assign(0)

    def fraction(self):
        total = int(self.total.numpy())
        return 1.0 - int(self.real.numpy()) / total if total else 0.0


def _strings(texts):
    """A string tensor of `texts`, or a tuple of two for text pairs `(texts, pairs)`."""
    if isinstance(texts, tuple):
        return tuple(tf.constant(t, tf.string) for t in texts)
    return tf.constant(texts, tf.string)


def _count(texts):
    return len(texts[0]) if isinstance(texts, tuple) else len(texts)


def _preprocess(preprocessor):
    # tf.data unpacks a pair's tuple into two arguments; the preprocessor takes one tuple,
    # as `x=`: a positional tuple is read as (x, y), which drops the second text.
    return lambda *segments: preprocessor(x=segments if len(segments) > 1 else segments[0])


def tokenized_dataset(texts, preprocessor, targets=None, sample_weights=None):
    """Unbatched examples `(features, target[, sample_weight])`, padding trimmed off.

    `preprocessor` is a keras-hub text-classifier preprocessor (tokenizer + packer that
    adds [CLS]/[SEP] and truncates to its `sequence_length`). It pads to that length;
    the padding is cut here so that batching can pad per batch instead. `texts` is a
    list of strings, or a tuple `(texts, pairs)` for text pairs, which the packer joins
    as `[CLS] text [SEP] pair [SEP]` with segment ids 0 and 1.
    """
    columns = (_strings(texts),)
    if targets is not None:
        columns += (np.asarray(targets),)
    if sample_weights is not None:
        columns += (np.asarray(sample_weights, "float32"),)
    ds = tf.data.Dataset.from_tensor_slices(columns)
    ds = ds.batch(_TOKENIZE_BATCH).map(
        lambda text, *rest: (_preprocess(preprocessor)(*_as_tuple(text)), *rest),
        num_parallel_calls=AUTOTUNE)
    return ds.unbatch().map(_trim_padding, num_parallel_calls=AUTOTUNE)


def _as_tuple(text):
    return text if isinstance(text, tuple) else (text,)


def _trim_padding(features, *rest):
    length = tf.reduce_sum(tf.cast(features["padding_mask"], tf.int32))
    trimmed = {
        "token_ids": features["token_ids"][:length],
        "segment_ids": features["segment_ids"][:length],
        "padding_mask": tf.ones([length], tf.int32),
    }
    return (trimmed, *rest)


def bucketed(ds, batch_size, boundaries, sequence_length, drop_remainder, pad_to_boundary,
             padding_values=None):
    """Batches of trimmed examples grouped by length, each padded to its longest member
    (or, with `pad_to_boundary`, to its bucket's edge)."""
    # Bucket i holds lengths in [edges[i-1], edges[i]); an edge of b+1 makes a bucket
    # whose longest sequence is b tokens.
    edges = [b + 1 for b in boundaries if b < sequence_length] + [sequence_length + 1]
    return ds.bucket_by_sequence_length(
        element_length_func=lambda features, *_: tf.shape(features["token_ids"])[0],
        bucket_boundaries=edges,
        bucket_batch_sizes=[batch_size] * (len(edges) + 1),
        drop_remainder=drop_remainder,
        pad_to_bucket_boundary=pad_to_boundary,
        padding_values=padding_values,
    )


def training_dataset(texts, targets, preprocessor, batch_size, boundaries, seed,
                     pad_meter=None, pad_to_boundary=False, sample_weights=None):
    """An endless, shuffled stream of full, length-bucketed training batches.

    It repeats so that `fit(steps_per_epoch=…)` sees the same number of steps every
    epoch (a progress bar with a total, one compiled shape set on TPU). Full batches
    only: a partial batch would cost another trace and breaks even splits over replicas.
    `pad_to_boundary` pads to the bucket's edge, giving a fixed set of shapes (for XLA).
    `sample_weights` (one per example, e.g. its class weight) makes the batches
    `(features, targets, weights)`, which Keras applies to the loss: Keras' own
    `class_weight` argument is not supported for every dataset in every version.
    """
    ds = tokenized_dataset(texts, preprocessor, targets, sample_weights)
    return batched_for_training(ds, _count(texts), batch_size, boundaries,
                                preprocessor.sequence_length, seed, pad_meter, pad_to_boundary)


def batched_for_training(ds, count, batch_size, boundaries, sequence_length, seed,
                         pad_meter=None, pad_to_boundary=False, per_token=False):
    """`training_dataset` of unbatched, trimmed `(features, target[, weight])` examples.

    With `per_token`, targets are per position like the features and are padded with
    -1 ("ignore"; token classification).
    """
    padding_values = None
    if per_token:
        padding_values = ({k: 0 for k in ("token_ids", "segment_ids", "padding_mask")}, -1)
    ds = ds.cache().shuffle(count, seed=seed, reshuffle_each_iteration=True).repeat()
    ds = bucketed(ds, batch_size, boundaries, sequence_length, drop_remainder=True,
                   pad_to_boundary=pad_to_boundary, padding_values=padding_values)
    if pad_meter is not None:
        ds = ds.map(pad_meter.count)
    return ds.prefetch(AUTOTUNE)


def evaluation_dataset(texts, targets, preprocessor, batch_size, boundaries,
                       pad_to_boundary=False, replicas=1):
    """Every example once, sorted by length and padded per batch.

    Sorting puts texts of similar length together (as little padding as bucketing, with
    no partial batch per bucket) and leaves the one partial batch last. The first batch
    must split evenly over the replicas: under a tf.distribute strategy Keras averages
    the first batch's replicas to build the metrics (`_maybe_symbolic_build`), which
    fails on replicas of different sizes. A set smaller than `batch_size` is therefore
    batched in a multiple of `replicas`.
    """
    # Tokenized once, in batches; sorting needs every length before the first batch.
    parts = list(tf.data.Dataset.from_tensor_slices(_strings(texts))
                 .batch(_TOKENIZE_BATCH).map(_preprocess(preprocessor)).as_numpy_iterator())
    features = {k: np.concatenate([part[k] for part in parts]).astype("int32")
                for k in ("token_ids", "segment_ids", "padding_mask")}
    return sorted_batches(features, targets, batch_size, boundaries, preprocessor.sequence_length,
                          pad_to_boundary, replicas)


def sorted_batches(features, targets, batch_size, boundaries, sequence_length,
                   pad_to_boundary=False, replicas=1, per_token=False):
    """`evaluation_dataset` of tokenized features padded to `sequence_length` (NumPy).

    `targets` are per example or, with `per_token`, per position like the features
    (token classification; padded with -1, "ignore").
    """
    count = len(features["token_ids"])
    order = np.argsort(features["padding_mask"].sum(1), kind="stable")
    if count < batch_size:
        batch_size = max(replicas, count - count % replicas)
    targets = np.asarray(targets)[order]
    ds = tf.data.Dataset.from_tensor_slices(({k: v[order] for k, v in features.items()}, targets))
    ds = ds.map(_trim_padding, num_parallel_calls=AUTOTUNE)
    if per_token:  # cut the per-token targets like the features; pad with "ignore" (-1)
        ds = ds.map(lambda f, t: (f, t[:tf.shape(f["token_ids"])[0]]))
        ds = ds.padded_batch(batch_size, padding_values=({k: 0 for k in features}, -1))
    else:
        ds = ds.padded_batch(batch_size)
    if pad_to_boundary:  # a fixed set of shapes for XLA: pad to the next bucket edge
        edges = tf.constant([b for b in boundaries if b < sequence_length] + [sequence_length])

        def pad(batch, target):
            if per_token:
                length = tf.shape(batch["token_ids"])[1]
                target = pad_to_edge({"token_ids": target}, edges, -1, length)["token_ids"]
            return pad_to_edge(batch, edges), target

        ds = ds.map(pad)
    batches = -(-count // batch_size)
    ds = ds.apply(tf.data.experimental.assert_cardinality(batches))
    return ds.cache().prefetch(AUTOTUNE)


def pad_to_edge(features, edges, value=0, length=None):
    """Pads a batch's features (and their `length`) to the next of the bucket `edges`."""
    length = tf.shape(features["token_ids"])[1] if length is None else length
    width = tf.gather(edges, tf.reduce_min(tf.where(edges >= length)))
    return {k: tf.pad(v, [[0, 0], [0, width - length]], constant_values=value)
            for k, v in features.items()}


def predict(model, texts, preprocessor, batch_size, boundaries):
    """Model outputs for `texts` (or `(texts, pairs)`), in their order, in length buckets."""
    ds = evaluation_dataset(texts, np.arange(_count(texts)), preprocessor, batch_size, boundaries)
    return predict_batches(model, ds, _count(texts))


def predict_batches(model, ds, count):
    """Outputs of `model` on `(features, index)` batches, put back in index order.

    Per-token outputs of batches padded to different lengths are padded to the longest.
    """
    # The model is called directly, not through `predict_on_batch`: under a
    # MirroredStrategy that returned twice the rows of a batch smaller than the global
    # batch size (seen with TF 2.21 / Keras 3).
    batches = [(np.asarray(model(features, training=False)), index.numpy())
               for features, index in ds]
    width = max(b.shape[1] for b, _ in batches) if batches[0][0].ndim == 3 else None
    shape = (count,) + ((width,) if width else ()) + batches[0][0].shape[2 if width else 1:]
    outputs = np.zeros(shape, batches[0][0].dtype)
    for batch, index in batches:
        outputs[(index, slice(0, batch.shape[1])) if width else index] = batch
    return outputs
