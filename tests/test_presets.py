"""Loading a backbone from each kind of --preset, and the errors of bad ones."""

import json
import socket

import pytest

from tfadapt.errors import UserError
from tfadapt.models.presets import describe_preset, load_backbone_and_tokenizer


def test_kinds_of_preset(minilm_dir, tiny_preset):
    assert describe_preset(minilm_dir) == "hf_folder"
    assert describe_preset(tiny_preset) == "keras_hub_folder"
    assert describe_preset("bert_base_en_uncased") == "hub"
    assert describe_preset("hf://google-bert/bert-base-uncased") == "hub"


def test_keras_hub_preset_folder_loads_with_dropout_override(tiny_preset):
    backbone, tokenizer = load_backbone_and_tokenizer(tiny_preset, dropout=0.3)
    assert backbone.num_layers == 2 and backbone.dropout == 0.3
    assert tokenizer.vocabulary_size() == 30522


@pytest.mark.large
def test_hugging_face_folder_tokenizes_like_the_hf_tokenizer(minilm_dir):
    backbone, tokenizer = load_backbone_and_tokenizer(minilm_dir)
    assert (backbone.num_layers, backbone.hidden_dim) == (6, 384)
    # HF's BERT tokenizer strips accents when it lowercases: "café" → "cafe", not [UNK].
    assert list(tokenizer("Café")) == [7668]


def test_missing_folder(tmp_path):
    with pytest.raises(UserError, match=r"^--preset=.*/nope: folder not found$"):
        describe_preset(str(tmp_path / "nope"))


def test_folder_without_config(tmp_path):
    with pytest.raises(UserError, match="not a model folder \\(no config.json\\)"):
        describe_preset(str(tmp_path))


def test_folder_of_another_architecture(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(UserError, match="model_type 'gpt2'; tfadapt fine-tunes BERT"):
        describe_preset(str(tmp_path))


def test_bert_folder_without_safetensors(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(UserError, match="no model.safetensors"):
        describe_preset(str(tmp_path))


def test_keras_hub_folder_of_another_class(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"class_name": "GPT2Backbone"}))
    with pytest.raises(UserError, match="describes 'GPT2Backbone', not a BERT"):
        describe_preset(str(tmp_path))


@pytest.mark.parametrize("preset", ["bert_tiny_en_uncased", "hf://google-bert/bert-base-uncased"])
def test_hub_preset_without_network_is_one_clear_error(preset, monkeypatch):
    # The real hub code path runs up to its first connection; no machine reaches a hub here.
    def offline(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket.socket, "connect", offline)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # huggingface_hub then fails at once
    with pytest.raises(UserError, match=rf"^--preset={preset}: could not fetch it from the hub"):
        load_backbone_and_tokenizer(preset)
