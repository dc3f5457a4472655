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
TASKS = ("classification", "multilabel", "regression", "pair", "token_classification")
# What each task's early stopping may monitor; the first is the default (`auto`).
MONITORS = {
    "classification": ("val_macro_f1", "val_accuracy", "val_loss"),
    "pair": ("val_macro_f1", "val_accuracy", "val_loss"),
    "multilabel": ("val_macro_f1", "val_micro_f1", "val_loss"),
    "regression": ("val_loss", "val_rmse"),
    "token_classification": ("val_entity_f1", "val_token_accuracy", "val_loss"),
}
REGRESSION_LOSSES = ("mse", "huber")
AUGMENT_OPS = ("synonym", "swap", "delete", "insert")
_UNFREEZE = re.compile(r"(\d+)\s*(epoch|step)s?")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a fine-tuning run needs. Field names are the flag names."""

    # === Data ===
    train_data: str
    preset: str
    model_dir: str
    task: str = "classification"
    validation_data: Optional[str] = None
    test_data: Optional[str] = None
    text_column: str = "text"
    label_column: str = "label"
    text_pair_column: Optional[str] = None
    label_columns: Tuple[str, ...] = ()
    label_delimiter: str = "|"
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
    pseudo_labels: Optional[str] = None  # written by self-training (tfadapt.adapt)
    soft_pseudo_labels: bool = False

    # === Model ===
    sequence_length: int = 256
    dropout: float = 0.1
    pooling: str = "mean"
    prompt_tuning_length: int = 0
    prompt_init_words: Tuple[str, ...] = ()
    lora_rank: int = 0
    lora_alpha: float = 0.0
    threshold: str = "auto"
    regression_loss: str = "mse"

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
    early_stopping_metric: str = "auto"
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
        _check(self.task in TASKS, "task", f"is {self.task!r}; choose one of {', '.join(TASKS)}")
        _check(self.text_column, "text_column", "must not be empty")
        _check((self.task == "pair") == bool(self.text_pair_column), "text_pair_column",
               "names the second text's column of --task=pair (and only of it)")
        _check(self.task == "multilabel" or not self.label_columns, "label_columns",
               "(one 0/1 column per label) is for --task=multilabel")
        _check(self.label_delimiter.strip(), "label_delimiter", "must not be blank")
        _check(self.task == "multilabel" or self.threshold == "auto", "threshold",
               "is for --task=multilabel")
        _check(self.threshold == "auto" or _is_probability(self.threshold), "threshold",
               f"is {self.threshold!r}; expected auto (tuned per label on validation data) "
               "or a probability such as 0.5")
        _check(self.task in ("classification", "pair") or self.class_weights == "none",
               "class_weights", "is for --task=classification or pair")
        _check(self.task not in ("pair", "token_classification") or not self.augment_copies,
               "augment_copies", f"(EDA) does not apply to --task={self.task}")
        _check(self.task == "regression" or self.regression_loss == "mse", "regression_loss",
               "is for --task=regression")
        _check(self.task == "multilabel" or self.label_delimiter == "|", "label_delimiter",
               "is for --task=multilabel")
        _check(self.task != "regression" or self.labels is None, "labels",
               "does not apply to --task=regression (the target is a number)")
        _check(self.task != "token_classification" or self.pooling == "mean", "pooling",
               "does not apply to --task=token_classification (every token is tagged)")
        monitors = MONITORS.get(self.task, ())
        _check(self.early_stopping_metric in ("auto",) + monitors, "early_stopping_metric",
               f"is {self.early_stopping_metric!r}; --task={self.task} monitors one of "
               f"auto, {', '.join(monitors)}")
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
        _check(self.task == "classification" or not self.pseudo_labels, "pseudo_labels",
               "(self-training) is for --task=classification")
        _check(self.pseudo_labels or not self.soft_pseudo_labels, "soft_pseudo_labels",
               "has no effect without --pseudo_labels")
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
                              ("regression_loss", REGRESSION_LOSSES)):
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
        return _flagfile(self, command)


    @property
    def eda_ops(self):
        """The EDA operations a run uses: --augment_ops, or all that the thesaurus allows."""
        if self.augment_ops:
            return self.augment_ops
        return AUGMENT_OPS if self.synonyms else ("swap", "delete")

    @property
    def monitor(self):
        """The metric early stopping and the best checkpoint follow (`auto` resolved)."""
        if self.early_stopping_metric == "auto":
            return MONITORS[self.task][0]
        return self.early_stopping_metric

    @property
    def unfreeze_plan(self):
        """(every, unit) of --unfreeze_schedule, e.g. (1, "epoch"); None when off."""
        match = _UNFREEZE.fullmatch(self.unfreeze_schedule or "")
        return (int(match[1]), match[2]) if match else None


LIST_FIELDS = ("labels", "bucket_boundaries", "augment_ops", "prompt_init_words",
               "label_columns")
_INPUT_PATHS = ("train_data", "validation_data", "test_data", "preset", "tfds_data_dir",
                "synonyms", "pseudo_labels")
_OUTPUT_DIRS = ("model_dir", "export_dir")


def _flagfile(config, command):
    lines = [f"# Re-run this job with: {command} --flagfile=<this file>"]
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if value is None or field.name == "overwrite":
            continue
        if isinstance(value, bool):
            lines.append(f"--{field.name}" if value else f"--no{field.name}")
            continue
        if isinstance(value, tuple):
            value = ",".join(str(v) for v in value)
        lines.append(f"--{field.name}={value}")
    return "\n".join(lines) + "\n"


def _is_probability(text):
    try:
        return 0 < float(text) < 1
    except ValueError:
        return False


def _known_encoding(name):
    try:
        codecs.lookup(name)
        return True
    except LookupError:
        return False


def _check(ok, flag, message):
    if not ok:
        raise UserError(f"--{flag} {message}")


# === Masked-LM pretraining (`python -m tfadapt.pretrain`) ===


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    """Everything a masked-LM pretraining run needs. Field names are the flag names.

    Domain-adaptive (DAPT) and task-adaptive (TAPT) pretraining differ only in
    `train_data`: a large domain corpus, or the task's own training text.

    Example:
    >>> PretrainConfig(train_data=".assets/tweets/train.csv", preset=".assets/all-minilm-l6-v2",
    ...                model_dir="runs/tapt", sequence_length=64).preset_dir
    'runs/tapt/preset'
    """

    # === Data ===
    train_data: str
    preset: str
    model_dir: str
    validation_data: Optional[str] = None
    validation_split: float = 0.1
    text_column: str = "text"
    encoding: str = "utf-8"
    tfds_data_dir: Optional[str] = None
    max_train_examples: int = 0

    # === Masking ===
    sequence_length: int = 128
    mask_rate: float = 0.15
    whole_word_masking: bool = False

    # === Optimization ===
    batch_size: int = 32
    epochs: int = 3
    max_steps: int = 0
    eval_every_steps: int = 0
    head_warmup_steps: int = 0
    learning_rate: float = 1e-4
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    seed: int = 42

    # === Runtime ===
    output_preset: Optional[str] = None
    strategy: str = "auto"
    tpu: Optional[str] = None
    jit_compile: str = "auto"
    mixed_precision: str = "auto"
    bucket_boundaries: Tuple[int, ...] = TrainConfig.bucket_boundaries
    overwrite: bool = False

    def __post_init__(self):
        _check(self.train_data, "train_data", "is required")
        _check(self.preset, "preset", "is required")
        _check(self.model_dir, "model_dir", "is required")
        _check(self.text_column, "text_column", "must not be empty")
        _check(0 < self.validation_split < 1, "validation_split", "must be in (0, 1)")
        _check(_known_encoding(self.encoding), "encoding",
               f"is {self.encoding!r}, which Python does not know (e.g. utf-8, latin-1)")
        _check(self.max_train_examples >= 0, "max_train_examples", "must be non-negative")
        # [CLS], [SEP] and at least two pieces, one of which can be masked.
        _check(4 <= self.sequence_length <= 4096, "sequence_length", "must be in [4, 4096]")
        _check(0 < self.mask_rate < 1, "mask_rate", "must be in (0, 1); BERT uses 0.15")
        _check(self.batch_size >= 1, "batch_size", "must be at least 1")
        _check(self.epochs >= 1, "epochs", "must be at least 1")
        _check(self.max_steps >= 0, "max_steps", "must be non-negative (0: --epochs decides)")
        _check(self.eval_every_steps >= 0, "eval_every_steps",
               "must be non-negative (0: after every epoch)")
        _check(self.head_warmup_steps >= 0, "head_warmup_steps",
               "must be non-negative (0: the backbone trains from the first step)")
        _check(self.learning_rate > 0, "learning_rate", "must be positive")
        _check(0 <= self.warmup_ratio < 1, "warmup_ratio", "must be in [0, 1)")
        _check(self.weight_decay >= 0, "weight_decay", "must be non-negative")
        _check(list(self.bucket_boundaries) == sorted(set(self.bucket_boundaries))
               and all(b > 0 for b in self.bucket_boundaries),
               "bucket_boundaries", "must be increasing positive integers")
        _check(not self.output_preset or os.path.abspath(self.output_preset)
               != os.path.abspath(self.preset), "output_preset",
               "must differ from --preset (the run would overwrite what it reads)")
        for name, choices in (("strategy", STRATEGIES), ("jit_compile", TRISTATE),
                              ("mixed_precision", MIXED_PRECISION)):
            value = getattr(self, name)
            _check(value in choices, name, f"is {value!r}; choose one of {', '.join(choices)}")

    @property
    def preset_dir(self):
        """Where the adapted backbone + tokenizer go: --output_preset, else MODEL_DIR/preset."""
        return self.output_preset or os.path.join(self.model_dir, "preset")

    # === Serialization ===

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        values = json.loads(text)
        values["bucket_boundaries"] = tuple(values.get("bucket_boundaries") or ())
        return cls(**values)

    def with_absolute_paths(self):
        """The same job with local paths made absolute (see `TrainConfig.with_absolute_paths`)."""
        changes = {}
        for name in ("model_dir", "output_preset", "train_data", "validation_data", "preset",
                     "tfds_data_dir"):
            value = getattr(self, name)
            if value and (name in ("model_dir", "output_preset") or os.path.exists(value)):
                changes[name] = os.path.abspath(value)
        return dataclasses.replace(self, **changes)

    def to_flagfile(self, command="python -m tfadapt.pretrain"):
        """A flagfile that re-runs this exact job (--overwrite is left out)."""
        return _flagfile(self, command)


# === Domain adaptation end to end (`python -m tfadapt.adapt`) ===


@dataclasses.dataclass(frozen=True)
class AdaptConfig:
    """A fine-tuning job (`train`, with every `tfadapt.train` setting) and how to adapt
    its base model to the domain first. `domain_data` unset: task-adaptive pretraining
    on the task's own training text (TAPT); set: domain-adaptive pretraining on it (DAPT).
    """

    train: TrainConfig
    domain_data: Optional[str] = None
    domain_text_column: str = "text"
    domain_encoding: str = "utf-8"
    mlm_max_examples: int = 0
    mlm_sequence_length: int = 128
    mlm_batch_size: int = 32
    mlm_epochs: int = 1
    mlm_max_steps: int = 0
    mlm_eval_every_steps: int = 0
    mlm_head_warmup_steps: int = 0
    mlm_learning_rate: float = 1e-4
    mask_rate: float = 0.15
    whole_word_masking: bool = False
    extra_test_data: Tuple[str, ...] = ()
    extra_text_column: Optional[str] = None
    extra_label_column: Optional[str] = None
    methods: Tuple[str, ...] = ()  # () : none and dapt (with --domain_data) or tapt
    seeds: Tuple[int, ...] = ()  # () : --seed alone
    target_validation_data: Optional[str] = None
    self_training_rounds: int = 1
    self_training_threshold: float = 0.0  # 0: --self_training_top_fraction decides
    self_training_top_fraction: float = 0.0  # 0 with no threshold: 0.5
    self_training_soft: bool = False
    self_training_eda_copies: int = 0
    self_training_max_texts: int = 0

    def __post_init__(self):
        from tfadapt.training.adaptation import METHODS, parse_test_sets, pretrain_config

        unknown = [m for m in self.methods if m not in METHODS]
        _check(not unknown, "methods", f"has {', '.join(unknown)}; choose from "
               f"{', '.join(METHODS)}")
        _check(len(set(self.methods)) == len(self.methods), "methods", "names a method twice")
        needs_domain = [m for m in self.methods if m not in ("none", "tapt")]
        _check(self.domain_data or not needs_domain, "methods",
               f"{', '.join(needs_domain)} needs --domain_data (the unlabeled domain text)")
        _check(len(set(self.seeds)) == len(self.seeds), "seeds", "names a seed twice")
        _check(not (self.target_validation_data and self.train.validation_data),
               "target_validation_data", "and --validation_data both name the validation "
               "data; give one")
        _check(not (self.train.pseudo_labels or self.train.soft_pseudo_labels), "pseudo_labels",
               "is set by self-training inside tfadapt.adapt; use --self_training_soft")
        _check(self.self_training_rounds >= 1, "self_training_rounds", "must be at least 1")
        _check(0 <= self.self_training_threshold < 1, "self_training_threshold",
               "must be in [0, 1) (0: off)")
        _check(0 <= self.self_training_top_fraction <= 1, "self_training_top_fraction",
               "must be in [0, 1] (0: off)")
        _check(not (self.self_training_threshold and self.self_training_top_fraction),
               "self_training_threshold", "and --self_training_top_fraction are two ways to "
               "choose pseudo-labels; give one")
        _check(self.self_training_eda_copies >= 0, "self_training_eda_copies",
               "must be non-negative")
        _check(self.self_training_max_texts >= 0, "self_training_max_texts",
               "must be non-negative")
        _check(self.train.task == "classification" or not set(self.methods) & {
            "self_training", "dapt+self_training"}, "methods", "self-training is for "
               "--task=classification")

        _check(self.train.test_data, "test_data", "is required: the report compares the "
               "methods on it")
        _check(self.mlm_epochs >= 1, "mlm_epochs", "must be at least 1")
        _check(self.mlm_head_warmup_steps >= 0, "mlm_head_warmup_steps",
               "must be non-negative (0: the backbone trains from the first step)")
        _check(self.mlm_eval_every_steps >= 0, "mlm_eval_every_steps",
               "must be non-negative (0: after every epoch)")
        _check(self.mlm_max_steps >= 0, "mlm_max_steps", "must be non-negative (0: "
               "--mlm_epochs decides)")
        _check(self.mlm_max_examples >= 0, "mlm_max_examples", "must be non-negative")
        _check(4 <= self.mlm_sequence_length <= 4096, "mlm_sequence_length",
               "must be in [4, 4096]")
        _check(self.mlm_batch_size >= 1, "mlm_batch_size", "must be at least 1")
        _check(self.mlm_learning_rate > 0, "mlm_learning_rate", "must be positive")
        _check(0 < self.mask_rate < 1, "mask_rate", "must be in (0, 1); BERT uses 0.15")
        _check(self.domain_data or (self.domain_text_column == "text"
                                    and self.domain_encoding == "utf-8"),
               "domain_text_column", "and --domain_encoding describe --domain_data; set it "
               "or leave them out")
        _check(self.extra_test_data or not (self.extra_text_column or self.extra_label_column),
               "extra_text_column", "and --extra_label_column describe --extra_test_data")
        _check(_known_encoding(self.domain_encoding), "domain_encoding",
               f"is {self.domain_encoding!r}, which Python does not know")
        parse_test_sets(self.extra_test_data)
        # The masked-LM settings are checked as a PretrainConfig.
        pretrain_config(self, "dapt", self.train.seed)

    @property
    def method_list(self):
        """The methods to run, "none" (plain fine-tuning, the reference) first."""
        methods = self.methods or ("dapt" if self.domain_data else "tapt",)
        return ("none",) + tuple(m for m in methods if m != "none")

    @property
    def seed_list(self):
        return self.seeds or (self.train.seed,)

    @property
    def self_training(self):
        from tfadapt.training.self_training import SelfTraining

        threshold = self.self_training_threshold or None
        return SelfTraining(
            rounds=self.self_training_rounds, threshold=threshold,
            top_fraction=None if threshold else self.self_training_top_fraction or 0.5,
            soft=self.self_training_soft, eda_copies=self.self_training_eda_copies)

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    def with_absolute_paths(self):
        changes = {"train": self.train.with_absolute_paths()}
        for name in ("domain_data", "target_validation_data"):
            value = getattr(self, name)
            if value and os.path.exists(value):
                changes[name] = os.path.abspath(value)
        return dataclasses.replace(self, **changes)
