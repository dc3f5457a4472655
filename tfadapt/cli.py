"""Flags of the tfadapt commands, defined once, and the error handling every entry shares.

Each entry module calls `define_*_flags(FLAGS)` in its `run()` and turns the parsed flags
into a typed config with `*_config_from_flags`. Nothing outside the entry modules reads
flags. This module does not import TensorFlow, so `--help` answers fast.
"""

import dataclasses
import sys

from absl import flags

from tfadapt import config as config_lib
from tfadapt.errors import UserError


def define_data_flags(fv):
    flags.DEFINE_string("text_column", "text", "Column (or TFDS feature) holding the text.", flag_values=fv)
    flags.DEFINE_string("label_column", "label", "Column (or TFDS feature) holding the label; "
                        "read as a string.", flag_values=fv)
    flags.DEFINE_string("text_pair_column", None, "--task=pair: the column (or TFDS "
                        "feature) holding each pair's second text.", flag_values=fv)
    flags.DEFINE_list("label_columns", [], "--task=multilabel with one 0/1 column per label: "
                      "those columns (--label_column is then not read).", flag_values=fv)
    flags.DEFINE_string("label_delimiter", "|", "--task=multilabel: what separates the labels "
                        "in the label column (an empty cell: no label).", flag_values=fv)
    flags.DEFINE_string("encoding", "utf-8", "Text encoding of the data files.", flag_values=fv)
    flags.DEFINE_string("tfds_data_dir", None, "Where TFDS datasets are prepared (TFDS's "
                        "default when unset).", flag_values=fv)


