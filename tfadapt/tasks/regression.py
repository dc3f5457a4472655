"""Regression: one number per text (a rating, a score).

The head is one linear output trained on the target standardised with the training
data's mean and standard deviation (so the loss and learning rate mean the same for
ratings 1–10 and prices in thousands); predictions are restored to the target's scale in
the reports and inside the export.
"""

import math
import os

import numpy as np

from tfadapt.data.labels import random_split
from tfadapt.errors import UserError
from tfadapt.evaluation.regression import Standardizer
from tfadapt.tasks.classification import ClassificationTask


class RegressionTask(ClassificationTask):
    name = "regression"

    # === Data ===

    def read(self, spec, config, flag):
        examples = super().read(spec, config, flag)
        for label, where in zip(examples.labels, examples.sources):
            _number(label, where, config.label_column)
        return examples

    def label_space(self, train, everything, config):
        values = [float(label) for label in train.labels]
        if len(set(values)) < 2:
            raise UserError(f"{train.name}: every target is {values[0]:g}; regression needs "
                            "targets that vary")
        return Standardizer.fit(values)

    def check(self, labels, examples):
        pass  # every number is a valid target; `read` checked they are numbers

    def split(self, train, config):
        return random_split(train, config.validation_split, config.seed)

    def describe(self, labels):
        return f"target mean {labels.mean:.4g}, standard deviation {labels.std:.4g}"

    def targets(self, examples, labels):
        return labels.transform([float(v) for v in examples.labels]).astype("float32")[:, None]

    def load_labels(self, path):
        return Standardizer.load(path)

    # === Model ===

    def output_size(self, labels):
        return 1

    def loss(self, config):
        import keras

        if config.regression_loss == "huber":
            return keras.losses.Huber(delta=1.0)  # one standard deviation
        return keras.losses.MeanSquaredError()

    def metrics(self, labels):
        import keras

        # In standard deviations of the training targets (the head's scale).
        return [keras.metrics.RootMeanSquaredError(name="rmse")]

    # === Evaluation ===

    def evaluate(self, model, examples, labels, preprocessor, config):
        """RMSE, MAE, Pearson and Spearman on the target's scale, beside a baseline that
        always predicts the training mean."""
        from tfadapt.evaluation.regression import regression_report

        y_true = np.asarray([float(v) for v in examples.labels])
        y_pred = labels.restore(self.predict(model, examples, preprocessor, config)[:, 0])
        return {
            "task": self.name,
            "data": examples.name,
            "model": regression_report(y_true, y_pred),
            "baseline": regression_report(y_true, np.full_like(y_true, labels.mean)),
            "predictions": [float(p) for p in y_pred],
            "targets": [float(t) for t in y_true],
        }

    def write_report(self, report, out_dir):
        from tfadapt.evaluation.report import write_json

        json_path = write_json(report, out_dir)
        png_path = os.path.join(out_dir, "predicted_vs_true.png")
        _plot_scatter(report, png_path)
        return {"report": os.path.abspath(json_path),
                "predicted vs true": os.path.abspath(png_path)}

    def format_summary(self, report, paths):
        from tfadapt.evaluation.report import format_table

        model, baseline = report["model"], report["baseline"]
        rows = [(name, model[key], baseline[key]) for name, key in (
            ("RMSE", "rmse"), ("MAE", "mae"), ("Pearson r", "pearson"),
            ("Spearman rho", "spearman"))]
        return format_table(f"Evaluation on {report['data']} ({model['examples']} examples)",
                            rows, "training-mean baseline", paths)

    def headline(self, report):
        return "rmse", report["model"]["rmse"]

    # === Serving ===

    def serving(self, model, preprocessor, labels, config):
        """strings [N] → {"score": [N] float32}, on the target's own scale."""
        import tensorflow as tf

        def serve(text):
            features = preprocessor(text)
            features["padding_mask"] = tf.cast(features["padding_mask"], tf.int32)
            output = tf.cast(model(features, training=False), tf.float32)[:, 0]
            return {"score": output * labels.std + labels.mean}

        return serve, [tf.TensorSpec([None], tf.string, name="text")]


def _number(text, where, column):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise UserError(f"{where}: target {text!r} in column {column!r} is not a finite "
                        "number (--task=regression)")
    return value


def _plot_scatter(report, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    true, predicted = report["targets"], report["predictions"]
    low, high = min(true + predicted), max(true + predicted)
    fig, ax = plt.subplots(figsize=(5, 5), dpi=120)
    ax.scatter(true, predicted, s=8, alpha=0.5)
    ax.plot([low, high], [low, high], color="grey", linewidth=1)
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    model = report["model"]
    ax.set_title(f"{report['data']} — RMSE {model['rmse']:.3f}, r {model['pearson']:.3f}",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
