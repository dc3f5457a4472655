"""`tfadapt.adapt` end to end on the tiny preset: stages, report, export, resume, errors."""

import csv
import dataclasses
import json
import os

import numpy as np
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


METHODS = ("dapt", "tapt", "self_training", "dapt+self_training")


@pytest.fixture(scope="module")
def adapted(tmp_path_factory, tiny_preset, review_files, drug_rows):
    root = tmp_path_factory.mktemp("adapt")
    # Domain text: other reviews, plus two of the test reviews, which must be left out.
    test_texts = [row[0] for row in csv.reader(open(review_files["test"]))][1:3]
    domain = root / "domain.txt"
    domain.write_text("\n".join([" ".join(t.split()[:60]) for t, _ in drug_rows[100:164]]
                                 + test_texts) + "\n")
    config = adapt_config(root, tiny_preset, review_files, domain_data=str(domain),
                          methods=METHODS, seeds=(3, 4), self_training_top_fraction=0.5)
    lines = []
    return config, adapt(config, log=lines.append), lines


def result(config, method, seed):
    with open(os.path.join(config.train.model_dir, f"seed_{seed}", f"{method}.json")) as f:
        return json.load(f)


def test_adapt_runs_every_method_with_every_seed(adapted):
    config, report, lines = adapted
    root = config.train.model_dir
    assert report["methods"] == ["none", *METHODS] and report["seeds"] == [3, 4]
    assert report["test_sets"] == ["test", "reviews_again"] and not report["failed"]
    assert any("[10/10] dapt+self_training, seed 4" in line for line in lines)
    for row in report["rows"]:
        values = [result(config, row["method"], seed)["test"][row["test_set"]]
                  for seed in (3, 4)]
        assert row["n"] == 2 and row["mean"] == pytest.approx(np.mean(values))
        assert row["std"] == pytest.approx(np.std(values, ddof=1))
        if row["method"] != "none":
            reference = next(r for r in report["rows"] if r["test_set"] == row["test_set"]
                             and r["method"] == "none")
            assert row["difference"] == pytest.approx(row["mean"] - reference["mean"])
    for stage in ("none", "dapt/pretrain", "dapt/finetune", "tapt/pretrain",
                  "tapt/finetune", "self_training/round_1/student",
                  "dapt+self_training/round_1/student"):
        assert os.path.isdir(os.path.join(root, "seed_3", stage)), stage
    # The DAPT model was fine-tuned from the masked-LM output, not from the base preset.
    finetune = json.load(open(os.path.join(root, "seed_3", "dapt", "finetune", "config.json")))
    assert finetune["preset"] == os.path.join(root, "seed_3", "dapt", "pretrain", "preset")
    assert result(config, "dapt", 3)["masked_lm"]["perplexity_after"] < \
        result(config, "dapt", 3)["masked_lm"]["perplexity_before"]
    for name in ("adaptation.md", "adaptation.json", "adaptation.png", "adapt.json"):
        assert os.path.isfile(os.path.join(root, name)), name
    assert any("2 --domain_data texts are also validation or test texts (seed 3)" in line
               for line in lines)
    table = open(os.path.join(root, "adaptation.md")).read()
    assert "| reviews_again | dapt |" in table and "masked-LM held-out perplexity" in table
    assert "self_training, seed 4, round 1:" in table


