"""Multi-label metrics and per-label decision thresholds.

Each label is its own yes/no decision on a sigmoid probability. Thresholds are tuned per
label on validation data (the one that maximises that label's F1), since a rare label's
best threshold is usually well below 0.5.
"""

import numpy as np


def tune_thresholds(y_true, probabilities, candidates=None):
    """Per label, the threshold in `candidates` with the best F1 on (y_true, probabilities).

    Ties go to the threshold closest to 0.5; a label with no positive example keeps 0.5.
    """
    y_true = np.asarray(y_true).astype(bool)
    probabilities = np.asarray(probabilities)
    candidates = np.arange(0.05, 0.96, 0.05) if candidates is None else np.asarray(candidates)
    thresholds = np.full(y_true.shape[1], 0.5)
    for j in range(y_true.shape[1]):
        if not y_true[:, j].any():
            continue
        scores = [_f1(y_true[:, j], probabilities[:, j] >= t) for t in candidates]
        best = max(scores)
        ties = [t for t, s in zip(candidates, scores) if s == best]
        thresholds[j] = min(ties, key=lambda t: abs(t - 0.5))
    return thresholds


def multilabel_report(y_true, y_pred, label_names):
    """Micro / macro F1, subset accuracy, and per-label precision / recall / F1 / support."""
    y_true = np.asarray(y_true).astype(bool)
    y_pred = np.asarray(y_pred).astype(bool)
    tp = (y_true & y_pred).sum(0).astype(float)
    predicted = y_pred.sum(0).astype(float)
    support = y_true.sum(0).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp),
                   where=precision + recall > 0)
    micro_p = tp.sum() / predicted.sum() if predicted.sum() else 0.0
    micro_r = tp.sum() / support.sum() if support.sum() else 0.0
    micro_f1 = 2 * micro_p * micro_r / (micro_p + micro_r) if micro_p + micro_r else 0.0
    present = (support > 0) | (predicted > 0)
    return {
        "examples": int(len(y_true)),
        "micro_f1": float(micro_f1),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "subset_accuracy": float((y_true == y_pred).all(1).mean()),
        "per_label": {name: {"precision": float(precision[j]), "recall": float(recall[j]),
                             "f1": float(f1[j]), "support": int(support[j])}
                      for j, name in enumerate(label_names)},
    }


def _f1(truth, predicted):
    tp = (truth & predicted).sum()
    denominator = truth.sum() + predicted.sum()
    return 2 * tp / denominator if denominator else 0.0
