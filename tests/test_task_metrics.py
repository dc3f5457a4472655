"""Multi-label and regression metrics, checked on hand-computed cases."""

import numpy as np
import pytest

from tfadapt.evaluation.multilabel import multilabel_report, tune_thresholds
from tfadapt.evaluation.regression import Standardizer, regression_report


def test_multilabel_report():
    y_true = [[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0]]
    y_pred = [[1, 0, 0], [0, 1, 1], [1, 0, 0], [0, 0, 0]]
    report = multilabel_report(y_true, y_pred, ["a", "b", "c"])
    # tp: a 2, b 1, c 0; predicted: a 2, b 1, c 1; support: a 2, b 2, c 1
    assert report["per_label"]["b"] == {"precision": 1.0, "recall": 0.5,
                                        "f1": pytest.approx(2 / 3), "support": 2}
    assert report["micro_f1"] == pytest.approx(2 * 0.75 * 0.6 / 1.35)  # P 3/4, R 3/5
    assert report["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert report["subset_accuracy"] == 0.25  # only the last row is right on every label


def test_thresholds_are_tuned_per_label():
    y_true = np.array([[1, 0], [1, 1], [0, 0], [0, 1]])
    probabilities = np.array([[0.3, 0.9], [0.25, 0.8], [0.1, 0.2], [0.05, 0.6]])
    thresholds = tune_thresholds(y_true, probabilities, candidates=[0.2, 0.5, 0.7])
    assert list(thresholds) == [0.2, 0.5]  # label 0 needs a low threshold; label 1 ties → 0.5
    assert list(tune_thresholds(np.zeros((2, 1)), np.ones((2, 1)))) == [0.5]


def test_regression_report_and_ties_in_spearman():
    report = regression_report([1, 2, 3, 4], [1, 3, 3, 5])
    assert report["rmse"] == pytest.approx(np.sqrt(2 / 4))
    assert report["mae"] == pytest.approx(0.5)
    assert report["pearson"] == pytest.approx(np.corrcoef([1, 2, 3, 4], [1, 3, 3, 5])[0, 1])
    # ranks of the predictions: 1, 2.5, 2.5, 4
    assert report["spearman"] == pytest.approx(np.corrcoef([1, 2, 3, 4], [1, 2.5, 2.5, 4])[0, 1])


def test_standardizer_round_trip():
    scaler = Standardizer.fit([2.0, 4.0, 6.0])
    np.testing.assert_allclose(scaler.transform([2, 4, 6]), [-1.2247449, 0, 1.2247449], atol=1e-6)
    np.testing.assert_allclose(scaler.restore(scaler.transform([3.5])), [3.5])
    assert Standardizer.fit([5, 5]).std == 1.0  # a constant target does not divide by 0
