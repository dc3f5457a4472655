"""Evaluate a classifier on labeled examples, beside the majority-class baseline."""

import numpy as np

from tfadapt.data import pipeline
from tfadapt.evaluation.metrics import classification_report, majority_baseline


def evaluate_classifier(model, preprocessor, examples, label_map, batch_size=64,
                        boundaries=(32, 64, 128, 256)):
    """The evaluation report of `model` on `examples`.

    Returns a dict with "data" (where the examples came from), "model" and "baseline"
    (see `metrics.classification_report`); the baseline always predicts the most
    frequent training label, `label_map.majority`.
    """
    label_map.check(examples)
    y_true = np.asarray(label_map.ids(examples.labels))
    logits = pipeline.predict(model, examples.texts, preprocessor, batch_size, boundaries)
    majority = label_map.ids([label_map.majority])[0]
    return {
        "data": examples.name,
        "model": classification_report(y_true, logits.argmax(axis=-1), label_map.names),
        "baseline": majority_baseline(majority, y_true, label_map.names),
    }
