"""The layout of a run's `--model_dir`, and loading a finished run back.

    model_dir/
      config.flags         the resolved config; `tfadapt.train --flagfile=` re-runs the job
      config.json          the same, for programs
      labels.json          what the head predicts: labels in class-id order (and per-label
                           thresholds for multilabel), tags, or a regression target's scale
      lr_rules.json        the effective learning-rate table, with parameter counts per rule
      checkpoints/best.weights.h5   weights of the best epoch on the monitored metric
      metrics.csv          every epoch's training and validation metrics, pad fraction
      logs/                TensorBoard
      preset/              the fine-tuned backbone + tokenizer as a KerasHub preset
      model.keras          the whole task model (backbone + head)
      eval/<name>/         report.json and a PNG per evaluated data set
      run.json             written last: the run finished; summary and figures
"""

import json
import os
import shutil

from tfadapt.errors import UserError


class ModelDir:
    def __init__(self, root):
        self.root = root

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    config_json = property(lambda self: self.path("config.json"))
    flagfile = property(lambda self: self.path("config.flags"))
    labels = property(lambda self: self.path("labels.json"))
    lr_rules = property(lambda self: self.path("lr_rules.json"))
    best_checkpoint = property(lambda self: self.path("checkpoints", "best.weights.h5"))
    metrics_csv = property(lambda self: self.path("metrics.csv"))
    logs = property(lambda self: self.path("logs"))
    preset = property(lambda self: self.path("preset"))
    model = property(lambda self: self.path("model.keras"))
    run_summary = property(lambda self: self.path("run.json"))

    def eval_dir(self, name):
        return self.path("eval", name)

    def finished_summary(self):
        """run.json's content if a run finished here, else None."""
        if not os.path.isfile(self.run_summary):
            return None
        with open(self.run_summary) as f:
            return json.load(f)

    def interrupted(self):
        """Whether a run started here (its config is written) but never finished."""
        return os.path.isfile(self.config_json) and self.finished_summary() is None

    def check(self, config, overwrite):
        """Checks the folder before a run; returns a finished run's summary to reuse, or None.

        A folder that holds the same job, finished, is reused (nothing is redone). One that
        holds anything else is refused unless `overwrite`; nothing is deleted here (see
        `clear`), so a run that fails its later checks loses nothing.
        """
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise UserError(f"--model_dir={self.root}: is a file, not a folder")
        if not os.path.exists(self.root) or not os.listdir(self.root):
            return None
        summary = self.finished_summary()
        if summary is not None and _same_job(summary.get("config"), config) and not overwrite:
            return summary
        if not overwrite:
            what = "a different finished run" if summary else "files of another or unfinished run"
            raise UserError(f"--model_dir={self.root}: holds {what}; pass --overwrite to replace "
                            "it, or choose another --model_dir")
        if not os.path.isfile(self.config_json) and summary is None:
            raise UserError(f"--model_dir={self.root}: is not empty and is not a tfadapt run; "
                            "--overwrite only replaces tfadapt runs")
        return None

    def clear(self):
        """Removes an earlier run (after `check` allowed it) and creates the folder."""
        if os.path.isdir(self.root) and os.listdir(self.root):
            shutil.rmtree(self.root)
        os.makedirs(self.root, exist_ok=True)

    def require_trained(self):
        """The run's config; a UserError unless a finished run is here."""
        if not os.path.isfile(self.model) or not os.path.isfile(self.run_summary):
            raise UserError(f"--model_dir={self.root}: no finished run (model.keras and "
                            "run.json); train a model there first")
        return self.load_config()

    def load_config(self):
        from tfadapt.config import TrainConfig

        if not os.path.isfile(self.config_json):
            raise UserError(f"--model_dir={self.root}: no config.json; not a tfadapt run")
        with open(self.config_json) as f:
            return TrainConfig.from_json(f.read())


def _same_job(saved, current):
    if saved is None:
        return False
    ignore = ("overwrite",)  # it says what to do with an old run, not what the job is
    # A run saved before a flag existed ran with that flag's default.
    saved = {**_defaults(), **saved}
    saved = {k: v for k, v in saved.items() if k not in ignore}
    current = {k: v for k, v in current.items() if k not in ignore}
    return _resolved_monitor(saved) == _resolved_monitor(current) and all(
        saved.get(k) == current.get(k) for k in set(saved) | set(current)
        if k != "early_stopping_metric")


def _resolved_monitor(config):
    """`auto` and the task's default monitor name the same job."""
    from tfadapt.config import MONITORS

    metric = config.get("early_stopping_metric", "auto")
    return MONITORS[config.get("task", "classification")][0] if metric == "auto" else metric


def _defaults():
    import dataclasses

    from tfadapt.config import TrainConfig

    return {f.name: list(f.default) if isinstance(f.default, tuple) else f.default
            for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}


def load_trained(root):
    """(model, preprocessor, labels, config) of a finished run in `root`.

    `labels` is the task's label space (a `LabelMap` for classification and pairs);
    `preprocessor` turns its raw text into model inputs (see `tfadapt.tasks`).
    """
    import keras
    import keras_hub

    from tfadapt.models import prompt  # noqa: F401 (registers SoftPromptEncoder for loading)
    from tfadapt.tasks import get_task

    model_dir = ModelDir(root)
    config = model_dir.require_trained()
    task = get_task(config.task)
    model = keras.saving.load_model(model_dir.model, compile=False)
    tokenizer = keras_hub.models.BertTokenizer.from_preset(model_dir.preset)
    return (model, task.preprocessor(tokenizer, config), task.load_labels(model_dir.labels),
            config)
