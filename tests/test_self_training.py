"""Choosing pseudo-labels from a teacher's probabilities."""

import dataclasses

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


def write_pseudo(path, rows):
    import json

    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return str(path)


PSEUDO = [{"text": "loved every minute", "label": "positive", "confidence": 0.8,
           "probabilities": {"negative": 0.1, "neutral": 0.1, "positive": 0.8}},
          {"text": "a dull mess", "label": "negative", "confidence": 0.9,
           "probabilities": {"negative": 0.9, "neutral": 0.06, "positive": 0.04}}]


@pytest.mark.parametrize("soft", [False, True])
def test_students_learn_labeled_and_pseudo_labeled_text(tmp_path, review_files, soft):
    from tfadapt.config import TrainConfig
    from tfadapt.tasks import get_task

    config = TrainConfig(train_data=review_files["train"], preset="p", model_dir="m",
                         pseudo_labels=write_pseudo(tmp_path / "p.jsonl", PSEUDO),
                         soft_pseudo_labels=soft, augment_copies=1)
    task = get_task("classification")
    inputs = task.read_inputs(config, log=lambda line: None)
    assert len(inputs.validation) == 5  # labeled only: the split comes first
    assert not set(inputs.validation.texts) & {row["text"] for row in PSEUDO}
    assert len(inputs.train) == 2 * (43 + 2)  # EDA copies of pseudo-labeled text too
    targets = task.targets(inputs.train, inputs.labels)
    at = inputs.train.texts.index("a dull mess")
    assert inputs.train.sources[at].endswith("p.jsonl:2 (pseudo-labeled)")
    assert targets[at].tolist() == pytest.approx([0.9, 0.06, 0.04] if soft else [1, 0, 0])
    copy = inputs.train.sources.index(inputs.train.sources[at] + " (augmented)")
    assert targets[copy].tolist() == targets[at].tolist()
    labeled = targets[:43]
    assert set(labeled.ravel().tolist()) == {0.0, 1.0}  # labeled rows stay one-hot


@pytest.mark.parametrize("row, message", [
    ("{not json", r"p.jsonl:1: expected a JSON object with text, label and probabilities"),
    ({"text": "ok", "label": "mixed", "probabilities": {"mixed": 1.0}},
     r"p.jsonl:1: labels must be the run's \(negative, positive\)"),
    ({"text": " ", "label": "positive", "probabilities": {"negative": 0, "positive": 1}},
     r"p.jsonl:1: empty text"),
])
def test_a_bad_pseudo_label_file_names_its_line(tmp_path, row, message):
    from tfadapt.errors import UserError
    from tfadapt.training.self_training import read_pseudo_labels

    with pytest.raises(UserError, match=message):
        read_pseudo_labels(write_pseudo(tmp_path / "p.jsonl", [row]), ["negative", "positive"])


def test_pseudo_label_file_is_left_alone_when_unchanged(tmp_path):
    import os

    from tfadapt.training.self_training import read_pseudo_labels, write_pseudo_labels

    p = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    chosen = select_pseudo_labels(p, threshold=0.65)
    path = str(tmp_path / "p.jsonl")
    write_pseudo_labels(path, ["a", "b", "c"], chosen, ["neg", "pos"])
    os.utime(path, (1, 1))
    write_pseudo_labels(path, ["a", "b", "c"], chosen, ["neg", "pos"])
    assert os.path.getmtime(path) == 1  # same labels: the students need not train again
    nearly = dataclasses.replace(chosen, probabilities=chosen.probabilities + 5e-5)
    write_pseudo_labels(path, ["a", "b", "c"], nearly, ["neg", "pos"])
    assert os.path.getmtime(path) == 1  # inference noise is not a change
    examples = read_pseudo_labels(path, ["neg", "pos"], soft=True)
    assert examples.texts == ["a", "b"] and examples.labels == ["neg", "pos"]
    assert examples.soft == [[0.9, 0.1], [0.3, 0.7]]
    write_pseudo_labels(path, ["a", "b", "c"], select_pseudo_labels(p, threshold=0.5),
                        ["neg", "pos"])
    assert os.path.getmtime(path) > 1


def test_student_config_adds_noise_and_pseudo_labels():
    from tfadapt.config import TrainConfig
    from tfadapt.training.self_training import SelfTraining, student_config

    base = TrainConfig(train_data="t.csv", preset="p", model_dir="m", export_dir="e")
    student = student_config(base, SelfTraining(soft=True, eda_copies=2), "root", 2)
    assert student.model_dir == "root/round_2/student" and student.export_dir is None
    assert student.pseudo_labels == "root/round_2/pseudo_labels.jsonl"
    assert student.soft_pseudo_labels and student.augment_copies == 2 and student.dropout > 0
