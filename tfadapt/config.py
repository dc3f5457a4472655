"""The validated, typed configuration of a training run.

Entry modules turn flags into a `TrainConfig` once, at the edge; every other module takes
the config (or plain arguments) and never reads flags. Tests build configs directly.
"""

import codecs
import dataclasses
import json
import os
import re
from typing import Optional, Tuple

from tfadapt.errors import UserError
from tfadapt.training.lr_rules import parse_rules

STRATEGIES = ("auto", "cpu", "gpu", "multi_gpu", "tpu")
OPTIMIZERS = ("adamw", "adam", "sgd")
LR_DECAYS = ("linear", "constant")
TRISTATE = ("auto", "true", "false")
MIXED_PRECISION = ("auto", "off", "bf16", "fp16")
POOLINGS = ("mean", "cls")
MONITORED = ("val_macro_f1", "val_accuracy", "val_loss")
AUGMENT_OPS = ("synonym", "swap", "delete", "insert")
_UNFREEZE = re.compile(r"(\d+)\s*(epoch|step)s?")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a fine-tuning run needs. Field names are the flag names."""

    # === Data ===
    train_data: str
    preset: str
    model_dir: str
    validation_data: Optional[str] = None
    test_data: Optional[str] = None
    text_column: str = "text"
    label_column: str = "label"
    labels: Optional[Tuple[str, ...]] = None
    validation_split: float = 0.1
    encoding: str = "utf-8"
    tfds_data_dir: Optional[str] = None
    max_train_examples: int = 0
    class_weights: str = "none"
    augment_copies: int = 0
    augment_ops: Tuple[str, ...] = ()  # () : all four with --synonyms, else swap and delete
    augment_rate: float = 0.1
    synonyms: Optional[str] = None

    # === Model ===
    sequence_length: int = 256
    dropout: float = 0.1
    pooling: str = "mean"
    prompt_tuning_length: int = 0
    prompt_init_words: Tuple[str, ...] = ()
    lora_rank: int = 0
    lora_alpha: float = 0.0

    # === Optimization ===
    batch_size: int = 32
    epochs: int = 3
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1
    lr_decay: str = "linear"
    weight_decay: float = 0.01
    clip_norm: float = 1.0
    optimizer: str = "adamw"
    seed: int = 42
    early_stopping_patience: int = 2
    early_stopping_metric: str = "val_macro_f1"
    freeze_embeddings: bool = False
    freeze_layers: int = 0
    freeze_backbone: bool = False
    layer_lr_decay: float = 1.0
    unfreeze_schedule: str = ""
    lr_rules: str = ""

    # === Runtime ===
    export_dir: Optional[str] = None
    strategy: str = "auto"
    tpu: Optional[str] = None
    jit_compile: str = "auto"
    mixed_precision: str = "auto"
    bucket_boundaries: Tuple[int, ...] = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384)
    overwrite: bool = False

    def __post_init__(self):
        _check(self.train_data, "train_data", "is required")
        _check(self.preset, "preset", "is required")
        _check(self.model_dir, "model_dir", "is required")
        _check(self.text_column, "text_column", "must not be empty")
        _check(self.label_column, "label_column", "must not be empty")
        _check(0 < self.validation_split < 1, "validation_split", "must be in (0, 1)")
        _check(2 <= self.sequence_length <= 4096, "sequence_length", "must be in [2, 4096]")
        _check(0 <= self.dropout < 1, "dropout", "must be in [0, 1)")
        _check(self.batch_size >= 1, "batch_size", "must be at least 1")
        _check(self.epochs >= 1, "epochs", "must be at least 1")
        _check(self.learning_rate > 0, "learning_rate", "must be positive")
        _check(0 <= self.warmup_ratio < 1, "warmup_ratio", "must be in [0, 1)")
        _check(self.weight_decay >= 0, "weight_decay", "must be non-negative")
        _check(self.clip_norm >= 0, "clip_norm", "must be non-negative (0 turns clipping off)")
        _check(self.early_stopping_patience >= 0, "early_stopping_patience",
               "must be non-negative (0 turns early stopping off)")
        _check(self.freeze_layers >= 0, "freeze_layers", "must be non-negative")
        _check(_known_encoding(self.encoding), "encoding",
               f"is {self.encoding!r}, which Python does not know (e.g. utf-8, latin-1)")
        _check(self.max_train_examples >= 0, "max_train_examples", "must be non-negative")
        parse_rules(self.lr_rules)  # syntax only; patterns are matched once the model exists
        _check(0 < self.layer_lr_decay <= 1, "layer_lr_decay", "must be in (0, 1] (1: off)")
        _check(not self.unfreeze_schedule or _UNFREEZE.fullmatch(self.unfreeze_schedule),
               "unfreeze_schedule", f"is {self.unfreeze_schedule!r}; expected e.g. 1epoch "
               "or 50steps (one more layer from the top every K epochs or steps)")
        _check(not self.unfreeze_plan or self.unfreeze_plan[0] >= 1, "unfreeze_schedule",
               "must be at least 1 epoch or step")
        _check(self.prompt_tuning_length >= 0, "prompt_tuning_length", "must be non-negative")
        _check(self.lora_rank >= 0, "lora_rank", "must be non-negative")
        _check(self.lora_alpha >= 0, "lora_alpha", "must be non-negative (0: the rank)")
        _check(not (self.lora_rank and self.prompt_tuning_length), "lora_rank",
               "and --prompt_tuning_length exclude each other; choose one")
        _check(not (self.lora_rank and self.freeze_backbone), "lora_rank",
               "and --freeze_backbone exclude each other (it would freeze the adapters too)")
        _check(self.lora_rank or not self.lora_alpha, "lora_alpha",
               "has no effect without --lora_rank")
        _check(self.prompt_tuning_length or not self.prompt_init_words, "prompt_init_words",
               "has no effect without --prompt_tuning_length")
        _check(all(w.strip() for w in self.prompt_init_words), "prompt_init_words",
               "has an empty word")
        _check(self.layer_lr_decay == 1 or not (self.freeze_backbone
                                                or self.prompt_tuning_length),
               "layer_lr_decay", "has no effect when the backbone is frozen")
        _check(not (self.unfreeze_schedule and (self.lora_rank or self.prompt_tuning_length
                                                or self.freeze_backbone)),
               "unfreeze_schedule", "needs a backbone that may train (not with --lora_rank, "
               "--prompt_tuning_length or --freeze_backbone)")
        _check(self.class_weights in ("none", "balanced") or "=" in self.class_weights,
               "class_weights", f"is {self.class_weights!r}; expected none, balanced or "
               "LABEL=WEIGHT,LABEL=WEIGHT")
        _check(self.augment_copies >= 0, "augment_copies", "must be non-negative")
        _check(0 < self.augment_rate <= 1, "augment_rate", "must be in (0, 1]")
        unknown = [op for op in self.augment_ops if op not in AUGMENT_OPS]
        _check(not unknown, "augment_ops",
               f"has {', '.join(unknown)}; choose from {', '.join(AUGMENT_OPS)}")
        _check(self.synonyms or not set(self.augment_ops) & {"synonym", "insert"},
               "augment_ops", "synonym and insert need --synonyms (a file with one synonym "
               "group per line)")
        _check(list(self.bucket_boundaries) == sorted(set(self.bucket_boundaries))
               and all(b > 0 for b in self.bucket_boundaries),
               "bucket_boundaries", "must be increasing positive integers")
        if self.labels is not None:
            _check(len(set(self.labels)) == len(self.labels), "labels", "has duplicates")
            _check(len(self.labels) >= 2, "labels", "needs at least two labels")
        for name, choices in (("strategy", STRATEGIES), ("optimizer", OPTIMIZERS),
                              ("lr_decay", LR_DECAYS), ("jit_compile", TRISTATE),
                              ("mixed_precision", MIXED_PRECISION), ("pooling", POOLINGS),
                              ("early_stopping_metric", MONITORED)):
            value = getattr(self, name)
            _check(value in choices, name, f"is {value!r}; choose one of {', '.join(choices)}")

    # === Serialization ===

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        values = json.loads(text)
        for key in LIST_FIELDS:
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        return cls(**values)

    def with_absolute_paths(self):
        """The same job with local paths made absolute, so it means the same from any folder.

        Output folders always; inputs only when they exist locally (a preset may be a hub
        name, data may be `tfds:…`).
        """
        changes = {}
        for name in _OUTPUT_DIRS + _INPUT_PATHS:
            value = getattr(self, name)
            if value and (name in _OUTPUT_DIRS or os.path.exists(value)):
                changes[name] = os.path.abspath(value)
        return dataclasses.replace(self, **changes)

    def to_flagfile(self, command="python -m tfadapt.train"):
        """A flagfile that re-runs this exact job (--overwrite is left out)."""
        lines = [f"# Re-run this job with: {command} --flagfile=<this file>"]
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None or field.name == "overwrite":
                continue
            if isinstance(value, bool):
                lines.append(f"--{field.name}" if value else f"--no{field.name}")
                continue
            if isinstance(value, tuple):
                value = ",".join(str(v) for v in value)
            lines.append(f"--{field.name}={value}")
        return "\n".join(lines) + "\n"


    @property
    def eda_ops(self):
        """The EDA operations a run uses: --augment_ops, or all that the thesaurus allows."""
        if self.augment_ops:
            return self.augment_ops
        return AUGMENT_OPS if self.synonyms else ("swap", "delete")

    @property
    def unfreeze_plan(self):
        """(every, unit) of --unfreeze_schedule, e.g. (1, "epoch"); None when off."""
        match = _UNFREEZE.fullmatch(self.unfreeze_schedule or "")
        return (int(match[1]), match[2]) if match else None


LIST_FIELDS = ("labels", "bucket_boundaries", "augment_ops", "prompt_init_words")
_INPUT_PATHS = ("train_data", "validation_data", "test_data", "preset", "tfds_data_dir",
                "synonyms")
_OUTPUT_DIRS = ("model_dir", "export_dir")


def _known_encoding(name):
    try:
        codecs.lookup(name)
        return True
    except LookupError:
        return False


def _check(ok, flag, message):
    if not ok:
        raise UserError(f"--{flag} {message}")
