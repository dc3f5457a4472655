"""Load a BERT backbone and its tokenizer from any preset a user can name.

`--preset` accepts:
- a local Hugging Face BERT folder (`config.json` with `"model_type": "bert"`), which
  keras-hub converts on load;
- a local KerasHub preset folder (for instance the `preset/` a tfadapt run writes);
- a KerasHub / Kaggle preset name (`bert_base_en_uncased`, `kaggle://…`) or `hf://…`;
  both need internet, and fail with one clear line without it.
"""

import json
import os

from tfadapt.errors import UserError, first_line

HUB_PREFIXES = ("hf://", "kaggle://", "modelscope://")


def describe_preset(preset):
    """Returns "hf_folder", "keras_hub_folder" or "hub", or raises a UserError."""
    if preset.startswith(HUB_PREFIXES):
        return "hub"
    if not os.path.exists(preset):
        if os.sep in preset or preset.startswith("."):
            raise UserError(f"--preset={preset}: folder not found")
        return "hub"  # A bare name such as bert_base_en_uncased.
    config_path = os.path.join(preset, "config.json")
    if not os.path.isdir(preset) or not os.path.isfile(config_path):
        raise UserError(f"--preset={preset}: not a model folder (no config.json); expected a "
                        "Hugging Face BERT checkpoint or a KerasHub preset")
    try:
        with open(config_path) as f:
            config = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"--preset={preset}: config.json is not valid JSON ({e})") from None
    if "model_type" in config:
        if config["model_type"] != "bert":
            raise UserError(f"--preset={preset}: config.json says model_type "
                            f"{config['model_type']!r}; tfadapt fine-tunes BERT checkpoints")
        if not any(os.path.isfile(os.path.join(preset, f))
                   for f in ("model.safetensors", "model.safetensors.index.json")):
            raise UserError(f"--preset={preset}: no model.safetensors (keras-hub reads Hugging "
                            "Face weights in safetensors format)")
        return "hf_folder"
    if config.get("class_name") == "BertBackbone":
        return "keras_hub_folder"
    raise UserError(f"--preset={preset}: config.json describes {config.get('class_name')!r}, "
                    "not a BERT checkpoint")


def load_backbone_and_tokenizer(preset, dropout=None, dtype=None):
    """The `BertBackbone` and `BertTokenizer` of `preset`.

    Args:
        preset: see the module docstring.
        dropout: overrides the checkpoint's dropout rate when given.
        dtype: the backbone's dtype policy name (e.g. "mixed_bfloat16").
    """
    import keras_hub

    kind = describe_preset(preset)
    overrides = {}
    if dropout is not None:
        overrides["dropout"] = dropout
    if dtype is not None:
        overrides["dtype"] = dtype
    tokenizer_overrides = {}
    if kind == "hf_folder" and _hf_strips_accents(preset):
        # keras-hub leaves strip_accents False for HF folders, which maps "café" to
        # [UNK]; the HF BERT tokenizer strips accents whenever it lowercases.
        tokenizer_overrides["strip_accents"] = True
    try:
        backbone = keras_hub.models.BertBackbone.from_preset(preset, **overrides)
        tokenizer = keras_hub.models.BertTokenizer.from_preset(preset, **tokenizer_overrides)
    except UserError:
        raise
    except Exception as e:  # Hub and converter errors come in many types.
        message = first_line(e)
        if kind == "hub":
            raise UserError(f"--preset={preset}: could not fetch it from the hub ({message}); "
                            "without internet, pass a local Hugging Face or KerasHub folder") from None
        raise UserError(f"--preset={preset}: keras-hub could not load it ({message})") from None
    return backbone, tokenizer


def _hf_strips_accents(folder):
    path = os.path.join(folder, "tokenizer_config.json")
    if not os.path.isfile(path):
        return True
    try:
        with open(path) as f:
            config = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"--preset={folder}: tokenizer_config.json is not valid JSON ({e})") from None
    if config.get("strip_accents") is not None:
        return bool(config["strip_accents"])
    return bool(config.get("do_lower_case", True))