def define_train_flags(fv):
    """All flags of `python -m tfadapt.train`."""
    d = config_lib.TrainConfig
    define_data_flags(fv)
    # === Data ===
    flags.DEFINE_enum("task", d.task, config_lib.TASKS, "What to predict: a class per text "
                      "(classification), a set of labels (multilabel), a number (regression), a "
                      "class per text pair (pair), or a BIO tag per word from CoNLL files "
                      "(token_classification).", flag_values=fv)
    flags.DEFINE_string("train_data", None, "Training data: a .csv, .tsv or .jsonl file, or "
                        "tfds:NAME[:SPLIT]; a CoNLL file (token and tag per line) for "
                        "--task=token_classification.", flag_values=fv)
    flags.DEFINE_string("validation_data", None, "Validation data (same forms). When unset, "
                        "--validation_split of the training data is held out.", flag_values=fv)
    flags.DEFINE_string("test_data", None, "Test data, evaluated after training.", flag_values=fv)
    flags.DEFINE_list("labels", None, "The label vocabulary, in class-id order. Inferred "
                      "(sorted) from the training data when unset.", flag_values=fv)
    flags.DEFINE_float("validation_split", d.validation_split, "Share of each training class "
                       "held out for validation when --validation_data is unset.", flag_values=fv)
    flags.DEFINE_integer("max_train_examples", 0, "Use only the first N training examples "
                         "(0: all).", flag_values=fv)
    flags.DEFINE_string("class_weights", d.class_weights, "Weight each training example's "
                        "loss by its class: none, balanced (n / (classes × count)), or "
                        "LABEL=WEIGHT,… (unnamed labels weigh 1).", flag_values=fv)
    flags.DEFINE_integer("augment_copies", d.augment_copies, "EDA augmentation: add N "
                         "augmented copies of each training example (0: off). Validation and "
                         "test data are never augmented.", flag_values=fv)
    flags.DEFINE_list("augment_ops", [], "EDA operations to draw from: "
                      f"{', '.join(config_lib.AUGMENT_OPS)} (synonym and insert need "
                      "--synonyms). Unset: all four with --synonyms, else swap and delete.",
                      flag_values=fv)
    flags.DEFINE_float("augment_rate", d.augment_rate, "Share of a text's words each EDA "
                       "operation changes (at least one).", flag_values=fv)
    flags.DEFINE_string("synonyms", None, "Domain thesaurus for EDA: one synonym group per "
                        "line, comma-separated; entries may be phrases (heart attack).",
                        flag_values=fv)
    flags.DEFINE_string("pseudo_labels", None, "Self-training: also train on these "
                        "pseudo-labeled texts (a .jsonl that tfadapt.adapt writes: text, "
                        "label, confidence, probabilities), added after the validation split.",
                        flag_values=fv)
    flags.DEFINE_boolean("soft_pseudo_labels", False, "Train on the teacher's probabilities "
                         "of --pseudo_labels (distillation) instead of its top label.",
                         flag_values=fv)
    # === Model ===
    flags.DEFINE_string("preset", None, "A local Hugging Face BERT folder, a local KerasHub "
                        "preset folder, a KerasHub/Kaggle preset name, or hf://ORG/NAME.", flag_values=fv)
    flags.DEFINE_integer("sequence_length", d.sequence_length, "Longest token sequence; "
                         "longer texts are truncated.", flag_values=fv)
    flags.DEFINE_float("dropout", d.dropout, "Dropout in the backbone and before the head.", flag_values=fv)
    flags.DEFINE_enum("pooling", d.pooling, config_lib.POOLINGS, "Sentence vector: mean of "
                      "token vectors, or BERT's pooled [CLS].", flag_values=fv)
    flags.DEFINE_integer("prompt_tuning_length", 0, "Prompt tuning: N trainable soft-prompt "
                         "vectors before the tokens of a frozen backbone; only the prompt and "
                         "the head train (0: off).", flag_values=fv)
    flags.DEFINE_list("prompt_init_words", [], "Initialise the soft prompt from these words' "
                      "embeddings (cycled); unset: embeddings of random vocabulary tokens.",
                      flag_values=fv)
    flags.DEFINE_integer("lora_rank", 0, "LoRA: low-rank adapters of this rank on the "
                         "attention query and value projections; the rest of the backbone is "
                         "frozen (0: off).", flag_values=fv)
    flags.DEFINE_float("lora_alpha", 0.0, "LoRA scale numerator: updates are scaled by "
                       "alpha / rank (0: alpha = rank).", flag_values=fv)
    flags.DEFINE_string("threshold", d.threshold, "--task=multilabel decision threshold on "
                        "each label's probability: auto (tuned per label for F1 on the "
                        "validation data) or a probability such as 0.5.", flag_values=fv)
    flags.DEFINE_enum("regression_loss", d.regression_loss, config_lib.REGRESSION_LOSSES,
                      "--task=regression loss on the standardised target.", flag_values=fv)
    # === Optimization ===
    flags.DEFINE_integer("batch_size", d.batch_size, "Global batch size, split across replicas.", flag_values=fv)
    flags.DEFINE_integer("epochs", d.epochs, "Training epochs.", flag_values=fv)
    flags.DEFINE_float("learning_rate", d.learning_rate, "Peak learning rate.", flag_values=fv)
    flags.DEFINE_float("warmup_ratio", d.warmup_ratio, "Share of steps with linear warmup.", flag_values=fv)
    flags.DEFINE_enum("lr_decay", d.lr_decay, config_lib.LR_DECAYS, "After warmup: linear "
                      "decay to 0, or constant.", flag_values=fv)
    flags.DEFINE_float("weight_decay", d.weight_decay, "Decoupled weight decay (not on "
                       "LayerNorm or biases). Ignored by --optimizer=adam.", flag_values=fv)
    flags.DEFINE_float("clip_norm", d.clip_norm, "Global gradient-norm clip (0: off).", flag_values=fv)
    flags.DEFINE_enum("optimizer", d.optimizer, config_lib.OPTIMIZERS, "Optimizer.", flag_values=fv)
    flags.DEFINE_integer("seed", d.seed, "Seed for initialisation, shuffling and the "
                         "validation split.", flag_values=fv)
    flags.DEFINE_integer("early_stopping_patience", d.early_stopping_patience, "Stop after N "
                         "epochs without improvement and restore the best weights (0: off).", flag_values=fv)
    monitors = sorted({m for ms in config_lib.MONITORS.values() for m in ms})
    flags.DEFINE_enum("early_stopping_metric", d.early_stopping_metric, ["auto"] + monitors,
                      "Metric monitored for early stopping and the best checkpoint; auto: "
                      + "; ".join(f"{task} {ms[0]}" for task, ms in config_lib.MONITORS.items())
                      + ".", flag_values=fv)
    flags.DEFINE_boolean("freeze_embeddings", False, "Freeze the embedding layers.", flag_values=fv)
    flags.DEFINE_integer("freeze_layers", 0, "Freeze the lowest N encoder layers.", flag_values=fv)
    flags.DEFINE_boolean("freeze_backbone", False, "Freeze the whole backbone: only the head "
                         "trains (a linear probe).", flag_values=fv)
    flags.DEFINE_float("layer_lr_decay", d.layer_lr_decay, "Layer-wise learning-rate decay: "
                       "the top encoder layer trains at lr × d, the next at lr × d², …, the "
                       "embeddings at lr × d^(L+1); the head at lr (1: off).", flag_values=fv)
    flags.DEFINE_string("unfreeze_schedule", "", "Gradual unfreezing: start with the head "
                        "only and unfreeze one more encoder layer from the top every K epochs "
                        "or steps, e.g. 1epoch or 50steps (empty: off).", flag_values=fv)
    flags.DEFINE_string("lr_rules", "", "Learning-rate table: PATTERN=MULT,… where PATTERN is "
                        "a regex searched in variable paths (transformer_layer_0/…, "
                        "token_embedding/…, logits/…) and MULT scales the learning rate (0 "
                        "freezes). First match wins; these rules come before those of other "
                        "flags.", flag_values=fv)
    # === Runtime ===
    flags.DEFINE_string("model_dir", None, "Where the run's files go.", flag_values=fv)
    flags.DEFINE_string("export_dir", None, "Also export a raw-text SavedModel to "
                        "EXPORT_DIR/<version>/ for TF Serving.", flag_values=fv)
    flags.DEFINE_enum("strategy", d.strategy, config_lib.STRATEGIES, "Distribution strategy.", flag_values=fv)
    flags.DEFINE_string("tpu", None, "TPU name or grpc address; 'local' on a TPU VM.", flag_values=fv)
    flags.DEFINE_enum("jit_compile", d.jit_compile, config_lib.TRISTATE, "XLA compilation; "
                      "auto: on for TPU and a single GPU, off on CPU.", flag_values=fv)
    flags.DEFINE_enum("mixed_precision", d.mixed_precision, config_lib.MIXED_PRECISION,
                      "auto: bf16 on TPU, fp16 on GPU, off on CPU.", flag_values=fv)
    flags.DEFINE_list("bucket_boundaries", [str(b) for b in d.bucket_boundaries], "Length "
                      "buckets: batches are padded to the longest text of their bucket.", flag_values=fv)
    flags.DEFINE_boolean("overwrite", False, "Replace an existing run in --model_dir.", flag_values=fv)
    flags.mark_flags_as_required(["train_data", "preset", "model_dir"], flag_values=fv)


