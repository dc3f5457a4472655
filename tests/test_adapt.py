"""`tfadapt.adapt` end to end on the tiny preset: stages, report, export, resume, errors."""

import csv
import json
import os

import pytest

from conftest import run_module, write_rows
from test_export import check_export
from tfadapt.config import AdaptConfig, TrainConfig
from tfadapt.errors import UserError
from tfadapt.training.adaptation import adapt
from tfadapt.training.model_dir import load_trained


def adapt_config(root, tiny_preset, review_files, **changes):
    train = TrainConfig(train_data=review_files["train"], test_data=review_files["test"],
                        preset=tiny_preset, model_dir=str(root / "adapt"),
                        export_dir=str(root / "export"), sequence_length=64, batch_size=8,
                        epochs=2, learning_rate=1e-3, bucket_boundaries=(16, 32))
    settings = dict(train=train, mlm_sequence_length=32, mlm_batch_size=8, mlm_epochs=2,
                    mlm_learning_rate=1e-3,
                    extra_test_data=(f"reviews_again={review_files['train']}",))
    return AdaptConfig(**{**settings, **changes})


@pytest.fixture(scope="module")
def adapted(tmp_path_factory, tiny_preset, review_files, drug_rows):
    root = tmp_path_factory.mktemp("adapt")
    # Domain text: other reviews, plus two of the test reviews, which must be left out.
    test_texts = [row[0] for row in csv.reader(open(review_files["test"]))][1:3]
    domain = root / "domain.txt"
    domain.write_text("\n".join([" ".join(t.split()[:60]) for t, _ in drug_rows[100:164]]
                                 + test_texts) + "\n")
    config = adapt_config(root, tiny_preset, review_files, domain_data=str(domain))
    lines = []
    return config, adapt(config, log=lines.append), lines


def test_adapt_runs_every_stage_and_reports_both_models(adapted):
    config, report, lines = adapted
    root = config.train.model_dir
    for stage in ("baseline", "pretrain", "adapted"):
        assert os.path.isdir(os.path.join(root, stage)), stage
    assert [row["test_set"] for row in report["rows"]] == ["test", "reviews_again"]
    for row in report["rows"]:
        assert row["metric"] == "macro_f1"
        assert row["difference"] == pytest.approx(row["adapted"] - row["baseline"])
    mlm = report["masked_lm"]
    assert mlm["heldout_loss_after"] < mlm["heldout_loss_before"]
    assert mlm["loss_curve"][0]["step"] == 0 and len(mlm["loss_curve"]) >= 2
    # The adapted run fine-tuned the masked-LM output, not the base preset.
    adapted_config = json.load(open(os.path.join(root, "adapted", "config.json")))
    assert adapted_config["preset"] == os.path.join(root, "pretrain", "preset")
    for name in ("domain_shift.md", "domain_shift.json", "domain_shift.png", "adapt.json"):
        assert os.path.isfile(os.path.join(root, name)), name
    assert any("2 --domain_data texts are also validation or test texts" in line
               for line in lines)
    (text_file,) = [f for f in os.listdir(root) if f.startswith("masked_lm_")]
    assert len(open(os.path.join(root, text_file)).readlines()) == 64
    table = open(os.path.join(root, "domain_shift.md")).read()
    assert "| reviews_again | macro_f1 |" in table and "Masked-LM held-out loss" in table
    assert any("[2/3] masked-LM adaptation" in line for line in lines)


def test_adapt_exports_the_model_better_on_validation(adapted):
    config, report, _ = adapted
    validation = report["validation"]
    assert validation["metric"] == "macro_f1"
    for which in ("baseline", "adapted"):  # each run's own validation report
        summary = json.load(open(os.path.join(report["models"][which], "run.json")))
        assert validation[which] == summary["validation"]["model"]["macro_f1"]
    better = "adapted" if validation["adapted"] > validation["baseline"] else "baseline"
    assert report["exported"] == better
    model, preprocessor, labels, _ = load_trained(report["models"][better])
    check_export(report["paths"]["export"], model, preprocessor, labels.names)


def test_adapt_again_reuses_every_finished_stage(adapted):
    config, report, _ = adapted
    lines = []
    again = adapt(config, log=lines.append)
    assert sum("already holds this finished run" in line for line in lines) == 3
    assert again["rows"] == report["rows"]


def test_adapt_resumes_a_stage_that_was_cut_off(adapted):
    config, report, _ = adapted
    os.remove(os.path.join(config.train.model_dir, "adapted", "run.json"))  # cut off
    lines = []
    again = adapt(config, log=lines.append)
    assert any("adapted did not finish last time; it runs again" in line for line in lines)
    assert sum("already holds this finished run" in line for line in lines) == 2
    assert again["rows"][0]["baseline"] == report["rows"][0]["baseline"]


def test_task_adaptive_text_is_the_training_part_only(tmp_path, tiny_preset, review_files):
    from tfadapt.tasks import get_task
    from tfadapt.training.adaptation import _masked_lm_text

    config = adapt_config(tmp_path, tiny_preset, review_files)
    inputs = get_task("classification").read_inputs(config.train, log=lambda line: None)
    texts, heldout = _masked_lm_text(config, inputs, [], log=lambda line: None)
    assert texts == inputs.train.texts and heldout == inputs.validation.texts
    assert not set(texts) & set(inputs.validation.texts)


def test_adapt_checks_extra_test_sets_before_writing(tmp_path, tiny_preset, review_files):
    bad = write_rows(tmp_path / "bad.csv", [("fine", "positive"), ("odd", "amazing")])
    config = adapt_config(tmp_path, tiny_preset, review_files,
                          extra_test_data=(f"other={bad}",))
    with pytest.raises(UserError, match=r"bad.csv:3: label 'amazing' is not in"):
        adapt(config, log=lambda line: None)
    assert not os.path.exists(config.train.model_dir)
    with pytest.raises(UserError, match=r"--extra_test_data: 'oops': expected NAME=PATH"):
        adapt_config(tmp_path, tiny_preset, review_files, extra_test_data=("oops",))


def test_adapt_cli_reports_a_bad_flag_in_one_line(tmp_path):
    result = run_module("tfadapt.adapt", "--train_data=x.csv", "--test_data=y.csv",
                        "--preset=p", f"--model_dir={tmp_path}/m", "--mlm_epochs=0")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "tfadapt.adapt: error: --mlm_epochs must be at least 1")
    assert not os.path.exists(tmp_path / "m")


@pytest.mark.parametrize("changes, message", [
    (dict(mask_rate=0.0), r"--mask_rate must be in \(0, 1\)"),
    (dict(mlm_sequence_length=2), r"--mlm_sequence_length must be in \[4, 4096\]"),
    (dict(domain_text_column="body"), r"--domain_text_column and --domain_encoding describe"),
])
def test_adapt_flags_name_themselves(tmp_path, tiny_preset, review_files, changes, message):
    with pytest.raises(UserError, match=message):
        adapt_config(tmp_path, tiny_preset, review_files, **changes)
