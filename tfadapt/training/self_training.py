"""Self-training on unlabeled domain text: which teacher predictions become labels.

A teacher fine-tuned on the labeled (source) data predicts class probabilities for the
unlabeled target texts; the confident ones join the training data of a student. Two
ways to choose them:

- `threshold`: every text whose top probability reaches it. Simple, but a teacher that
  is biased towards one class fills the pseudo-labels with that class.
- `top_fraction`: per class, the most confident texts predicted as that class, at most
  `top_fraction × texts / classes` of them, so the pseudo-labels stay class-balanced
  (a class the teacher rarely predicts gives what it has).

This module holds the selection (NumPy, no TensorFlow); the rounds of teacher → student
are run by `training/adaptation.py`.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class PseudoLabels:
    """The chosen texts: their indices into the unlabeled texts, the predicted class,
    the teacher's probability of it, and the full probability rows (soft labels)."""

    indices: np.ndarray
    classes: np.ndarray
    confidence: np.ndarray
    probabilities: np.ndarray

    def __len__(self):
        return len(self.indices)

    def class_counts(self, num_classes):
        return np.bincount(self.classes, minlength=num_classes).tolist()


def select_pseudo_labels(probabilities, threshold=None, top_fraction=None):
    """The pseudo-labels among `probabilities` [texts, classes], by one of the two rules.

    Example:
    >>> p = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.95, 0.05]])
    >>> select_pseudo_labels(p, threshold=0.85).indices.tolist()
    [0, 3]
    >>> select_pseudo_labels(p, top_fraction=0.5).indices.tolist()  # one per class
    [2, 3]
    """
    if (threshold is None) == (top_fraction is None):
        raise ValueError("give exactly one of threshold and top_fraction")
    probabilities = np.asarray(probabilities, dtype=np.float64)
    classes = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    if threshold is not None:
        chosen = np.flatnonzero(confidence >= threshold)
    else:
        per_class = int(top_fraction * len(probabilities) / probabilities.shape[1])
        chosen = []
        for c in range(probabilities.shape[1]):
            members = np.flatnonzero(classes == c)
            # Most confident first; ties keep the texts' order (a stable sort).
            ranked = members[np.argsort(-confidence[members], kind="stable")]
            chosen.extend(ranked[:per_class].tolist())
        chosen = np.sort(np.asarray(chosen, dtype=np.int64))
    return PseudoLabels(chosen, classes[chosen], confidence[chosen], probabilities[chosen])