def test_self_training_pseudo_labels_domain_text_and_students_learn_them(adapted):
    config, report, lines = adapted
    domain = {" ".join(line.split()) for line in open(config.domain_data)}
    evaluated = {" ".join(t.split()) for f in (config.train.test_data,)
                 for t, _ in list(csv.reader(open(f)))[1:]}
    for method, teacher in (("self_training", "none"), ("dapt+self_training", "dapt/finetune")):
        folder = os.path.join(config.train.model_dir, "seed_3", method)
        rows = [json.loads(line) for line in open(os.path.join(folder, "round_1",
                                                               "pseudo_labels.jsonl"))]
        texts = [row["text"] for row in rows]
        assert set(texts) <= domain and not set(texts) & evaluated
        rounds = json.load(open(os.path.join(folder, "rounds.json")))["rounds"]
        counts = {label: sum(row["label"] == label for row in rows)
                  for label in rounds[0]["class_counts"]}
        assert rounds[0]["class_counts"] == counts and len(rows) == rounds[0]["pseudo_labeled"]
        assert rounds[0]["teacher"] == os.path.join(config.train.model_dir, "seed_3", teacher)
        for row in rows:
            assert row["confidence"] == pytest.approx(max(row["probabilities"].values()),
                                                      abs=1e-6)
            assert row["label"] == max(row["probabilities"], key=row["probabilities"].get)
        student = json.load(open(os.path.join(folder, "round_1", "student", "config.json")))
        assert student["pseudo_labels"] == os.path.join(folder, "round_1", "pseudo_labels.jsonl")
        teacher_config = json.load(open(os.path.join(config.train.model_dir, "seed_3",
                                                     teacher, "config.json")))
        assert student["preset"] == teacher_config["preset"]  # where the teacher started
    # 48 reviews, 10% held out: 43 labeled, plus the pseudo-labeled ones.
    pseudo = result(config, "self_training", 3)["self_training"][0]["pseudo_labeled"]
    assert any(f"{43 + pseudo} training, 5 validation" in line for line in lines)


def test_adapt_exports_the_best_method_on_validation(adapted):
    config, report, _ = adapted
    means = {}
    for method in report["methods"]:
        scores = {}
        for seed in (3, 4):
            run = result(config, method, seed)
            summary = json.load(open(os.path.join(run["model_dir"], "run.json")))
            assert run["validation"] == summary["validation"]["model"]["macro_f1"]
            scores[seed] = run["validation"]
        means[method] = (np.mean(list(scores.values())), scores)
    best = max(report["methods"], key=lambda m: means[m][0])  # first of ties
    scores = means[best][1]
    assert report["chosen"]["method"] == best
    assert report["chosen"]["seed"] == max(sorted(scores), key=scores.get)
    model, preprocessor, labels, _ = load_trained(report["chosen"]["model_dir"])
    check_export(report["paths"]["export"], model, preprocessor, labels.names)


def test_adapt_again_reuses_every_finished_run(adapted):
    config, report, _ = adapted
    lines = []
    again = adapt(config, log=lines.append)
    # Per seed: none, two masked-LM runs and their fine-tuning, two students.
    assert sum("already holds this finished run" in line for line in lines) == 2 * 7
    assert not any("trains again" in line for line in lines)
    assert again["rows"] == report["rows"] and again["chosen"] == report["chosen"]


def test_adapt_resumes_a_run_that_was_cut_off(adapted):
    config, report, _ = adapted
    student = os.path.join(config.train.model_dir, "seed_4", "self_training", "round_1",
                           "student")
    os.remove(os.path.join(student, "run.json"))  # cut off
    lines = []
    again = adapt(config, log=lines.append)
    assert any(f"{student} did not finish last time; it runs again" in line for line in lines)
    assert sum("already holds this finished run" in line for line in lines) == 2 * 7 - 1
    assert again["rows"][0] == report["rows"][0]  # "none" is unchanged


def test_a_failed_run_is_reported_and_the_others_go_on(tmp_path, tiny_preset, review_files,
                                                        monkeypatch):
    from tfadapt.training import self_training

    domain = tmp_path / "domain.txt"
    domain.write_text("".join(f"{text} ({i})\n" for i in range(4) for text in (
        "great results", "it did not help at all", "side effects were bad")))
    config = adapt_config(tmp_path, tiny_preset, review_files, domain_data=str(domain),
                          methods=("self_training",), seeds=(1, 2), extra_test_data=())
    real = self_training.select_pseudo_labels

    calls = []

    def broken_on_seed_1(probabilities, threshold, top_fraction):  # seed 1 runs first
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("out of memory, say")
        return real(probabilities, threshold, top_fraction)

    monkeypatch.setattr(self_training, "select_pseudo_labels", broken_on_seed_1)
    lines = []
    report = adapt(config, log=lines.append)
    assert report["failed"] == [{"method": "self_training", "seed": 1,
                                 "error": "RuntimeError: out of memory, say"}]
    assert [row["n"] for row in report["rows"]] == [2, 1]
    assert report["chosen"]["method"] in ("none", "self_training")
    error = os.path.join(config.train.model_dir, "seed_1", "self_training.error.txt")
    assert "Traceback" in open(error).read()
    assert any("self_training (seed 1) FAILED: RuntimeError: out of memory" in line
               for line in lines)
    monkeypatch.setattr(self_training, "select_pseudo_labels", real)
    lines = []
    report = adapt(config, log=lines.append)  # the same command retries the failed run
    assert not report["failed"] and [row["n"] for row in report["rows"]] == [2, 2]
    assert not os.path.exists(error)
    assert sum("already holds this finished run" in line for line in lines) == 3


