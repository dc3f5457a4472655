"""One fine-tuning run: read and check inputs, build under the strategy, fit, evaluate, save.

Every input a user can get wrong (files, columns, labels, preset, model_dir) is read
and checked before anything is written, so a mistake leaves no half-written model_dir.
"""

import json
import os
import time

from tfadapt.errors import UserError
from tfadapt.models.presets import describe_preset
from tfadapt.tasks import get_task
from tfadapt.training.model_dir import ModelDir


def read_inputs(config, log=print):
    """Reads and checks the train / validation / test data of `config` (see `tasks`)."""
    return get_task(config.task).read_inputs(config, log)


def train(config, strategy=None, log=print):
    """Runs the job of `config`; returns the run summary (also saved as run.json).

    Args:
        config: a `TrainConfig`.
        strategy: a tf.distribute strategy to use instead of resolving `config.strategy`
            (tests pass a MirroredStrategy over logical CPUs).
        log: where progress lines go.
    """
    started = time.time()
    task = get_task(config.task)
    inputs = task.read_inputs(config, log)
    describe_preset(config.preset)
    check_export_dir(config.export_dir)
    model_dir = ModelDir(config.model_dir)
    finished = model_dir.check(json.loads(config.to_json()), config.overwrite)
    if finished is not None:
        log(f"tfadapt: {config.model_dir} already holds this finished run; nothing to redo "
            "(pass --overwrite to train again)")
        return finished
    if len(inputs.train) < config.batch_size:
        raise UserError(f"--batch_size={config.batch_size} is larger than the "
                        f"{len(inputs.train)} training examples; lower it")

    # Imported here so that flag parsing and input checks do not wait for TensorFlow.
    import keras
    import numpy as np

    from tfadapt.data import pipeline
    from tfadapt.models.presets import load_backbone_and_tokenizer
    from tfadapt.serving.savedmodel import export_model
    from tfadapt.training.callbacks import LayerFreezer, PadFractionLogger, ProgressLogger
    from tfadapt.training.lr_rules import RuleTable, format_rows, rules_for, save_rows
    from tfadapt.training.optimization import build_optimizer
    from tfadapt.training.strategy import place_run

    placement = place_run(config, strategy, log)

    steps_per_epoch = len(inputs.train) // config.batch_size
    with placement.strategy.scope():
        backbone, tokenizer = load_backbone_and_tokenizer(
            config.preset, dropout=config.dropout, dtype=placement.dtype_policy)
        if config.freeze_layers > backbone.num_layers:
            raise UserError(f"--freeze_layers={config.freeze_layers}: the backbone has only "
                            f"{backbone.num_layers} encoder layers")
        if config.sequence_length > backbone.max_sequence_length:
            raise UserError(f"--sequence_length={config.sequence_length}: the backbone has "
                            f"{backbone.max_sequence_length} positions at most")
        model = _build_model(task, config, backbone, tokenizer, inputs.labels)
        table = RuleTable(rules_for(config, backbone.num_layers))
        table.check(model.weights)  # a typo'd pattern fails; a frozen match is fine
        every, unit = config.unfreeze_plan or (0, "epoch")
        freezer = LayerFreezer(model, table, backbone.num_layers, every, unit, log)
        ever_trained = freezer.ever_trained()
        optimizer = build_optimizer(config.optimizer, config.learning_rate,
                                    steps_per_epoch * config.epochs, config.warmup_ratio,
                                    config.lr_decay, config.weight_decay, config.clip_norm,
                                    lr_multipliers={v.path: table.multiplier(v.path)
                                                    for v in ever_trained},
                                    per_variable_steps=bool(every))
        if placement.dtype_policy == "mixed_float16":
            # Keras scales the loss itself only when the whole model's policy is fp16;
            # here only the backbone is (the head stays float32).
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(optimizer=optimizer, loss=task.loss(config),
                      metrics=task.metrics(inputs.labels), jit_compile=placement.jit_compile)
        # Built over every variable that trains at some stage, before freezing, so that
        # unfreezing later finds its optimizer state ready (and frozen ones get none).
        optimizer.build(ever_trained)
        freezer.apply(0)
    preprocessor = task.preprocessor(tokenizer, config)

    # All inputs are good: from here on the run writes into model_dir.
    model_dir.clear()
    with open(model_dir.config_json, "w") as f:
        f.write(config.to_json())
    with open(model_dir.flagfile, "w") as f:
        f.write(config.to_flagfile())
    task.save_labels(inputs.labels, model_dir.labels)
    rows = table.describe(freezer.controlled)
    save_rows(rows, model_dir.lr_rules)
    log("tfadapt: learning-rate table (first match wins; × 0 = frozen):")
    for line in format_rows(rows):
        log(line)
    trainable_params = int(sum(np.prod(v.shape) for v in ever_trained))
    log(f"tfadapt: {trainable_params:,} of {model.count_params():,} parameters train"
        + (f" (gradual unfreezing, one layer every {every} {unit}s)" if every else ""))

    pad_meter = pipeline.PadMeter()
    if inputs.sample_weights is not None:
        log("tfadapt: class weights " + ", ".join(
            f"{name} {w:.3g}" for name, w in zip(
                inputs.labels.names, inputs.labels.class_weights(inputs.train,
                                                                 config.class_weights))))
    train_ds = task.training_dataset(inputs.train, inputs.labels, preprocessor, config,
                                     inputs.sample_weights, pad_meter,
                                     pad_to_boundary=placement.jit_compile)
    validation_ds = task.evaluation_dataset(inputs.validation, inputs.labels, preprocessor,
                                            config, pad_to_boundary=placement.jit_compile,
                                            replicas=placement.replicas)

    monitor = config.monitor
    mode = "min" if monitor in ("val_loss", "val_rmse") else "max"
    progress = ProgressLogger(steps_per_epoch, config.batch_size, config.epochs, log)
    callbacks = [
        PadFractionLogger(pad_meter),
        freezer,
        *task.epoch_callbacks(model, inputs, preprocessor, config),
        keras.callbacks.ModelCheckpoint(model_dir.best_checkpoint, monitor=monitor,
                                        mode=mode, save_best_only=True, save_weights_only=True),
        keras.callbacks.CSVLogger(model_dir.metrics_csv),
        keras.callbacks.TensorBoard(model_dir.logs),
        progress,
    ]
    if config.early_stopping_patience:
        callbacks.insert(-4, keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=config.early_stopping_patience, verbose=1))
    log(f"tfadapt: training {config.epochs} epoch(s) × {steps_per_epoch} steps of "
        f"{config.batch_size} examples")
    history = model.fit(train_ds, validation_data=validation_ds, epochs=config.epochs,
                        steps_per_epoch=steps_per_epoch, callbacks=callbacks, shuffle=False,
                        verbose=0)
    monitored = history.history[monitor]
    best_epoch = 1 + (monitored.index(min(monitored)) if mode == "min"
                      else monitored.index(max(monitored)))
    # Whether or not training stopped early, the run keeps the best epoch's weights.
    model.load_weights(model_dir.best_checkpoint)
    log(f"tfadapt: kept the weights of epoch {best_epoch} (best {monitor} "
        f"{monitored[best_epoch - 1]:.4f})")
    labels = task.after_training(model, inputs, preprocessor, config, log)
    task.save_labels(labels, model_dir.labels)
    # The task's own report on the validation data, with the kept weights and the final
    # label space (tuned thresholds): what choosing between runs should look at.
    validation = task.evaluate(model, inputs.validation, labels, preprocessor, config)

    model.save(model_dir.model)
    backbone.save_to_preset(model_dir.preset)
    tokenizer.save_to_preset(model_dir.preset)

    summary = {
        "config": json.loads(config.to_json()),
        "task": task.name,
        "labels": _read_json(model_dir.labels),
        "epochs_run": len(monitored),
        "best_epoch": best_epoch,
        "trainable_params": trainable_params,
        "total_params": int(model.count_params()),
        "train_examples_per_second": progress.examples_per_second(),
        "history": history.history,
        "validation": validation,
        "paths": {"model": os.path.abspath(config.model_dir)},
    }
    if inputs.test is not None:
        report = task.evaluate(model, inputs.test, labels, preprocessor, config)
        summary["test"] = report
        summary["paths"].update(task.write_report(report, model_dir.eval_dir("test")))
    if config.export_dir:
        serve, signature = task.serving(model, preprocessor, labels, config)
        version = export_model(model, preprocessor, serve, signature, config.export_dir)
        summary["paths"]["export"] = os.path.abspath(version)
    summary["wall_seconds"] = time.time() - started
    with open(model_dir.run_summary, "w") as f:
        json.dump(summary, f, indent=2)
    return summary


