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


def tokenized_dataset(texts, preprocessor, targets=None, sample_weights=None):
    """Unbatched examples `(features, target[, sample_weight])`, padding trimmed off.

    `preprocessor` is a keras-hub text-classifier preprocessor (tokenizer + packer that
    adds [CLS]/[SEP] and truncates to its `sequence_length`). It pads to that length;
    the padding is cut here so that batching can pad per batch instead.
    """
    columns = (tf.constant(texts, tf.string),)
    if targets is not None:
        columns += (np.asarray(targets),)
    if sample_weights is not None:
        columns += (np.asarray(sample_weights, "float32"),)
    ds = tf.data.Dataset.from_tensor_slices(columns)
    ds = ds.batch(_TOKENIZE_BATCH).map(
        lambda text, *rest: (preprocessor(text), *rest), num_parallel_calls=AUTOTUNE)
    return ds.unbatch().map(_trim_padding, num_parallel_calls=AUTOTUNE)


def _trim_padding(features, *rest):
    length = tf.reduce_sum(tf.cast(features["padding_mask"], tf.int32))
    trimmed = {
        "token_ids": features["token_ids"][:length],
        "segment_ids": features["segment_ids"][:length],
        "padding_mask": tf.ones([length], tf.int32),
    }
    return (trimmed, *rest)


def _bucketed(ds, batch_size, boundaries, sequence_length, drop_remainder, pad_to_boundary):
    # Bucket i holds lengths in [edges[i-1], edges[i]); an edge of b+1 makes a bucket
    # whose longest sequence is b tokens.
    edges = [b + 1 for b in boundaries if b < sequence_length] + [sequence_length + 1]
    return ds.bucket_by_sequence_length(
        element_length_func=lambda features, *_: tf.shape(features["token_ids"])[0],
        bucket_boundaries=edges,
        bucket_batch_sizes=[batch_size] * (len(edges) + 1),
        drop_remainder=drop_remainder,
        pad_to_bucket_boundary=pad_to_boundary,
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
    ds = tokenized_dataset(texts, preprocessor, targets, sample_weights).cache()
    ds = ds.shuffle(len(texts), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = _bucketed(ds, batch_size, boundaries, preprocessor.sequence_length,
                   drop_remainder=True, pad_to_boundary=pad_to_boundary)
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
    parts = list(tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string))
                 .batch(_TOKENIZE_BATCH).map(preprocessor).as_numpy_iterator())
    features = {k: np.concatenate([part[k] for part in parts]).astype("int32")
                for k in ("token_ids", "segment_ids", "padding_mask")}
    order = np.argsort(features["padding_mask"].sum(1), kind="stable")
    if len(texts) < batch_size:
        batch_size = max(replicas, len(texts) - len(texts) % replicas)
    ds = tf.data.Dataset.from_tensor_slices(
        ({k: v[order] for k, v in features.items()}, np.asarray(targets)[order]))
    ds = ds.map(_trim_padding, num_parallel_calls=AUTOTUNE).padded_batch(batch_size)
    if pad_to_boundary:  # a fixed set of shapes for XLA: pad to the next bucket edge
        edges = tf.constant([b for b in boundaries if b < preprocessor.sequence_length]
                            + [preprocessor.sequence_length])
        ds = ds.map(lambda features, *rest: (_pad_to(features, edges), *rest))
    batches = -(-len(texts) // batch_size)
    ds = ds.apply(tf.data.experimental.assert_cardinality(batches))
    return ds.cache().prefetch(AUTOTUNE)


def _pad_to(features, edges):
    length = tf.shape(features["token_ids"])[1]
    width = tf.gather(edges, tf.reduce_min(tf.where(edges >= length)))
    return {k: tf.pad(v, [[0, 0], [0, width - length]]) for k, v in features.items()}


def predict(model, texts, preprocessor, batch_size, boundaries):
    """Model outputs for `texts`, in the order of `texts`, computed in length buckets."""
    ds = evaluation_dataset(texts, np.arange(len(texts)), preprocessor, batch_size, boundaries)
    outputs = None
    for features, index in ds:
        batch = np.asarray(model.predict_on_batch(features))
        if outputs is None:
            outputs = np.zeros((len(texts),) + batch.shape[1:], batch.dtype)
        outputs[index.numpy()] = batch
    return outputs