def test_a_stage_that_failed_is_not_tried_again_by_the_next_method(tmp_path):
    from tfadapt.training.adaptation import SeedPlan

    broken = TrainConfig(train_data=str(tmp_path / "missing.csv"), preset="p",
                         model_dir=str(tmp_path / "none"))
    plan = SeedPlan(1, None, {}, [], {"none": broken})
    with pytest.raises(UserError, match="missing.csv"):
        plan.run("none", None, log=lambda line: None)
    with pytest.raises(RuntimeError, match=r"none, which failed earlier in this command "
                                           r"\(UserError: --train_data="):
        plan.run("none", None, log=lambda line: None)


def test_target_validation_data_errors_name_it(tmp_path, tiny_preset, review_files):
    config = adapt_config(tmp_path, tiny_preset, review_files,
                          target_validation_data=str(tmp_path / "nowhere.csv"))
    with pytest.raises(UserError, match=r"^--target_validation_data=.*nowhere.csv"):
        adapt(config, log=lambda line: None)
    assert not os.path.exists(config.train.model_dir)


def test_target_validation_data_chooses_for_every_run(tmp_path, tiny_preset, review_files):
    from tfadapt.training.adaptation import plan_seed
    from tfadapt.tasks import get_task

    target = write_rows(tmp_path / "target.csv", [("short and fine", "positive"),
                                                  ("awful, stopped it", "negative")] * 3)
    domain = tmp_path / "domain.txt"
    domain.write_text("short and fine\nnew text here\n")
    config = adapt_config(tmp_path, tiny_preset, review_files, domain_data=str(domain),
                          methods=("dapt", "self_training"), target_validation_data=target)
    plan = plan_seed(config, get_task("classification"), 5, ["short and fine", "new text"],
                     {}, log=lambda line: None)
    assert {stage.validation_data for name, stage in plan.stages.items()
            if not name.endswith("pretrain")} == {target}
    assert len(plan.inputs.train) == 48  # no split: all labeled data trains
    assert plan.pool == ["new text"] and plan.mlm_texts["dapt"][1] == ["new text"]
    with pytest.raises(UserError, match="--target_validation_data and --validation_data"):
        adapt_config(tmp_path, tiny_preset, review_files, target_validation_data=target,
                     train=dataclasses.replace(config.train, validation_data=target))


def test_task_adaptive_text_is_the_training_part_only(tmp_path, tiny_preset, review_files):
    from tfadapt.tasks import get_task
    from tfadapt.training.adaptation import plan_seed

    config = adapt_config(tmp_path, tiny_preset, review_files, methods=("tapt",))
    plan = plan_seed(config, get_task("classification"), 42, None, {}, log=lambda line: None)
    _, texts, heldout = plan.mlm_texts["tapt"]
    assert texts == plan.inputs.train.texts and heldout == plan.inputs.validation.texts
    assert not set(texts) & set(heldout)
    assert plan.stages["tapt/pretrain"].validation_data.endswith("_heldout.jsonl")


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


def test_self_training_is_refused_for_other_tasks(tmp_path, tiny_preset, review_files):
    base = adapt_config(tmp_path, tiny_preset, review_files).train
    for task in ("regression", "multilabel", "token_classification"):
        with pytest.raises(UserError, match=r"--methods self-training is for "
                                            r"--task=classification"):
            adapt_config(tmp_path, tiny_preset, review_files, domain_data="d.txt",
                         methods=("dapt+self_training",),
                         train=dataclasses.replace(base, task=task))
    with pytest.raises(UserError, match=r"--pseudo_labels \(self-training\) is for "
                                        r"--task=classification"):
        dataclasses.replace(base, task="pair", text_pair_column="b", pseudo_labels="p.jsonl")


