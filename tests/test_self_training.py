"""Choosing pseudo-labels from a teacher's probabilities."""

import numpy as np
import pytest

from tfadapt.training.self_training import select_pseudo_labels


def teacher_probabilities(seed=0, texts=300):
    """A teacher biased towards class 0: most of its confident predictions are class 0."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(texts, 3)) + np.array([1.5, 0.0, -0.5])
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True)


def test_threshold_keeps_every_confident_prediction():
    p = teacher_probabilities()
    chosen = select_pseudo_labels(p, threshold=0.7)
    assert np.all(p[chosen.indices].max(1) >= 0.7)
    assert np.all(np.delete(p, chosen.indices, axis=0).max(1) < 0.7)
    assert chosen.classes.tolist() == p[chosen.indices].argmax(1).tolist()
    counts = chosen.class_counts(3)
    assert counts[0] > 3 * counts[2]  # the teacher's bias passes straight through


def test_top_fraction_balances_the_classes_with_the_most_confident():
    p = teacher_probabilities()
    chosen = select_pseudo_labels(p, top_fraction=0.3)  # 30 per class at most
    counts = chosen.class_counts(3)
    assert counts[0] == counts[1] == 30 and 0 < counts[2] <= 30
    for c in range(3):
        predicted = np.flatnonzero(p.argmax(1) == c)
        kept = set(chosen.indices[chosen.classes == c].tolist())
        left = [i for i in predicted if i not in kept]
        if left:  # every kept text is at least as confident as every one left out
            assert min(p[list(kept), c]) >= max(p[left, c])
    np.testing.assert_allclose(chosen.probabilities.sum(1), 1.0)
    assert chosen.indices.tolist() == sorted(chosen.indices.tolist())


def test_exactly_one_rule():
    with pytest.raises(ValueError, match="exactly one"):
        select_pseudo_labels(np.eye(2), threshold=0.5, top_fraction=0.5)
