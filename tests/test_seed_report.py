"""The seed report: mean ± std per method, the spread rule, the chosen model, the files."""

import json
import os

import pytest

from tfadapt.training.seed_report import format_table, summarize, write_report

METHODS = ["none", "dapt", "tapt"]


def run(method, seed, test=None, validation=0.5, status="finished", error=None):
    finished = status == "finished"
    return {"method": method, "seed": seed, "status": status, "error": error,
            "validation": validation if finished else None,
            "test": (test or {}) if finished else {},
            "model_dir": f"/models/{method}/{seed}" if finished else None}


def runs_of(values, test_set="test", validation=None):
    """{method: [value per seed]} → runs with seeds 1, 2, …"""
    return [run(m, s, {test_set: v}, (validation or {}).get(m, {}).get(s, 0.5))
            for m, vs in values.items() for s, v in enumerate(vs, start=1)]


def row(report, method, test_set="test"):
    return next(r for r in report["rows"] if r["method"] == method and r["test_set"] == test_set)


def test_mean_std_difference_and_spread():
    report = summarize(runs_of({"none": [0.70, 0.72, 0.74], "dapt": [0.78, 0.80, 0.82],
                                "tapt": [0.71, 0.73, 0.75]}), METHODS, "macro_f1", False)
    none, dapt, tapt = (row(report, m) for m in METHODS)
    assert none["n"] == 3 and none["values"] == {"1": 0.70, "2": 0.72, "3": 0.74}
    assert none["mean"] == pytest.approx(0.72) and none["std"] == pytest.approx(0.02)
    assert none["difference"] is None and none["exceeds_spread"] is None
    assert none["gain"] is None
    # 0.08 > 0.02 + 0.02: beyond the spread, and higher is better → a gain.
    assert dapt["difference"] == pytest.approx(0.08)
    assert dapt["exceeds_spread"] is True and dapt["gain"] is True
    # 0.01 < 0.04: within the seed spread.
    assert tapt["difference"] == pytest.approx(0.01)
    assert tapt["exceeds_spread"] is False and tapt["gain"] is False
    assert report["seeds"] == [1, 2, 3] and report["test_sets"] == ["test"]


def test_lower_is_better():
    report = summarize(runs_of({"none": [1.0, 1.1, 1.2], "dapt": [0.6, 0.7, 0.8],
                                "tapt": [1.5, 1.6, 1.7]}), METHODS, "rmse", True)
    assert row(report, "dapt")["difference"] == pytest.approx(-0.4)
    assert row(report, "dapt")["exceeds_spread"] is True and row(report, "dapt")["gain"] is True
    assert row(report, "tapt")["exceeds_spread"] is True and row(report, "tapt")["gain"] is False
    table = format_table(report)
    assert "yes (gain)" in table and "yes (loss)" in table
    assert "a negative difference is a gain" in table


def test_one_seed_has_no_std_and_no_verdict():
    report = summarize(runs_of({"none": [0.70, 0.72, 0.74], "dapt": [0.712]}),
                       METHODS, "macro_f1", False)
    dapt = row(report, "dapt")
    assert dapt["n"] == 1 and dapt["std"] is None and dapt["exceeds_spread"] is None
    assert dapt["difference"] == pytest.approx(-0.008) and dapt["gain"] is None
    tapt = row(report, "tapt")  # no run at all: still a row
    assert tapt["n"] == 0 and tapt["mean"] is None and tapt["difference"] is None
    table = format_table(report)
    assert "| dapt | 0.712 (n=1) | -0.008 | — |" in table


def test_failed_runs_are_listed_and_left_out_of_means():
    runs = runs_of({"none": [0.70, 0.72, 0.74], "dapt": [0.80, 0.82]})
    runs.append(run("dapt", 3, status="failed", error="ResourceExhaustedError: OOM"))
    report = summarize(runs, METHODS, "macro_f1", False)
    assert report["failed"] == [{"method": "dapt", "seed": 3,
                                 "error": "ResourceExhaustedError: OOM"}]
    dapt = row(report, "dapt")
    assert dapt["n"] == 2 and dapt["mean"] == pytest.approx(0.81)
    assert report["validation"]["dapt"]["n"] == 2
    assert "dapt seed 3 (ResourceExhaustedError: OOM)" in format_table(report)


def test_test_sets_in_order_with_test_first():
    runs = [run("none", 1, {"other": 0.5, "test": 0.6}), run("dapt", 1, {"third": 0.4})]
    report = summarize(runs, ["none", "dapt"], "macro_f1", False)
    assert report["test_sets"] == ["test", "other", "third"]
    assert row(report, "dapt", "test")["n"] == 0


def test_chosen_by_mean_validation_then_best_seed():
    validation = {"none": {1: 0.90, 2: 0.60, 3: 0.60},   # mean 0.70, best single seed
                  "dapt": {1: 0.74, 2: 0.76, 3: 0.76},   # mean 0.753: chosen
                  "tapt": {1: 0.75, 2: 0.75, 3: 0.75}}
    runs = runs_of({m: [0.7, 0.7, 0.7] for m in METHODS}, validation=validation)
    chosen = summarize(runs, METHODS, "macro_f1", False)["chosen"]
    # seeds 2 and 3 tie on validation: the smaller seed wins.
    assert chosen == {"method": "dapt", "seed": 2, "model_dir": "/models/dapt/2",
                      "validation": 0.76}
    chosen = summarize(runs, METHODS, "rmse", True)["chosen"]  # lower is better
    assert (chosen["method"], chosen["seed"]) == ("none", 2)


def test_chosen_ties_go_to_the_earlier_method_and_skip_missing_validation():
    validation = {m: {1: 0.8, 2: 0.6} for m in METHODS}
    runs = runs_of({m: [0.7, 0.7] for m in METHODS}, validation=validation)
    report = summarize(runs, ["tapt", "none", "dapt"], "macro_f1", False)
    assert (report["chosen"]["method"], report["chosen"]["seed"]) == ("tapt", 1)
    for r in runs:
        if r["method"] != "dapt":
            r["validation"] = None
    assert summarize(runs, METHODS, "macro_f1", False)["chosen"]["method"] == "dapt"


def test_nothing_finished():
    runs = [run(m, 1, status="failed", error="boom") for m in METHODS]
    report = summarize(runs, METHODS, "macro_f1", False)
    assert report["chosen"] is None and report["rows"] == [] and len(report["failed"]) == 3
    assert "nothing to export" in format_table(report)


def test_write_report(tmp_path):
    report = summarize(runs_of({"none": [0.70, 0.72, 0.74], "dapt": [0.78, 0.80, 0.82]})
                       + runs_of({"none": [0.6, 0.62], "dapt": [0.5, 0.7]}, "reviews_again"),
                       ["none", "dapt"], "macro_f1", False)
    paths = write_report(report, str(tmp_path))
    assert paths == {"report": str(tmp_path / "seeds.md"), "json": str(tmp_path / "seeds.json"),
                     "plot": str(tmp_path / "seeds.png")}
    with open(paths["json"]) as f:
        assert json.load(f) == report
    with open(paths["report"]) as f:
        text = f.read()
    assert text.startswith("# Adaptation over seeds (macro_f1)")
    assert "| test | none | 0.720 ± 0.020 (n=3) | — | — |" in text
    assert "| test | dapt | 0.800 ± 0.020 (n=3) | +0.080 | yes (gain) |" in text
    assert "beyond seed spread: |difference| > std(method) + std(none)" in text
    with open(paths["plot"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path)) == ["seeds.json", "seeds.md", "seeds.png"]
