"""Domain-adaptive masked-LM pretraining: continue BERT's masked-LM training on domain text.

One run: read the unlabeled text and hold some out; check the preset and model_dir;
build `keras_hub.models.BertMaskedLM` on the backbone under the strategy; score the
held-out text (fixed masks) before training; fit with new masks every pass, scoring the
held-out text after each epoch and keeping the best weights (the start counts: a run that
only makes things worse keeps the original); save the backbone and tokenizer as a
KerasHub preset that `tfadapt.train --preset=` fine-tunes.

DAPT (a large domain corpus) and TAPT (the task's own training text) are the same run
with another `--train_data`.

The masked-LM head: `BertMaskedLM` ties its output projection to the token embedding
(the decoder is the pretrained vocabulary) and adds a dense + LayerNorm transform and an
output bias, which a checkpoint without a masked-LM head (all-MiniLM-L6-v2 ships none)
cannot fill: they start as keras-hub initialises them (random dense, identity
LayerNorm, zero bias). The loss before training therefore measures an untrained
transform on top of the pretrained encoder, and the first steps mostly train it.

Example:
>>> config = PretrainConfig(train_data=".assets/tweets/train.csv", text_column="text",
...                         preset=".assets/all-minilm-l6-v2", model_dir="runs/tapt",
...                         sequence_length=64, epochs=1)
>>> summary = pretrain(config)
>>> summary["perplexity_before"], summary["perplexity_after"], summary["preset"]
"""

import dataclasses
import json
import math
import os
import shutil
import time

import numpy as np

from tfadapt.data.unlabeled import Texts, read_texts
from tfadapt.errors import UserError
from tfadapt.models.presets import describe_preset
from tfadapt.training.model_dir import ModelDir

MONITOR = "val_masked_lm_loss"  # mean cross-entropy over the held-out masked pieces


@dataclasses.dataclass
class Corpus:
    train: Texts
    heldout: Texts


def read_corpus(config, log=print):
    """The training and held-out texts of a `PretrainConfig`, checked."""

    def read(spec, flag):
        return read_texts(spec, config.text_column, flag, config.encoding, config.tfds_data_dir)

    train = read(config.train_data, "train_data")
    rng = np.random.default_rng(config.seed)
    if config.max_train_examples and len(train) > config.max_train_examples:
        # A random sample, not the first lines: corpora are often sorted (by date, source).
        train = train.subset(sorted(rng.permutation(len(train))[:config.max_train_examples]))
    if config.validation_data:
        heldout = read(config.validation_data, "validation_data")
    else:
        held = int(round(len(train) * config.validation_split))
        if held == 0 or held == len(train):
            raise UserError(f"--validation_split={config.validation_split} of {len(train)} "
                            f"texts holds out {held}; change it or pass --validation_data")
        order = rng.permutation(len(train))
        heldout, train = train.subset(sorted(order[:held])), train.subset(sorted(order[held:]))
    # A held-out text that is also a training text measures memorisation, not adaptation.
    seen = set(train.texts)
    unseen = [i for i, text in enumerate(heldout.texts) if text not in seen]
    if not unseen:
        raise UserError(f"--validation_data={heldout.name}: every held-out text is also a "
                        "training text; hold out other text")
    if len(unseen) < len(heldout):
        log(f"tfadapt: left out {len(heldout) - len(unseen)} held-out texts that are also "
            "training texts")
        heldout = heldout.subset(unseen)
    source = (heldout.name if config.validation_data
              else f"{config.validation_split:g} of the training file")
    log(f"tfadapt: {len(train)} training texts ({train.name}), {len(heldout)} held-out "
        f"({source})")
    return Corpus(train, heldout)


