"""Flags → one validated config; the flagfile a run writes re-runs the same job."""

import dataclasses

import pytest
from absl import flags

from tfadapt import cli
from tfadapt.config import TrainConfig
from tfadapt.errors import UserError


def _parse(argv):
    fv = flags.FlagValues()
    cli.define_train_flags(fv)
    fv(["tfadapt.train", *argv])
    return cli.train_config_from_flags(fv)


def test_command_line_overrides_the_flagfile(tmp_path):
    flagfile = tmp_path / "job.flags"
    flagfile.write_text("# a comment\n--train_data=t.csv\n--preset=p\n--model_dir=m\n"
                        "--epochs=7\n--labels=b,a\n")
    config = _parse([f"--flagfile={flagfile}", "--epochs=2", "--freeze_layers=1"])
    assert (config.epochs, config.freeze_layers, config.labels) == (2, 1, ("b", "a"))
    assert config.bucket_boundaries == TrainConfig.bucket_boundaries


def test_unknown_enum_value_is_a_flag_error():
    with pytest.raises(flags.IllegalFlagValueError, match="optimizer"):
        _parse(["--train_data=t.csv", "--preset=p", "--model_dir=m", "--optimizer=lamb"])


def test_required_flags_are_flag_errors():
    with pytest.raises(flags.IllegalFlagValueError, match="--train_data"):
        _parse(["--preset=p", "--model_dir=m"])


def test_paths_become_absolute_at_the_edge(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.csv").write_text("text,label\n")
    config = _parse(["--train_data=t.csv", "--preset=bert_base_en_uncased", "--model_dir=m",
                     "--test_data=tfds:imdb_reviews"])
    assert config.train_data == str(tmp_path / "t.csv")
    assert config.model_dir == str(tmp_path / "m")
    assert config.preset == "bert_base_en_uncased"  # a hub name stays a name
    assert config.test_data == "tfds:imdb_reviews"


def test_unknown_encoding_names_the_flag():
    with pytest.raises(UserError, match="--encoding is 'utf-9', which Python does not know"):
        TrainConfig(train_data="t", preset="p", model_dir="m", encoding="utf-9")


@pytest.mark.parametrize("argv, message", [
    (["--warmup_ratio=1.5"], "--warmup_ratio must be in"),
    (["--validation_split=0"], "--validation_split must be in"),
    (["--labels=a,a"], "--labels has duplicates"),
    (["--labels=a"], "--labels needs at least two"),
    (["--bucket_boundaries=64,32"], "--bucket_boundaries must be increasing"),
    (["--bucket_boundaries=a"], "--bucket_boundaries=a: expected integers"),
    (["--batch_size=0"], "--batch_size must be at least 1"),
    (["--layer_lr_decay=0"], "--layer_lr_decay must be in"),
    (["--unfreeze_schedule=often"], "--unfreeze_schedule is 'often'; expected e.g. 1epoch"),
    (["--unfreeze_schedule=0steps"], "--unfreeze_schedule must be at least 1"),
    (["--lora_rank=4", "--prompt_tuning_length=8"], "--lora_rank and --prompt_tuning_length"),
    (["--unfreeze_schedule=1epoch", "--freeze_backbone"], "--unfreeze_schedule needs a backbone"),
    (["--class_weights=heavy"], "--class_weights is 'heavy'"),
    (["--augment_copies=1", "--augment_ops=swap,insert"], "synonym and insert need --synonyms"),
    (["--lora_rank=4", "--freeze_backbone"], "--lora_rank and --freeze_backbone exclude"),
    (["--lora_alpha=16"], "--lora_alpha has no effect without --lora_rank"),
    (["--prompt_init_words=pain"], "--prompt_init_words has no effect without"),
    (["--prompt_tuning_length=4", "--layer_lr_decay=0.8"], "--layer_lr_decay has no effect"),
    (["--augment_copies=1", "--augment_ops=swap,shout"], "--augment_ops has shout"),
])
def test_bad_values_name_their_flag(argv, message):
    with pytest.raises(UserError, match=message):
        _parse(["--train_data=t.csv", "--preset=p", "--model_dir=m"] + argv)


def test_written_flagfile_reparses_to_the_same_config(tmp_path):
    (tmp_path / "t.csv").write_text("text,label\n")
    config = TrainConfig(train_data=str(tmp_path / "t.csv"), preset="p",
                         model_dir=str(tmp_path / "m"), labels=("x", "y"),
                         freeze_embeddings=True, epochs=4, overwrite=True)
    flagfile = tmp_path / "config.flags"
    flagfile.write_text(config.to_flagfile())
    assert "overwrite" not in flagfile.read_text()  # re-running never deletes a run
    assert _parse([f"--flagfile={flagfile}"]) == dataclasses.replace(config, overwrite=False)


def test_json_round_trip():
    config = TrainConfig(train_data="t.csv", preset="p", model_dir="m", labels=("x", "y"))
    assert TrainConfig.from_json(config.to_json()) == config


def test_eda_ops_default_to_what_the_thesaurus_allows():
    base = dict(train_data="t", preset="p", model_dir="m", augment_copies=1)
    assert TrainConfig(**base).eda_ops == ("swap", "delete")
    assert TrainConfig(**base, synonyms="s.txt").eda_ops == ("synonym", "swap", "delete", "insert")
    assert TrainConfig(**base, augment_ops=("delete",)).eda_ops == ("delete",)
