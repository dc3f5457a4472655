"""Masked-LM pretraining on the tiny preset: the run, its preset, reuse, errors, the command."""

import dataclasses
import json
import math
import os

import numpy as np
import pytest

from conftest import REPO, run_module, write_rows
from test_readers import _prepare_local_tfds
from tfadapt.config import PretrainConfig, TrainConfig
from tfadapt.data.unlabeled import read_texts
from tfadapt.errors import UserError
from tfadapt.training.pretraining import PretrainDir, pretrain


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, drug_rows):
    """A .txt of 80 real reviews (first 40 words), a blank line after every tenth."""
    path = tmp_path_factory.mktemp("corpus") / "reviews.txt"
    lines = []
    for i, (text, _) in enumerate(drug_rows[:80]):
        lines.append(" ".join(text.split()[:40]))
        if i % 10 == 9:
            lines.append("   ")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _config(tiny_preset, corpus, model_dir, **changes):
    values = dict(train_data=corpus, preset=tiny_preset, model_dir=str(model_dir),
                  validation_split=0.2, sequence_length=64, batch_size=8, epochs=3,
                  learning_rate=5e-3, warmup_ratio=0.0, bucket_boundaries=(16, 32))
    return PretrainConfig(**{**values, **changes})


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, tiny_preset, corpus):
    config = _config(tiny_preset, corpus, tmp_path_factory.mktemp("pretrain") / "run")
    lines = []
    summary = pretrain(config, log=lines.append)
    return config, summary, lines


def test_heldout_loss_falls_and_the_summary_says_so(pretrained):
    config, summary, lines = pretrained
    assert (summary["train_examples"], summary["heldout_examples"]) == (64, 16)
    assert summary["heldout_loss_after"] < summary["heldout_loss_before"] - 0.5
    assert summary["perplexity_before"] == pytest.approx(math.exp(summary["heldout_loss_before"]))
    assert summary["perplexity_after"] == pytest.approx(math.exp(summary["heldout_loss_after"]))
    history = summary["history"]
    assert len(history["train_loss"]) == len(history["heldout_loss"]) == 3
    curve = summary["loss_curve"]
    assert [point["step"] for point in curve] == [0, 8, 16, 24]
    assert curve[0]["heldout_loss"] == summary["heldout_loss_before"]
    # The same fixed masks every time: scoring the kept weights again gives exactly
    # the held-out loss they had when they were chosen.
    best = min(curve, key=lambda point: point["heldout_loss"])
    assert summary["best_step"] == best["step"] > 0
    assert summary["heldout_loss_after"] == pytest.approx(best["heldout_loss"], abs=1e-6)
    assert summary["preset"] == os.path.join(config.model_dir, "preset")
    assert summary["wall_seconds"] > 0 and summary["train_examples_per_second"] > 0
    text = "\n".join(lines)
    assert "64 training texts" in text and "examples/s" in text and "epoch 3/3" in text
    assert "held-out masked-LM loss before training" in text


def test_model_dir_holds_the_run(pretrained):
    config, summary, _ = pretrained
    run = PretrainDir(config.model_dir)
    for path in (run.config_json, run.flagfile, run.best_checkpoint, run.metrics_csv,
                 os.path.join(run.preset, "config.json"),
                 os.path.join(run.preset, "tokenizer.json")):
        assert os.path.isfile(path), path
    assert json.load(open(run.run_summary)) == json.loads(json.dumps(summary))
    assert "python -m tfadapt.pretrain" in open(run.flagfile).read()


def test_the_adapted_preset_fine_tunes_with_tfadapt_train(pretrained, tiny_preset, review_files,
                                                          tmp_path):
    import keras_hub

    from tfadapt.training.trainer import train

    _, summary, _ = pretrained
    before = keras_hub.models.BertBackbone.from_preset(tiny_preset)
    after = keras_hub.models.BertBackbone.from_preset(summary["preset"])
    changed = [not np.array_equal(a, b) for a, b in zip(before.get_layer("transformer_layer_1")
                                                         .get_weights(),
                                                         after.get_layer("transformer_layer_1")
                                                         .get_weights())]
    assert any(changed)  # the encoder itself adapted, not only the head
    config = TrainConfig(train_data=review_files["train"], preset=summary["preset"],
                         model_dir=str(tmp_path / "classifier"), sequence_length=32,
                         batch_size=8, epochs=1)
    result = train(config, log=lambda _: None)
    assert result["epochs_run"] == 1 and np.isfinite(result["history"]["loss"]).all()


def test_rerun_reuses_the_finished_job_and_a_different_one_needs_overwrite(pretrained):
    config, summary, _ = pretrained
    lines = []
    assert pretrain(config, log=lines.append) == json.loads(json.dumps(summary))
    assert any("nothing to redo" in line for line in lines)
    with pytest.raises(UserError, match=r"--model_dir=.*holds a different finished run; "
                                        r"pass --overwrite"):
        pretrain(dataclasses.replace(config, epochs=1), log=lambda _: None)
    assert os.path.isfile(PretrainDir(config.model_dir).run_summary)  # nothing lost