class PretrainDir(ModelDir):
    """The layout of a pretraining run's `--model_dir`:

        config.flags, config.json      the resolved config (`--flagfile=` re-runs it)
        checkpoints/best.weights.h5    BertMaskedLM weights with the lowest held-out loss
        metrics.csv, logs/             per-epoch losses; TensorBoard
        preset/                        the adapted backbone + tokenizer (unless --output_preset)
        pretrain.json                  written last: the run finished; its summary
    """

    run_summary = property(lambda self: self.path("pretrain.json"))

    def check(self, config, overwrite):
        """As `ModelDir.check`: reuses the same finished job, else needs `overwrite`."""
        summary = self.finished_summary()
        if summary is not None and not overwrite and _same_job(summary.get("config"), config):
            return summary
        return super().check(config, overwrite)


def _same_job(saved, current):
    from tfadapt.config import PretrainConfig

    if saved is None:
        return False
    # A run saved before a flag existed ran with that flag's default.
    defaults = json.loads(PretrainConfig(train_data="-", preset="-", model_dir="-").to_json())
    saved = {**defaults, **saved}
    return ({k: v for k, v in saved.items() if k != "overwrite"}
            == {k: v for k, v in current.items() if k != "overwrite"})


def _check_output_preset(config):
    """An --output_preset outside model_dir must be new, or a preset that --overwrite replaces."""
    path = config.preset_dir
    inside = os.path.abspath(path).startswith(os.path.abspath(config.model_dir) + os.sep)
    if inside or not os.path.exists(path):
        return
    if not os.path.isdir(path):
        raise UserError(f"--output_preset={path}: is a file, not a folder")
    if not os.listdir(path):
        return
    if not config.overwrite:
        raise UserError(f"--output_preset={path}: is not empty; pass --overwrite to replace it, "
                        "or choose another folder")
    try:
        kind = describe_preset(path)
    except UserError:
        kind = None
    if kind != "keras_hub_folder":
        raise UserError(f"--output_preset={path}: is not a KerasHub preset; --overwrite only "
                        "replaces presets")