def test_seeds_flag_is_a_count_or_a_list():
    from tfadapt.cli import parse_seeds

    assert parse_seeds(["3"], 42) == (42, 43, 44)
    assert parse_seeds(["7", "1", "2"], 42) == (7, 1, 2)
    with pytest.raises(UserError, match=r"--seeds=0: the number of seeds must be at least 1"):
        parse_seeds(["0"], 42)
    with pytest.raises(UserError, match=r"--seeds=a,b: expected a count or a list"):
        parse_seeds(["a", "b"], 42)


def test_adapt_cli_takes_method_as_an_alias_and_refuses_a_bad_seed_list(tmp_path):
    result = run_module("tfadapt.adapt", "--train_data=x.csv", "--test_data=y.csv",
                        "--preset=p", f"--model_dir={tmp_path}/m", "--method=self_training")
    assert result.stderr.strip().splitlines()[-1] == (
        "tfadapt.adapt: error: --methods self_training needs --domain_data (the unlabeled "
        "domain text)")
    result = run_module("tfadapt.adapt", "--train_data=x.csv", "--test_data=y.csv",
                        "--preset=p", f"--model_dir={tmp_path}/m", "--seeds=2,x")
    assert result.returncode == 1 and result.stderr.strip().splitlines()[-1] == (
        "tfadapt.adapt: error: --seeds=2,x: expected a count or a list of integers")
    result = run_module("tfadapt.adapt", "--train_data=x.csv", "--test_data=y.csv",
                        "--preset=p", f"--model_dir={tmp_path}/m", "--soft_pseudo_labels")
    assert result.returncode == 1 and result.stderr.strip().splitlines()[-1] == (
        "tfadapt.adapt: error: --soft_pseudo_labels is set by self-training inside "
        "tfadapt.adapt; use --methods=self_training (and --self_training_soft)")
    assert not os.path.exists(tmp_path / "m")


@pytest.mark.parametrize("changes, message", [
    (dict(mask_rate=0.0), r"--mask_rate must be in \(0, 1\)"),
    (dict(mlm_sequence_length=2), r"--mlm_sequence_length must be in \[4, 4096\]"),
    (dict(domain_text_column="body"), r"--domain_text_column and --domain_encoding describe"),
    (dict(methods=("dapt", "magic")), r"--methods has magic; choose from none, dapt"),
    (dict(methods=("self_training",)), r"--methods self_training needs --domain_data"),
    (dict(domain_data="d.txt", self_training_threshold=0.9, self_training_top_fraction=0.2),
     r"--self_training_threshold and --self_training_top_fraction are two ways"),
    (dict(self_training_rounds=0), r"--self_training_rounds must be at least 1"),
    (dict(seeds=(1, 1)), r"--seeds names a seed twice"),
])
def test_adapt_flags_name_themselves(tmp_path, tiny_preset, review_files, changes, message):
    with pytest.raises(UserError, match=message):
        adapt_config(tmp_path, tiny_preset, review_files, **changes)


@pytest.mark.parametrize("name, methods, seeds", [
    ("adapt_films_to_tweets", ("none", "dapt", "tapt", "self_training", "dapt+self_training"),
     (42, 43, 44)),
    ("adapt_dapt_tweets", ("none", "dapt"), (42,)),
    ("adapt_tapt_tweets", ("none", "tapt"), (42,)),
])
def test_the_shipped_adapt_flagfiles_parse(name, methods, seeds, monkeypatch):
    from absl import flags

    from conftest import REPO
    from tfadapt import cli

    monkeypatch.chdir(REPO)  # the flagfiles name paths from the repository root
    fv = flags.FlagValues()
    cli.define_adapt_flags(fv)
    fv(["tfadapt.adapt", f"--flagfile={os.path.join(REPO, 'configs', name + '.flags')}"])
    config = cli.adapt_config_from_flags(fv)
    assert config.method_list == methods and config.seed_list == seeds
    assert os.path.isfile(config.train.test_data)
