"""A whole training run in-process on the tiny preset: what model_dir receives."""

import csv
import dataclasses
import json
import os
import re

import keras
import numpy as np
import pytest

from tfadapt.config import TrainConfig
from tfadapt.errors import UserError
from tfadapt.training.model_dir import ModelDir, load_trained
from tfadapt.training.trainer import train


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_preset, review_files):
    root = tmp_path_factory.mktemp("run")
    config = TrainConfig(
        train_data=review_files["train"], test_data=review_files["test"], preset=tiny_preset,
        model_dir=str(root / "model"), export_dir=str(root / "export"), sequence_length=64,
        batch_size=8, epochs=3, learning_rate=1e-3, early_stopping_patience=1,
        early_stopping_metric="val_loss", freeze_layers=1, bucket_boundaries=(16, 32))
    lines = []
    summary = train(config, log=lines.append)
    return config, summary, lines


def test_model_dir_receives_every_artifact(finished_run):
    config, summary, _ = finished_run
    model_dir = ModelDir(config.model_dir)
    for path in (model_dir.config_json, model_dir.flagfile, model_dir.labels,
                 model_dir.best_checkpoint, model_dir.metrics_csv, model_dir.model,
                 model_dir.run_summary, os.path.join(model_dir.eval_dir("test"), "report.json"),
                 os.path.join(model_dir.eval_dir("test"), "confusion_matrix.png"),
                 os.path.join(config.export_dir, "1", "saved_model.pb")):
        assert os.path.isfile(path), path
    assert any(name.startswith("events.out.tfevents") for _, _, files in os.walk(model_dir.logs)
               for name in files)
    assert json.load(open(model_dir.labels))["labels"] == ["negative", "neutral", "positive"]
    with open(model_dir.metrics_csv) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == summary["epochs_run"]
    assert {"loss", "val_loss", "val_macro_f1", "pad_fraction"} <= set(rows[0])
    assert 0 <= float(rows[0]["pad_fraction"]) < 0.6
    assert summary["test"]["model"]["examples"] == 24
    assert set(summary["paths"]) == {"model", "report", "confusion matrix", "export"}


def test_progress_is_logged(finished_run):
    _, _, lines = finished_run
    text = "\n".join(lines)
    assert "43 training, 5 validation, 24 test examples" in text
    assert "step 5/5" in text and "examples/s" in text and "pad_fraction" in text
    # The learning-rate table: the --freeze_layers rule, multiplier 0, nothing trainable.
    assert re.search(r"\^transformer_layer_\(0\)/ +0 +16 +0 +[\d,]+ +--freeze_layers", text), text
    assert re.search(r"tfadapt: [\d,]+ of [\d,]+ parameters train", text)


def test_final_weights_are_the_best_checkpoint(finished_run):
    config, _, _ = finished_run
    model, _, _, _ = load_trained(config.model_dir)
    saved = [np.array(w) for w in model.weights]
    model.load_weights(ModelDir(config.model_dir).best_checkpoint)
    for restored, final in zip(model.weights, saved):
        np.testing.assert_array_equal(np.array(restored), final)


def test_saved_preset_fine_tunes_again(finished_run, tmp_path):
    config, _, _ = finished_run
    again = dataclasses.replace(config, preset=ModelDir(config.model_dir).preset,
                                model_dir=str(tmp_path / "again"), export_dir=None,
                                test_data=None, epochs=1, freeze_layers=0)
    summary = train(again, log=lambda _: None)
    assert summary["epochs_run"] == 1 and os.path.isfile(ModelDir(again.model_dir).model)


def test_frozen_layer_kept_its_pretrained_weights(finished_run, tiny_preset):
    import keras_hub

    config, _, _ = finished_run
    pretrained = keras_hub.models.BertBackbone.from_preset(tiny_preset)
    tuned = keras_hub.models.BertBackbone.from_preset(ModelDir(config.model_dir).preset)
    for layer, should_change in (("transformer_layer_0", False), ("transformer_layer_1", True)):
        before = [np.array(w) for w in pretrained.get_layer(layer).weights]
        after = [np.array(w) for w in tuned.get_layer(layer).weights]
        same = all(np.array_equal(a, b) for a, b in zip(before, after))
        assert same is not should_change, layer