def train_config_from_flags(fv):
    """The validated `TrainConfig` of parsed train flags."""
    names = [f.name for f in dataclasses.fields(config_lib.TrainConfig)]
    values = {name: fv[name].value for name in names}
    for name in config_lib.LIST_FIELDS:
        if values[name] is not None and name != "bucket_boundaries":
            values[name] = tuple(item.strip() for item in values[name])
    try:
        values["bucket_boundaries"] = tuple(int(b) for b in values["bucket_boundaries"])
    except ValueError:
        raise UserError(f"--bucket_boundaries={','.join(values['bucket_boundaries'])}: "
                        "expected integers") from None
    return config_lib.TrainConfig(**values).with_absolute_paths()


def flags_parser(command):
    """An absl `flags_parser` that reports a bad flag as one `command: error:` line."""

    def parse(argv):
        try:
            return flags.FLAGS(argv)
        except flags.Error as e:
            print(f"{command}: error: {e}", file=sys.stderr)
            sys.exit(1)

    return parse


def exit_on_user_error(command, fn, *args):
    """Runs `fn(*args)`; a UserError becomes one line on stderr and exit status 1."""
    try:
        return fn(*args)
    except UserError as e:
        print(f"{command}: error: {e}", file=sys.stderr)
        sys.exit(1)


