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


@pytest.mark.parametrize("argv, message", [
    ([], "--train_data is required"),
    (["--warmup_ratio=1.5"], "--warmup_ratio must be in"),
    (["--validation_split=0"], "--validation_split must be in"),
    (["--labels=a,a"], "--labels has duplicates"),
    (["--labels=a"], "--labels needs at least two"),
    (["--bucket_boundaries=64,32"], "--bucket_boundaries must be increasing"),
    (["--bucket_boundaries=a"], "--bucket_boundaries=a: expected integers"),
    (["--batch_size=0"], "--batch_size must be at least 1"),
])
def test_bad_values_name_their_flag(argv, message):
    base = [] if not argv else ["--train_data=t.csv", "--preset=p", "--model_dir=m"]
    with pytest.raises(UserError, match=message):
        _parse(base + argv)


def test_written_flagfile_reparses_to_the_same_config(tmp_path):
    config = TrainConfig(train_data="t.csv", preset="p", model_dir=str(tmp_path / "m"),
                         labels=("x", "y"), freeze_embeddings=True, epochs=4)
    flagfile = tmp_path / "config.flags"
    flagfile.write_text(config.to_flagfile())
    reparsed = _parse([f"--flagfile={flagfile}"])
    assert dataclasses.replace(reparsed, model_dir=config.model_dir) == config


def test_json_round_trip():
    config = TrainConfig(train_data="t.csv", preset="p", model_dir="m", labels=("x", "y"))
    assert TrainConfig.from_json(config.to_json()) == config