def test_rerun_of_a_finished_job_redoes_nothing(finished_run):
    config, summary, _ = finished_run
    lines = []
    again = train(config, log=lines.append)
    assert again == json.load(open(ModelDir(config.model_dir).run_summary))
    assert any("nothing to redo" in line for line in lines)


def test_rerun_from_the_written_flagfile_redoes_nothing(finished_run, monkeypatch, tmp_path):
    from absl import flags

    from tfadapt import cli

    config, _, _ = finished_run
    monkeypatch.chdir(tmp_path)  # the flagfile means the same job from any folder
    fv = flags.FlagValues()
    cli.define_train_flags(fv)
    fv(["tfadapt.train", f"--flagfile={ModelDir(config.model_dir).flagfile}"])
    lines = []
    train(cli.train_config_from_flags(fv), log=lines.append)
    assert any("nothing to redo" in line for line in lines)


def test_a_different_job_in_a_used_model_dir_needs_overwrite(finished_run):
    config, _, _ = finished_run
    changed = dataclasses.replace(config, epochs=1)
    with pytest.raises(UserError, match=r"--model_dir=.*holds a different finished run; pass --overwrite"):
        train(changed, log=lambda _: None)
    assert os.path.isfile(ModelDir(config.model_dir).run_summary)  # nothing lost


@pytest.mark.parametrize("change, message", [
    (dict(labels=("negative", "positive")), r"label 'neutral' is not in --labels"),
    (dict(freeze_layers=5), r"--freeze_layers=5: the backbone has only 2 encoder layers"),
    (dict(sequence_length=512), r"--sequence_length=512: the backbone has 128 positions at most"),
    (dict(batch_size=64), r"--batch_size=64 is larger than the 43 training examples"),
    (dict(export_dir=__file__), r"--export_dir=.*: is a file, not a folder"),
    (dict(text_column="review"), r"no column 'review'"),
    (dict(preset="/nonexistent/model"), r"--preset=/nonexistent/model: folder not found"),
    (dict(lr_rules="encoder/=0", sequence_length=64), r"--lr_rules: pattern 'encoder/' matches no variable"),
    (dict(class_weights="neutral=2,calm=1"), r"--class_weights: 'calm' is not a label"),
    (dict(augment_copies=1, synonyms="/nonexistent/thesaurus.txt"),
     r"--synonyms=/nonexistent/thesaurus.txt: file not found"),
])
def test_bad_input_writes_nothing(tmp_path, tiny_preset, review_files, change, message):
    values = dict(train_data=review_files["train"], preset=tiny_preset,
                  model_dir=str(tmp_path / "model"))
    config = TrainConfig(**{**values, **change})
    with pytest.raises(UserError, match=message):
        train(config, log=lambda _: None)
    assert not os.path.exists(tmp_path / "model")


def test_bad_test_data_label_is_caught_before_training(tmp_path, tiny_preset, review_files):
    bad_test = tmp_path / "test.csv"
    bad_test.write_text("text,label\ngreat,positive\nmeh,mixed\n")
    config = TrainConfig(train_data=review_files["train"], test_data=str(bad_test),
                         preset=tiny_preset, model_dir=str(tmp_path / "model"))
    with pytest.raises(UserError, match=r"test\.csv:3: label 'mixed' is not in the training data"):
        train(config, log=lambda _: None)
    assert not os.path.exists(tmp_path / "model")


