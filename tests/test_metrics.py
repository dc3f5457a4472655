"""Metrics from the confusion matrix, the baseline, and the report files."""

import json

import pytest

from tfadapt.evaluation.metrics import classification_report, majority_baseline
from tfadapt.evaluation.report import format_summary, write_report


def test_report_on_a_hand_checked_example():
    # true:  a a a b b c ; predicted: a a b b c c
    report = classification_report([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], ["a", "b", "c"])
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["confusion_matrix"]["matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    a, b, c = (report["per_class"][k] for k in "abc")
    assert (a["precision"], a["recall"], a["support"]) == (1.0, pytest.approx(2 / 3), 3)
    assert (b["precision"], b["recall"]) == (0.5, 0.5)
    assert (c["precision"], c["recall"], c["f1"]) == (0.5, 1.0, pytest.approx(2 / 3))
    assert report["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_never_predicted_class_has_zero_precision_not_nan():
    report = classification_report([0, 1], [0, 0], ["a", "b"])
    assert report["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_majority_baseline():
    baseline = majority_baseline(1, [0, 1, 1, 1], ["neg", "pos"])
    assert baseline["predicts"] == "pos" and baseline["accuracy"] == 0.75
    assert baseline["macro_f1"] == pytest.approx((0 + 6 / 7) / 2)


def test_report_files_and_summary_table(tmp_path):
    names = ["negative", "positive"]
    report = {"data": "test.csv",
              "model": classification_report([0, 1, 1], [0, 1, 0], names),
              "baseline": majority_baseline(1, [0, 1, 1], names)}
    json_path, png_path = write_report(report, tmp_path / "eval")
    assert json.load(open(json_path))["model"]["confusion_matrix"]["matrix"] == [[1, 0], [1, 1]]
    with open(png_path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    table = format_summary(report, {"report": json_path})
    assert "macro-F1" in table and "F1 positive" in table and "majority baseline" in table
    assert "0.667" in table  # accuracy of the model