def test_whole_words_max_steps_bf16_and_mirrored_strategy(tiny_preset, corpus, tmp_path,
                                                         mirrored):
    config = _config(tiny_preset, corpus, tmp_path / "run", whole_word_masking=True,
                     max_steps=3, epochs=2, output_preset=str(tmp_path / "adapted"),
                     mixed_precision="bf16")
    lines = []
    summary = pretrain(config, strategy=mirrored, log=lines.append)
    assert "cpu × 2 replica(s), jit_compile=False, dtype policy mixed_bfloat16" in lines[1]
    assert [point["step"] for point in summary["loss_curve"]] == [0, 3]
    assert np.isfinite([summary["heldout_loss_before"], summary["heldout_loss_after"]]).all()
    assert summary["preset"] == str(tmp_path / "adapted")
    assert os.path.isfile(tmp_path / "adapted" / "config.json")
    assert not os.path.exists(tmp_path / "run" / "preset")


def test_eval_every_steps_scores_the_heldout_text_more_often(tiny_preset, corpus, tmp_path):
    # 64 training texts / 8 = 8 steps an epoch, 2 epochs: scored at steps 3, 6, 9, 12, 15, 16.
    config = _config(tiny_preset, corpus, tmp_path / "run", epochs=2, eval_every_steps=3)
    lines = []
    summary = pretrain(config, log=lines.append)
    assert [point["step"] for point in summary["loss_curve"]] == [0, 3, 6, 9, 12, 15, 16]
    assert summary["steps"] == 16
    assert any("6 round(s) (held-out text scored after each) × 3 steps" in line
               for line in lines)


def test_head_warmup_holds_the_backbone_still_then_trains_it(tiny_preset, corpus, tmp_path):
    import keras_hub

    def backbone_weights(preset):
        backbone = keras_hub.models.BertBackbone.from_preset(preset)
        return [w.copy() for w in backbone.get_weights()]

    original = backbone_weights(tiny_preset)
    held = pretrain(_config(tiny_preset, corpus, tmp_path / "held", max_steps=4,
                            head_warmup_steps=4), log=lambda line: None)
    assert held["heldout_loss_after"] < held["heldout_loss_before"]  # the head learned
    for before, after in zip(original, backbone_weights(held["preset"])):
        np.testing.assert_array_equal(before, after)
    lines = []
    joined = pretrain(_config(tiny_preset, corpus, tmp_path / "joined", max_steps=4,
                              head_warmup_steps=2), log=lines.append)
    assert any("head warm-up done after 2 steps" in line for line in lines)
    changed = [not np.array_equal(before, after) for before, after
               in zip(original, backbone_weights(joined["preset"]))]
    assert sum(changed) > len(changed) // 2


# === Reading unlabeled text ===

def test_read_texts_from_each_format(tmp_path, drug_rows):
    texts = [text for text, _ in drug_rows[:3]]
    (tmp_path / "a.txt").write_text(f"{texts[0]}\n\n  \n{texts[1]}\n", encoding="utf-8")
    txt = read_texts(str(tmp_path / "a.txt"))
    assert (txt.texts, txt.skipped) == (texts[:2], 2)
    assert txt.sources[1].endswith("a.txt:4")
    rows = [(texts[0], "x"), ("", "y"), (texts[2], "z")]
    for ext in ("csv", "tsv", "jsonl"):
        table = read_texts(write_rows(tmp_path / f"b.{ext}", rows, ("review", "rating")), "review")
        assert (table.texts, table.skipped) == ([texts[0], texts[2]], 1), ext


def test_read_texts_from_tfds_offline(tmp_path, drug_rows):
    _prepare_local_tfds(tmp_path, drug_rows)
    texts = read_texts("tfds:drug_reviews_local:test", "text", tfds_data_dir=str(tmp_path))
    assert sorted(texts.texts) == sorted(text for text, _ in drug_rows[30:40])


# === Mistakes: one clear line, nothing written ===

