"""Classification metrics from one confusion matrix.

Computed in NumPy from the confusion matrix rather than with `keras.metrics`: one pass
gives every per-class figure, the matrix itself, and the same numbers for the baseline.
"""

import numpy as np


def confusion_matrix(y_true, y_pred, num_classes):
    """matrix[i, j] = number of examples of true class i predicted as class j."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def classification_report(y_true, y_pred, label_names):
    """Accuracy, macro-F1 and per-class precision / recall / F1 / support.

    A class never predicted has precision 0 (and never seen, recall 0), as scikit-learn
    reports with zero_division=0. Macro-F1 averages over the classes that occur in the
    true or predicted labels, as scikit-learn's `f1_score(average="macro")` does without
    `labels=`: a class absent from both (say a `--labels` class with no test example)
    does not count as an F1 of 0.
    """
    matrix = confusion_matrix(y_true, y_pred, len(label_names))
    true_positive = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0)
    support = matrix.sum(axis=1)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive),
                          where=predicted > 0)
    recall = np.divide(true_positive, support, out=np.zeros_like(true_positive), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(true_positive),
                   where=denominator > 0)
    return {
        "examples": int(matrix.sum()),
        "accuracy": float(true_positive.sum() / max(matrix.sum(), 1)),
        "macro_f1": float(f1[(support > 0) | (predicted > 0)].mean()),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]),
                   "f1": float(f1[i]), "support": int(support[i])}
            for i, name in enumerate(label_names)
        },
        "confusion_matrix": {"labels": list(label_names), "matrix": matrix.tolist()},
    }


def majority_baseline(majority, y_true, label_names):
    """The report of always predicting class `majority` (the most frequent training class)."""
    report = classification_report(y_true, np.full(len(y_true), majority), label_names)
    report["predicts"] = label_names[majority]
    return report