# === Masked-LM pretraining (`python -m tfadapt.pretrain`) ===


def define_pretrain_flags(fv):
    """All flags of `python -m tfadapt.pretrain`."""
    d = config_lib.PretrainConfig
    # === Data ===
    flags.DEFINE_string("train_data", None, "Unlabeled domain text: a .txt file (one text per "
                        "line, blank lines skipped), the --text_column of a .csv, .tsv or "
                        ".jsonl, or tfds:NAME[:SPLIT]. DAPT: a large domain corpus; TAPT: the "
                        "task's own training file.", flag_values=fv)
    flags.DEFINE_string("validation_data", None, "Held-out text (same forms), scored before, "
                        "during and after training. When unset, --validation_split of the "
                        "training texts is held out (seeded).", flag_values=fv)
    flags.DEFINE_float("validation_split", d.validation_split, "Share of the training texts "
                       "held out when --validation_data is unset.", flag_values=fv)
    flags.DEFINE_string("text_column", d.text_column, "Column (or TFDS feature) holding the "
                        "text; not read for .txt files.", flag_values=fv)
    flags.DEFINE_string("encoding", d.encoding, "Text encoding of the data files.", flag_values=fv)
    flags.DEFINE_string("tfds_data_dir", None, "Where TFDS datasets are prepared (TFDS's "
                        "default when unset).", flag_values=fv)
    flags.DEFINE_integer("max_train_examples", 0, "Use a seeded random sample of N texts of "
                         "--train_data, before --validation_split holds some out (0: all).",
                         flag_values=fv)
    # === Model and masking ===
    flags.DEFINE_string("preset", None, "The model to adapt: a local Hugging Face BERT folder, "
                        "a local KerasHub preset folder, a KerasHub/Kaggle preset name, or "
                        "hf://ORG/NAME.", flag_values=fv)
    flags.DEFINE_integer("sequence_length", d.sequence_length, "Longest token sequence; "
                         "longer texts are truncated.", flag_values=fv)
    flags.DEFINE_float("mask_rate", d.mask_rate, "Share of the word pieces chosen for "
                       "prediction; of those, 80% become [MASK], 10% a random token, 10% "
                       "stay.", flag_values=fv)
    flags.DEFINE_boolean("whole_word_masking", False, "Choose whole words: all pieces of a "
                         "chosen word are masked together.", flag_values=fv)
    # === Optimization ===
    flags.DEFINE_integer("batch_size", d.batch_size, "Global batch size, split across "
                         "replicas.", flag_values=fv)
    flags.DEFINE_integer("epochs", d.epochs, "Passes over the training texts (new masks "
                         "every pass).", flag_values=fv)
    flags.DEFINE_integer("head_warmup_steps", d.head_warmup_steps, "Train only the masked-LM "
                         "head for the first N steps (the backbone held still), then "
                         "everything: a head that starts untrained does not disturb the "
                         "pretrained layers (0: off).", flag_values=fv)
    flags.DEFINE_integer("eval_every_steps", d.eval_every_steps, "Score the held-out text "
                         "(and checkpoint the best weights) every N steps, for a finer loss "
                         "curve (0: after every epoch).", flag_values=fv)
    flags.DEFINE_integer("max_steps", d.max_steps, "Stop after N training steps (0: --epochs "
                         "decides).", flag_values=fv)
    flags.DEFINE_float("learning_rate", d.learning_rate, "Peak AdamW learning rate.",
                       flag_values=fv)
    flags.DEFINE_float("warmup_ratio", d.warmup_ratio, "Share of steps with linear warmup, "
                       "then linear decay to 0.", flag_values=fv)
    flags.DEFINE_float("weight_decay", d.weight_decay, "Decoupled weight decay (not on "
                       "LayerNorm or biases).", flag_values=fv)
    flags.DEFINE_integer("seed", d.seed, "Seed for initialisation, sampling, the held-out "
                         "split and the masks.", flag_values=fv)
    # === Runtime ===
    flags.DEFINE_string("model_dir", None, "Where the run's files go.", flag_values=fv)
    flags.DEFINE_string("output_preset", None, "Where the adapted backbone + tokenizer go, as "
                        "a KerasHub preset that `tfadapt.train --preset=` takes (default "
                        "MODEL_DIR/preset).", flag_values=fv)
    flags.DEFINE_enum("strategy", d.strategy, config_lib.STRATEGIES, "Distribution strategy.",
                      flag_values=fv)
    flags.DEFINE_string("tpu", None, "TPU name or grpc address; 'local' on a TPU VM.",
                        flag_values=fv)
    flags.DEFINE_enum("jit_compile", d.jit_compile, config_lib.TRISTATE, "XLA compilation; "
                      "auto: on for TPU and a single GPU, off on CPU.", flag_values=fv)
    flags.DEFINE_enum("mixed_precision", d.mixed_precision, config_lib.MIXED_PRECISION,
                      "auto: bf16 on TPU, fp16 on GPU, off on CPU.", flag_values=fv)
    flags.DEFINE_list("bucket_boundaries", [str(b) for b in d.bucket_boundaries], "Length "
                      "buckets: batches are padded to the longest text of their bucket.",
                      flag_values=fv)
    flags.DEFINE_boolean("overwrite", False, "Replace an existing run in --model_dir (and "
                         "--output_preset).", flag_values=fv)
    flags.mark_flags_as_required(["train_data", "preset", "model_dir"], flag_values=fv)


