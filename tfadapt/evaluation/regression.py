"""Regression metrics, and the target standardisation a regression head trains on."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Standardizer:
    """Maps targets to zero mean and unit variance (fit on training data) and back.

    A regression head trains on standardised targets, so the loss and the learning rate
    mean the same whatever the target's scale (ratings 1–10 or prices in thousands).
    """

    mean: float
    std: float

    @classmethod
    def fit(cls, values):
        values = np.asarray(values, dtype=np.float64)
        std = float(values.std())
        return cls(float(values.mean()), std if std > 0 else 1.0)

    def transform(self, values):
        return (np.asarray(values, dtype=np.float64) - self.mean) / self.std

    def restore(self, values):
        return np.asarray(values, dtype=np.float64) * self.std + self.mean

    def save(self, path):
        import json

        with open(path, "w") as f:
            json.dump({"target": {"mean": self.mean, "std": self.std}}, f, indent=2)

    @classmethod
    def load(cls, path):
        import json

        with open(path) as f:
            target = json.load(f)["target"]
        return cls(target["mean"], target["std"])


def regression_report(y_true, y_pred):
    """RMSE, MAE, Pearson's r and Spearman's ρ (Pearson's r of the ranks, ties averaged)."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    error = y_pred - y_true
    return {"examples": int(len(y_true)),
            "rmse": float(np.sqrt(np.mean(error ** 2))),
            "mae": float(np.mean(np.abs(error))),
            "pearson": _pearson(y_true, y_pred),
            "spearman": _pearson(_ranks(y_true), _ranks(y_pred))}


def _pearson(a, b):
    if np.ptp(a) == 0 or np.ptp(b) == 0:  # a constant has no correlation (not 1e-16)
        return 0.0
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a ** 2).sum() * (b ** 2).sum())
    return float((a * b).sum() / denominator) if denominator else 0.0


def _ranks(values):
    """Ranks from 1, ties given their average rank (as scipy.stats.rankdata does)."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):
        tied = values == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks
