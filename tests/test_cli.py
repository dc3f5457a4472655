"""The commands as a user runs them: fresh processes, flagfiles, exit codes, messages."""

import json
import os
import subprocess
import sys

import pytest

from conftest import run_module


def _flagfile(tmp_path, tiny_preset, review_files, **extra):
    values = {"preset": tiny_preset, "train_data": review_files["train"],
              "test_data": review_files["test"], "model_dir": str(tmp_path / "model"),
              "sequence_length": 64, "batch_size": 8, "epochs": 1, "learning_rate": 1e-3,
              "bucket_boundaries": "16,32", **extra}
    path = tmp_path / "job.flags"
    path.write_text("# a job\n" + "".join(f"--{k}={v}\n" for k, v in values.items()))
    return str(path)


def _assert_one_line_error(result, *fragments):
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    # TensorFlow's C++ start-up lines (CUDA probe) may precede ours once it is imported.
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("tfadapt.")]
    assert len(error_lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in error_lines[0], error_lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_preset, review_files):
    tmp_path = tmp_path_factory.mktemp("cli")
    flagfile = _flagfile(tmp_path, tiny_preset, review_files, epochs=5)
    result = run_module("tfadapt.train", f"--flagfile={flagfile}", "--epochs=1",
                        f"--export_dir={tmp_path / 'export'}")
    return tmp_path, result


def test_train_from_a_flagfile_prints_the_summary_table(trained):
    tmp_path, result = trained
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for expected in ("macro-F1", "accuracy", "F1 positive", "majority baseline",
                     "model:", "report:", "export:", "serve:", "epoch 1/1"):
        assert expected in out, expected
    saved = json.load(open(tmp_path / "model" / "run.json"))
    assert saved["config"]["epochs"] == 1  # the command line beat the flagfile's 5
    assert "--epochs=1" in (tmp_path / "model" / "config.flags").read_text()


def test_evaluate_and_export_commands_on_the_trained_run(trained, review_files):
    tmp_path, _ = trained
    result = run_module("tfadapt.evaluate", f"--model_dir={tmp_path / 'model'}",
                        f"--test_data={review_files['test']}",
                        f"--output_dir={tmp_path / 'eval'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "macro-F1" in result.stdout
    report = json.load(open(tmp_path / "eval" / "report.json"))
    run_report = json.load(open(tmp_path / "model" / "run.json"))["test"]
    assert report["model"] == run_report["model"]  # the same model, the same numbers
    assert os.path.isfile(tmp_path / "eval" / "confusion_matrix.png")

    result = run_module("tfadapt.export", f"--model_dir={tmp_path / 'model'}",
                        f"--export_dir={tmp_path / 'export'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(tmp_path / "export")) == ["1", "2"]


def test_unknown_flag_value_exits_with_one_line(tmp_path, tiny_preset, review_files):
    flagfile = _flagfile(tmp_path, tiny_preset, review_files)
    result = run_module("tfadapt.train", f"--flagfile={flagfile}", "--optimizer=lamb")
    _assert_one_line_error(result, "--optimizer", "lamb")
    assert not os.path.exists(tmp_path / "model")


def test_missing_column_exits_with_one_line_and_writes_nothing(tmp_path, tiny_preset, review_files):
    flagfile = _flagfile(tmp_path, tiny_preset, review_files, text_column="review")
    result = run_module("tfadapt.train", f"--flagfile={flagfile}")
    _assert_one_line_error(result, "tfadapt.train: error:", "train.csv:2: no column 'review'",
                           "--text_column")
    assert not os.path.exists(tmp_path / "model")


def test_bad_lr_rules_exit_with_one_line_before_tensorflow_loads(tmp_path, tiny_preset,
                                                                 review_files):
    flagfile = _flagfile(tmp_path, tiny_preset, review_files)
    result = run_module("tfadapt.train", f"--flagfile={flagfile}",
                        "--lr_rules=transformer_layer_0/=0,embedding=-1")
    _assert_one_line_error(result, "tfadapt.train: error: --lr_rules: embedding=-1")
    assert not os.path.exists(tmp_path / "model")


def test_evaluate_without_a_run_is_a_clear_error(tmp_path, review_files):
    result = run_module("tfadapt.evaluate", f"--model_dir={tmp_path}",
                        f"--test_data={review_files['test']}")
    _assert_one_line_error(result, "tfadapt.evaluate: error:", "no finished run")


def test_help_lists_the_flags_without_loading_tensorflow():
    result = run_module("tfadapt.train", "--help")  # absl's --help exits with status 1
    assert "--preset" in result.stdout and "--freeze_layers" in result.stdout
    probe = ("import sys; import tfadapt.train, tfadapt.evaluate, tfadapt.export, tfadapt.cli; "
             "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_missing_required_flag_is_one_line(tmp_path):
    result = run_module("tfadapt.export", f"--model_dir={tmp_path}")
    _assert_one_line_error(result, "tfadapt.export: error:", "--export_dir")


def test_compare_trains_each_strategy_and_writes_the_table(tmp_path, tiny_preset, review_files):
    flagfile = _flagfile(tmp_path, tiny_preset, review_files, freeze_layers=1)
    args = (f"--flagfile={flagfile}", "--strategies=full,freeze_lower,head_only",
            "--strategy_learning_rates=head_only=1e-2")
    result = run_module("tfadapt.compare", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.load(open(tmp_path / "model" / "comparison.json"))
    assert [r["strategy"] for r in rows] == ["full", "freeze_lower", "head_only"]
    params = {r["strategy"]: r["trainable_params"] for r in rows}
    assert params["full"] > params["freeze_lower"] > params["head_only"] == 16 * 3 + 3
    assert rows[2]["learning_rate"] == 1e-2 and rows[0]["learning_rate"] == 1e-3
    assert all(0 <= r["macro_f1"] <= 1 and r["split"] == "test" for r in rows)
    assert "| head_only |" in (tmp_path / "model" / "comparison.md").read_text()
    assert "| freeze_lower |" in result.stdout
    assert os.path.getsize(tmp_path / "model" / "comparison.png") > 1000
    again = run_module("tfadapt.compare", *args)  # finished runs are reused, not redone
    assert again.stdout.count("already holds this finished run") == 3
    assert json.load(open(tmp_path / "model" / "comparison.json")) == rows


def test_compare_rejects_an_unknown_strategy_before_training(tmp_path, tiny_preset, review_files):
    flagfile = _flagfile(tmp_path, tiny_preset, review_files)
    result = run_module("tfadapt.compare", f"--flagfile={flagfile}", "--strategies=full,adapter")
    _assert_one_line_error(result, "tfadapt.compare: error:", "unknown strategy 'adapter'")
    assert not os.path.exists(tmp_path / "model")


def test_compare_trains_an_interrupted_strategy_again(tmp_path):
    from tfadapt.config import TrainConfig
    from tfadapt.training.comparison import compare

    base = TrainConfig(train_data="t.csv", preset="p", model_dir=str(tmp_path))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "config.json").write_text("{}")  # started, no run.json
    seen = []

    def fake_train(config, log):
        seen.append((os.path.basename(config.model_dir), config.overwrite))
        return {"history": {"val_macro_f1": [0.5], "val_accuracy": [0.6]}, "best_epoch": 1,
                "trainable_params": 10, "total_params": 20, "wall_seconds": 1.0,
                "train_examples_per_second": 2.0, "epochs_run": 1}

    rows = compare(base, ["full", "head_only"], train_fn=fake_train, log=lambda _: None)
    assert seen == [("full", True), ("head_only", False)]
    assert [r["split"] for r in rows] == ["validation", "validation"]
    assert json.load(open(tmp_path / "comparison.json")) == rows