def pretrain_config_from_flags(fv):
    """The validated `PretrainConfig` of parsed pretrain flags."""
    values = {f.name: fv[f.name].value for f in dataclasses.fields(config_lib.PretrainConfig)}
    try:
        values["bucket_boundaries"] = tuple(int(b) for b in values["bucket_boundaries"])
    except ValueError:
        raise UserError(f"--bucket_boundaries={','.join(values['bucket_boundaries'])}: "
                        "expected integers") from None
    return config_lib.PretrainConfig(**values).with_absolute_paths()


def define_adapt_flags(fv):
    """All flags of `python -m tfadapt.adapt`: those of `tfadapt.train`, plus adaptation's."""
    d = config_lib.AdaptConfig
    define_train_flags(fv)
    flags.DEFINE_string("domain_data", None, "Unlabeled domain text for masked-LM adaptation "
                        "(dapt) and the texts self-training pseudo-labels: a .txt file (one text per "
                        "line), a .csv/.tsv/.jsonl with --domain_text_column, or "
                        "tfds:NAME[:SPLIT].", flag_values=fv)
    flags.DEFINE_string("domain_text_column", d.domain_text_column, "The text column of "
                        "--domain_data.", flag_values=fv)
    flags.DEFINE_string("domain_encoding", d.domain_encoding, "Text encoding of --domain_data.",
                        flag_values=fv)
    flags.DEFINE_integer("mlm_max_examples", 0, "Masked-LM training on a seeded random "
                         "sample of N domain texts (0: all).", flag_values=fv)
    flags.DEFINE_integer("mlm_sequence_length", d.mlm_sequence_length, "Masked-LM sequence "
                         "length.", flag_values=fv)
    flags.DEFINE_integer("mlm_batch_size", d.mlm_batch_size, "Masked-LM batch size.",
                         flag_values=fv)
    flags.DEFINE_integer("mlm_epochs", d.mlm_epochs, "Masked-LM epochs over the domain text.",
                         flag_values=fv)
    flags.DEFINE_integer("mlm_head_warmup_steps", 0, "Train only the masked-LM head for "
                         "the first N masked-LM steps (see tfadapt.pretrain "
                         "--head_warmup_steps).", flag_values=fv)
    flags.DEFINE_integer("mlm_eval_every_steps", 0, "Score the held-out domain text every "
                         "N masked-LM steps (0: after every epoch).", flag_values=fv)
    flags.DEFINE_integer("mlm_max_steps", 0, "Stop masked-LM training after N steps (0: "
                         "--mlm_epochs decides).", flag_values=fv)
    flags.DEFINE_float("mlm_learning_rate", d.mlm_learning_rate, "Masked-LM peak learning "
                       "rate.", flag_values=fv)
    flags.DEFINE_float("mask_rate", d.mask_rate, "Share of word pieces masked (80% [MASK], "
                       "10% random, 10% kept).", flag_values=fv)
    flags.DEFINE_boolean("whole_word_masking", False, "Mask all pieces of a chosen word.",
                         flag_values=fv)
    flags.DEFINE_list("extra_test_data", [], "More test sets, NAME=PATH,… (e.g. the source "
                      "domain's): every run is evaluated on each.", flag_values=fv)
    flags.DEFINE_string("extra_text_column", None, "Text column of the --extra_test_data sets "
                        "(default: --text_column).", flag_values=fv)
    flags.DEFINE_string("extra_label_column", None, "Label column of the --extra_test_data "
                        "sets (default: --label_column).", flag_values=fv)


    flags.DEFINE_list("methods", [], "Adaptation methods to compare, each against plain "
                      "fine-tuning (none, always run): dapt (masked LM on --domain_data), "
                      "tapt (masked LM on the task's training text), self_training "
                      "(pseudo-labels on --domain_data), dapt+self_training. Unset: dapt "
                      "with --domain_data, else tapt.", flag_values=fv)
    flags.DEFINE_alias("method", "methods", flag_values=fv)
    flags.DEFINE_list("seeds", [], "Run every method with each seed: N (N seeds from --seed "
                      "on) or a list 1,2,3; the report gives mean ± std. Unset: --seed.",
                      flag_values=fv)
    flags.DEFINE_string("target_validation_data", None, "A small labeled set from the "
                        "target domain that chooses epochs, methods and the exported model "
                        "(instead of a --validation_split of the labeled data).",
                        flag_values=fv)
    flags.DEFINE_integer("self_training_rounds", d.self_training_rounds, "Self-training "
                         "rounds: each round's student is the next round's teacher.",
                         flag_values=fv)
    flags.DEFINE_float("self_training_threshold", 0.0, "Pseudo-label every text whose top "
                       "class probability reaches this (0: off; use the top fraction).",
                       flag_values=fv)
    flags.DEFINE_float("self_training_top_fraction", 0.0, "Pseudo-label, per class, the "
                       "most confident texts predicted as it, up to this share of the "
                       "texts / classes, so pseudo-labels stay class-balanced (default 0.5 "
                       "when no threshold is given).", flag_values=fv)
    flags.DEFINE_boolean("self_training_soft", False, "Students learn the teacher's "
                         "probabilities (distillation) instead of its top class.",
                         flag_values=fv)
    flags.DEFINE_integer("self_training_eda_copies", 0, "Noise for students: N EDA copies "
                         "of each of their examples (0: --augment_copies). Dropout is on "
                         "either way.", flag_values=fv)
    flags.DEFINE_integer("self_training_max_texts", 0, "Pseudo-label a seeded random sample "
                         "of N --domain_data texts (0: all).", flag_values=fv)