@pytest.mark.parametrize("change, message", [
    (dict(train_data="/nonexistent/corpus.txt"),
     r"^--train_data=/nonexistent/corpus\.txt: file not found$"),
    (dict(train_data="EMPTY"), r"^--train_data=.*blank\.txt: no text found \(only blank lines\)"),
    (dict(train_data="TABLE"),
     r"table\.csv:2: no column 'text' \(found 'review', 'rating'\); set --text_column"),
    (dict(train_data="corpus.docx"),
     r"unsupported file type '\.docx'; use \.txt, \.csv, \.tsv or \.jsonl"),
    (dict(sequence_length=256), r"^--sequence_length=256: the backbone has 128 positions at most$"),
    (dict(batch_size=100), r"^--batch_size=100 is larger than the 64 training texts"),
    (dict(validation_split=0.001), r"^--validation_split=0.001 of 80 texts holds out 0"),
    (dict(validation_data="CORPUS"), r"every held-out text is also a training text"),
    (dict(output_preset="USED"), r"^--output_preset=.*: is not empty; pass --overwrite"),
    (dict(preset="/nonexistent/model"), r"^--preset=/nonexistent/model: folder not found$"),
])
def test_bad_input_writes_nothing(tmp_path, tiny_preset, corpus, change, message):
    (tmp_path / "blank.txt").write_text("\n  \n\n")
    write_rows(tmp_path / "table.csv", [("great", "9")], ("review", "rating"))
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    stand_ins = {"EMPTY": str(tmp_path / "blank.txt"), "TABLE": str(tmp_path / "table.csv"),
                 "CORPUS": corpus, "USED": str(tmp_path / "used"),
                 "corpus.docx": str(tmp_path / "corpus.docx")}
    (tmp_path / "corpus.docx").write_text("x")
    change = {k: stand_ins.get(v, v) for k, v in change.items()}
    config = _config(tiny_preset, corpus, tmp_path / "model", **change)
    with pytest.raises(UserError, match=message):
        pretrain(config, log=lambda _: None)
    assert not os.path.exists(tmp_path / "model")
    assert (tmp_path / "used" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("change, message", [
    (dict(mask_rate=1.5), r"^--mask_rate must be in \(0, 1\)"),
    (dict(sequence_length=3), r"^--sequence_length must be in \[4, 4096\]"),
    (dict(max_steps=-1), r"^--max_steps must be non-negative"),
    (dict(encoding="latin-9x"), r"^--encoding is 'latin-9x'"),
    (dict(output_preset="p"), r"^--output_preset must differ from --preset"),
])
def test_bad_flag_values_are_refused_by_the_config(change, message):
    with pytest.raises(UserError, match=message):
        PretrainConfig(**{"train_data": "t.txt", "preset": "p", "model_dir": "m", **change})


@pytest.mark.parametrize("name", ["pretrain_dapt_tweets", "pretrain_tapt_tweets"])
def test_the_shipped_flagfiles_parse(name, monkeypatch):
    from absl import flags

    from tfadapt import cli

    monkeypatch.chdir(REPO)  # the flagfiles name paths from the repository root
    fv = flags.FlagValues()
    cli.define_pretrain_flags(fv)
    fv(["tfadapt.pretrain", f"--flagfile={os.path.join(REPO, 'configs', name + '.flags')}"])
    config = cli.pretrain_config_from_flags(fv)
    assert config.preset == os.path.join(REPO, ".assets", "all-minilm-l6-v2")
    assert config.model_dir == os.path.join(REPO, "runs", "pretrain", name[len("pretrain_"):])
    assert config.sequence_length == 64


def test_the_command_runs_a_flagfile_and_refuses_a_bad_flag(tmp_path, tiny_preset, corpus):
    flagfile = tmp_path / "pretrain.flags"
    flagfile.write_text("# a pretraining job\n" + "".join(f"--{k}={v}\n" for k, v in {
        "train_data": corpus, "preset": tiny_preset, "model_dir": tmp_path / "model",
        "sequence_length": 64, "batch_size": 16, "epochs": 1, "learning_rate": 5e-3,
        "bucket_boundaries": "16,32"}.items()) + "--whole_word_masking\n")
    result = run_module("tfadapt.pretrain", f"--flagfile={flagfile}", "--max_steps=2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "held-out perplexity" in result.stdout and "tfadapt.train --preset=" in result.stdout
    saved = json.load(open(tmp_path / "model" / "pretrain.json"))
    assert saved["config"]["max_steps"] == 2 and saved["config"]["whole_word_masking"]
    assert os.path.isfile(tmp_path / "model" / "preset" / "config.json")

    bad = run_module("tfadapt.pretrain", f"--flagfile={flagfile}", "--mask_rate=0",
                     f"--model_dir={tmp_path / 'other'}")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "tfadapt.pretrain: error: --mask_rate must be in (0, 1)" in bad.stderr
    assert not os.path.exists(tmp_path / "other")


@pytest.mark.large
def test_masked_lm_on_the_real_minilm_weights(minilm_dir, corpus, tmp_path):
    """MiniLM ships no masked-LM head: BertMaskedLM ties its decoder to MiniLM's token
    embedding and starts the transform untrained; the held-out loss is still finite."""
    config = PretrainConfig(train_data=corpus, preset=minilm_dir, model_dir=str(tmp_path / "run"),
                            sequence_length=32, batch_size=8, epochs=1, max_steps=2,
                            validation_split=0.1)
    summary = pretrain(config, log=lambda _: None)
    assert [point["step"] for point in summary["loss_curve"]] == [0, 2]
    assert 1 < summary["perplexity_before"] < 1e6 and np.isfinite(summary["perplexity_after"])
    assert summary["heldout_examples"] == 8 and summary["heldout_masked_tokens"] > 8