def test_mixed_precision_run_keeps_float32_logits(tmp_path, tiny_preset, review_files):
    config = TrainConfig(train_data=review_files["train"], preset=tiny_preset,
                         model_dir=str(tmp_path / "model"), sequence_length=32, batch_size=8,
                         epochs=1, mixed_precision="bf16", early_stopping_patience=0)
    summary = train(config, log=lambda _: None)
    assert np.isfinite(summary["history"]["loss"]).all()
    model, _, _, _ = load_trained(config.model_dir)
    assert model.get_layer("bert_backbone").dtype_policy.name == "mixed_bfloat16"
    assert model.output.dtype == "float32"


def test_overwrite_replaces_a_run_only_once_the_new_one_checks_out(tmp_path, tiny_preset,
                                                                   review_files):
    base = TrainConfig(train_data=review_files["train"], preset=tiny_preset,
                       model_dir=str(tmp_path / "model"), sequence_length=32, batch_size=8,
                       epochs=1)
    train(base, log=lambda _: None)
    bad = dataclasses.replace(base, epochs=2, overwrite=True, freeze_layers=9)
    with pytest.raises(UserError, match="--freeze_layers=9"):
        train(bad, log=lambda _: None)
    assert ModelDir(base.model_dir).finished_summary()["config"]["epochs"] == 1  # kept
    summary = train(dataclasses.replace(bad, freeze_layers=0), log=lambda _: None)
    assert summary["config"]["epochs"] == 2 and summary["epochs_run"] == 2


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path, tiny_preset, review_files):
    (tmp_path / "notes.txt").write_text("mine")
    config = TrainConfig(train_data=review_files["train"], preset=tiny_preset,
                         model_dir=str(tmp_path), overwrite=True)
    with pytest.raises(UserError, match="is not a tfadapt run"):
        train(config, log=lambda _: None)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_without_early_stopping_the_best_epoch_is_kept(tmp_path, tiny_preset, review_files):
    config = TrainConfig(train_data=review_files["train"], preset=tiny_preset,
                         model_dir=str(tmp_path / "model"), sequence_length=32, batch_size=8,
                         epochs=3, learning_rate=5e-3, early_stopping_patience=0,
                         early_stopping_metric="val_loss")
    summary = train(config, log=lambda _: None)
    assert summary["epochs_run"] == 3
    losses = summary["history"]["val_loss"]
    assert summary["best_epoch"] == 1 + losses.index(min(losses))
    model, _, _, _ = load_trained(config.model_dir)
    final = [np.array(w) for w in model.weights]
    model.load_weights(ModelDir(config.model_dir).best_checkpoint)
    for restored, kept in zip(model.weights, final):
        np.testing.assert_array_equal(np.array(restored), kept)


def test_train_under_mirrored_strategy(tmp_path, tiny_preset, review_files, mirrored):
    config = TrainConfig(train_data=review_files["train"], preset=tiny_preset,
                         model_dir=str(tmp_path / "model"), sequence_length=32, batch_size=8,
                         epochs=1)
    lines = []
    summary = train(config, strategy=mirrored, log=lines.append)
    assert "cpu × 2 replica(s)" in lines[1]
    assert np.isfinite(summary["history"]["loss"]).all()
    odd = dataclasses.replace(config, batch_size=7, model_dir=str(tmp_path / "odd"))
    with pytest.raises(UserError, match="--batch_size=7 does not split evenly over 2 replicas"):
        train(odd, strategy=mirrored, log=lambda _: None)


def test_a_run_saved_before_a_flag_existed_is_the_same_job(tmp_path):
    config = TrainConfig(train_data="t.csv", preset="p", model_dir=str(tmp_path))
    current = json.loads(config.to_json())
    older = {k: v for k, v in current.items() if k not in ("lr_rules", "augment_ops")}
    (tmp_path / "run.json").write_text(json.dumps({"config": older}))
    assert ModelDir(str(tmp_path)).check(current, overwrite=False) == {"config": older}
    changed = {**current, "epochs": 9}
    with pytest.raises(UserError, match="holds a different finished run"):
        ModelDir(str(tmp_path)).check(changed, overwrite=False)