def pretrain(config, strategy=None, log=print):
    """Runs the masked-LM pretraining of `config`; returns the summary (also pretrain.json).

    Args:
        config: a `PretrainConfig`.
        strategy: a tf.distribute strategy to use instead of resolving `config.strategy`
            (tests pass a MirroredStrategy over logical CPUs).
        log: where progress lines go.

    Returns:
        A dict with `heldout_loss_before` / `_after` (mean cross-entropy over the
        held-out masked pieces, the same pieces both times), `perplexity_before` /
        `_after` (their exp), `history` (per epoch: `train_loss`, `heldout_loss`,
        `heldout_accuracy`), `loss_curve` ([{step, heldout_loss}], step 0 first),
        `best_step`, `preset` (absolute path), `train_examples`, `heldout_examples`,
        `heldout_masked_tokens`, `train_examples_per_second`, `wall_seconds`, `config`.
    """
    started = time.time()
    corpus = read_corpus(config, log)
    describe_preset(config.preset)
    model_dir = PretrainDir(config.model_dir)
    finished = model_dir.check(json.loads(config.to_json()), config.overwrite)
    if finished is not None:
        log(f"tfadapt: {config.model_dir} already holds this finished run; nothing to redo "
            "(pass --overwrite to train again)")
        return finished
    _check_output_preset(config)
    if len(corpus.train) < config.batch_size:
        raise UserError(f"--batch_size={config.batch_size} is larger than the "
                        f"{len(corpus.train)} training texts; lower it")

    # Imported here so that flag parsing and input checks do not wait for TensorFlow.
    import keras
    import keras_hub

    from tfadapt.data import masking
    from tfadapt.models.presets import load_backbone_and_tokenizer
    from tfadapt.training.callbacks import HeadWarmup, ProgressLogger
    from tfadapt.training.optimization import build_optimizer
    from tfadapt.training.strategy import place_run

    placement = place_run(config, strategy, log)

    steps_per_epoch = len(corpus.train) // config.batch_size
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    if config.eval_every_steps:
        # Keras scores the held-out text after each of its epochs: with a repeating
        # training stream, an "epoch" can be any number of steps.
        steps_per_epoch = min(config.eval_every_steps, total_steps)
    epochs = math.ceil(total_steps / steps_per_epoch)
    with placement.strategy.scope():
        backbone, tokenizer = load_backbone_and_tokenizer(config.preset,
                                                          dtype=placement.dtype_policy)
        if config.sequence_length > backbone.max_sequence_length:
            raise UserError(f"--sequence_length={config.sequence_length}: the backbone has "
                            f"{backbone.max_sequence_length} positions at most")
        # The [CLS] pooler is not in the masked-LM loss: frozen, it gets no (missing)
        # gradient and reaches the preset as it came.
        backbone.get_layer("pooled_dense").trainable = False
        model = keras_hub.models.BertMaskedLM(backbone=backbone, preprocessor=None)
        optimizer = build_optimizer("adamw", config.learning_rate, total_steps,
                                    config.warmup_ratio, "linear", config.weight_decay,
                                    clip_norm=1.0)
        if placement.dtype_policy == "mixed_float16":
            # Keras scales the loss itself only when the task model's policy is fp16;
            # here only the backbone's (and head's) is.
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(
            optimizer=optimizer,
            # Averaged over the real mask slots of the batch (weights 1), not over all slots.
            loss=keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, reduction="mean_with_sample_weight"),
            weighted_metrics=[
                keras.metrics.SparseCategoricalCrossentropy(from_logits=True,
                                                            name="masked_lm_loss"),
                keras.metrics.SparseCategoricalAccuracy(name="masked_accuracy")],
            jit_compile=placement.jit_compile,
        )
        # Built over every variable now, so that the backbone, held still by the head
        # warm-up, finds its optimizer state ready when it joins.
        optimizer.build(model.trainable_variables)

    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=config.sequence_length)
    masker = masking.build_masker(tokenizer, config.sequence_length, config.mask_rate,
                                  config.whole_word_masking)
    heldout = masking.fixed_masks(corpus.heldout.texts, preprocessor, masker, config.seed)
    heldout_ds = masking.heldout_dataset(heldout, config.batch_size, config.bucket_boundaries,
                                         config.sequence_length, placement.jit_compile,
                                         placement.replicas)
    train_ds = masking.training_dataset(corpus.train.texts, preprocessor, masker,
                                        config.batch_size, config.bucket_boundaries,
                                        config.seed, pad_to_boundary=placement.jit_compile)

    # All inputs are good: from here on the run writes.
    model_dir.clear()
    with open(model_dir.config_json, "w") as f:
        f.write(config.to_json())
    with open(model_dir.flagfile, "w") as f:
        f.write(config.to_flagfile())

    def score():
        return model.evaluate(heldout_ds, return_dict=True, verbose=0)

    before = score()
    loss_before = before["masked_lm_loss"]
    masks = "whole-word" if config.whole_word_masking else "word-piece"
    log(f"tfadapt: held-out masked-LM loss before training {loss_before:.4f} (perplexity "
        f"{math.exp(loss_before):,.1f}, accuracy {before['masked_accuracy']:.3f}) on "
        f"{heldout.masked_tokens} fixed {masks} masks in {len(heldout)} texts")
    # The start is a candidate too: the checkpoint holds it until an epoch beats it.
    os.makedirs(os.path.dirname(model_dir.best_checkpoint), exist_ok=True)
    model.save_weights(model_dir.best_checkpoint)

    unit = "round(s) (held-out text scored after each)" if config.eval_every_steps \
        else "epoch(s)"
    log(f"tfadapt: masked-LM training, {epochs} {unit} × {steps_per_epoch} steps of "
        f"{config.batch_size} texts" + (f", stopping at step {total_steps}"
                                        if total_steps < epochs * steps_per_epoch else ""))
    timer = _step_counter(total_steps)
    callbacks = [
        timer,
        HeadWarmup(backbone.trainable_variables, config.head_warmup_steps, log),
        keras.callbacks.ModelCheckpoint(model_dir.best_checkpoint, monitor=MONITOR, mode="min",
                                        save_best_only=True, save_weights_only=True,
                                        initial_value_threshold=loss_before),
        keras.callbacks.CSVLogger(model_dir.metrics_csv),
        keras.callbacks.TensorBoard(model_dir.logs),
        ProgressLogger(steps_per_epoch, config.batch_size, epochs, log),
        keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: log(
            f"  held-out perplexity {math.exp(logs[MONITOR]):,.2f}")),
    ]
    history = model.fit(train_ds, validation_data=heldout_ds, epochs=epochs,
                        steps_per_epoch=steps_per_epoch, callbacks=callbacks, shuffle=False,
                        verbose=0).history
    curve = [{"step": 0, "heldout_loss": loss_before}] + [
        {"step": step, "heldout_loss": loss}
        for step, loss in zip(timer.epoch_end_steps, history[MONITOR])]
    best = min(curve, key=lambda point: point["heldout_loss"])  # the first of equals

    model.load_weights(model_dir.best_checkpoint)
    after = score()
    loss_after = after["masked_lm_loss"]
    log(f"tfadapt: kept the weights of step {best['step']}; held-out masked-LM loss "
        f"{loss_before:.4f} → {loss_after:.4f}, perplexity {math.exp(loss_before):,.2f} → "
        f"{math.exp(loss_after):,.2f}")
    if best["step"] == 0:
        log("tfadapt: no epoch improved on the start; the preset is the original backbone "
            "(try a lower --learning_rate or more text)")

    preset_dir = config.preset_dir
    if os.path.isdir(preset_dir):  # an --output_preset that _check_output_preset allowed
        shutil.rmtree(preset_dir)
    backbone.save_to_preset(preset_dir)
    tokenizer.save_to_preset(preset_dir)
    log(f"tfadapt: adapted preset written to {os.path.abspath(preset_dir)}")

    summary = {
        "config": json.loads(config.to_json()),
        "heldout_loss_before": loss_before,
        "heldout_loss_after": loss_after,
        "perplexity_before": math.exp(loss_before),
        "perplexity_after": math.exp(loss_after),
        "heldout_accuracy_before": before["masked_accuracy"],
        "heldout_accuracy_after": after["masked_accuracy"],
        "history": {"train_loss": history["masked_lm_loss"], "heldout_loss": history[MONITOR],
                    "heldout_accuracy": history["val_masked_accuracy"]},
        "loss_curve": curve,
        "best_step": best["step"],
        "steps": timer.steps,
        "preset": os.path.abspath(preset_dir),
        "train_examples": len(corpus.train),
        "heldout_examples": len(corpus.heldout),
        "heldout_masked_tokens": heldout.masked_tokens,
        "whole_word_masking": config.whole_word_masking,
        "train_examples_per_second": timer.examples_per_second(config.batch_size),
    }
    summary["wall_seconds"] = time.time() - started
    with open(model_dir.run_summary, "w") as f:
        json.dump(summary, f, indent=2)
    return summary


def _step_counter(total_steps):
    """A Keras callback that counts training steps, stops at `total_steps` (--max_steps),
    and times the training batches of each epoch (defined here: Keras loads lazily)."""
    import keras

    class StepCounter(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.steps = 0
            self.epoch_end_steps = []
            self.seconds = []  # per epoch, from its start to its last training step

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.time()

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            self.last = time.time()
            if self.steps >= total_steps:
                self.model.stop_training = True  # Keras still scores the held-out text

        def on_epoch_end(self, epoch, logs=None):
            self.epoch_end_steps.append(self.steps)
            self.seconds.append(self.last - self.started)

        def examples_per_second(self, batch_size):
            """Over the epochs after the first (which includes tracing), if any."""
            seconds = self.seconds[1:] or self.seconds
            steps = np.diff([0] + self.epoch_end_steps)[-len(seconds):]
            return float(steps.sum() * batch_size / max(sum(seconds), 1e-9))

    return StepCounter()