def adapt_config_from_flags(fv):
    """The validated `AdaptConfig` of parsed adapt flags."""
    for name in ("pseudo_labels", "soft_pseudo_labels"):
        if fv[name].present:
            raise UserError(f"--{name} is set by self-training inside tfadapt.adapt; use "
                            "--methods=self_training (and --self_training_soft)")
    train = train_config_from_flags(fv)
    values = {f.name: fv[f.name].value for f in dataclasses.fields(config_lib.AdaptConfig)
              if f.name != "train"}
    values["extra_test_data"] = tuple(item.strip() for item in values["extra_test_data"])
    values["methods"] = tuple(item.strip() for item in values["methods"])
    values["seeds"] = parse_seeds(values["seeds"], train.seed)
    return config_lib.AdaptConfig(train=train, **values).with_absolute_paths()


def parse_seeds(items, first):
    """`--seeds`: one number N → N seeds from `first`; two or more → those seeds."""
    try:
        seeds = tuple(int(item) for item in items)
    except ValueError:
        raise UserError(f"--seeds={','.join(items)}: expected a count or a list of "
                        "integers") from None
    if len(seeds) == 1:
        if seeds[0] < 1:
            raise UserError(f"--seeds={seeds[0]}: the number of seeds must be at least 1")
        return tuple(range(first, first + seeds[0]))
    return seeds
