"""Keras metrics that tfadapt's heads need and Keras does not have as such.

They are computed per batch during `fit` (for the progress log, early stopping and the
best checkpoint); the reports after training are computed in NumPy
(`tfadapt/evaluation/`).
"""

import keras


class SigmoidF1Score(keras.metrics.F1Score):
    """Keras' F1Score for a multi-label head that outputs logits: sigmoid, then threshold."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(y_true, keras.ops.sigmoid(y_pred), sample_weight)


class MaskedTokenAccuracy(keras.metrics.Mean):
    """Accuracy over the positions whose label is not `ignore` (-1: [CLS], [SEP], pad,
    and word pieces after a word's first)."""

    def __init__(self, ignore=-1, name="token_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.ignore = ignore

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = keras.ops.cast(y_true, "int32")
        counted = keras.ops.cast(keras.ops.not_equal(y_true, self.ignore), "float32")
        correct = keras.ops.cast(
            keras.ops.equal(keras.ops.cast(keras.ops.argmax(y_pred, axis=-1), "int32"), y_true),
            "float32")
        super().update_state(correct, sample_weight=counted)

    def get_config(self):
        return {**super().get_config(), "ignore": self.ignore}