def _build_model(task, config, backbone, tokenizer, labels):
    """The task model of `config`: plain, with LoRA adapters, or prompt-tuned."""
    from tfadapt.models.prompt import SoftPromptEncoder, initial_prompt

    if config.lora_rank:
        # keras-hub freezes the backbone and adds adapters to the query / value
        # projections; it has no alpha argument, so the scale is set on each layer.
        backbone.enable_lora(config.lora_rank)
        for layer in backbone._flatten_layers(include_self=False):
            if getattr(layer, "lora_enabled", False):
                layer.lora_alpha = config.lora_alpha or config.lora_rank
    encoder = None
    if config.prompt_tuning_length:
        initial = initial_prompt(backbone, tokenizer, config.prompt_tuning_length,
                                 config.prompt_init_words, config.seed)
        encoder = SoftPromptEncoder(backbone, config.prompt_tuning_length, initial,
                                    name="soft_prompt")
    return task.build_model(backbone, labels, config, encoder)


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def check_export_dir(export_dir):
    """A UserError when `export_dir` is a file or cannot be written."""
    if not export_dir:
        return
    if os.path.exists(export_dir) and not os.path.isdir(export_dir):
        raise UserError(f"--export_dir={export_dir}: is a file, not a folder")
    existing = export_dir
    while not os.path.exists(existing):
        existing = os.path.dirname(existing) or "."
    if not os.access(existing, os.W_OK):
        raise UserError(f"--export_dir={export_dir}: {existing} is not writable")
