"""Multi-label classification: any number of labels per text.

Each label is its own yes/no decision: sigmoid outputs and binary cross-entropy. After
training, a decision threshold per label is tuned on the validation data (`--threshold=
auto`: the one with the best F1 for that label) or fixed (`--threshold=0.5`), saved in
labels.json and built into the export.
"""

import os

import numpy as np

from tfadapt.data.labels import MultiLabelMap, random_split
from tfadapt.data.readers import read_examples
from tfadapt.tasks.classification import ClassificationTask


class MultiLabelTask(ClassificationTask):
    name = "multilabel"

    # === Data ===

    def read(self, spec, config, flag):
        return read_examples(spec, config.text_column, config.label_column, flag=flag,
                             encoding=config.encoding, tfds_data_dir=config.tfds_data_dir,
                             label_columns=config.label_columns,
                             label_delimiter=config.label_delimiter)

    def label_space(self, train, everything, config):
        # The label names of the whole training file (a vocabulary, not a statistic: a
        # rare label may fall entirely into the validation part).
        return MultiLabelMap.for_training(everything, config.label_delimiter,
                                          config.labels or config.label_columns or None)

    def split(self, train, config):
        # Random, not stratified by label set: that would over-represent rare sets in the
        # validation data, on which the thresholds are tuned.
        return random_split(train, config.validation_split, config.seed)

    def describe(self, labels):
        return f"labels (any number per text): {', '.join(labels.names)}"

    def targets(self, examples, labels):
        return labels.multi_hot(examples.labels)

    def load_labels(self, path):
        return MultiLabelMap.load(path)

    # === Model ===

    def loss(self, config):
        import keras

        return keras.losses.BinaryCrossentropy(from_logits=True)

    def metrics(self, labels):
        from tfadapt.training.metrics import SigmoidF1Score

        # At a threshold of 0.5 during training; tuned thresholds come after it.
        return [SigmoidF1Score(average="macro", threshold=0.5, name="macro_f1"),
                SigmoidF1Score(average="micro", threshold=0.5, name="micro_f1")]

    def after_training(self, model, inputs, preprocessor, config, log=print):
        from tfadapt.evaluation.multilabel import tune_thresholds

        labels = inputs.labels
        if config.threshold == "auto":
            probabilities = _sigmoid(self.predict(model, inputs.validation, preprocessor, config))
            thresholds = tune_thresholds(labels.multi_hot(inputs.validation.labels), probabilities)
            log("tfadapt: thresholds tuned on the validation data: " + ", ".join(
                f"{name} {t:.2f}" for name, t in zip(labels.names, thresholds)))
        else:
            thresholds = np.full(len(labels), float(config.threshold))
        return MultiLabelMap(labels.names, labels.delimiter, thresholds, labels.given)

    # === Evaluation ===

    def evaluate(self, model, examples, labels, preprocessor, config):
        """Micro/macro-F1, subset accuracy, per-label figures; beside the baseline that
        predicts no label (what a model that learned nothing does when every label is rare)."""
        from tfadapt.evaluation.multilabel import multilabel_report

        labels.check(examples)
        y_true = labels.multi_hot(examples.labels)
        probabilities = _sigmoid(self.predict(model, examples, preprocessor, config))
        y_pred = probabilities >= labels.thresholds
        return {
            "task": self.name,
            "data": examples.name,
            "thresholds": dict(zip(labels.names, map(float, labels.thresholds))),
            "model": multilabel_report(y_true, y_pred, labels.names),
            "baseline": multilabel_report(y_true, np.zeros_like(y_pred), labels.names),
        }

    def write_report(self, report, out_dir):
        from tfadapt.evaluation.report import plot_per_label, write_json

        json_path = write_json(report, out_dir)
        png_path = os.path.join(out_dir, "per_label_f1.png")
        plot_per_label(report["model"]["per_label"], png_path,
                       title=f"{report['data']} — micro-F1 {report['model']['micro_f1']:.3f}, "
                             f"macro-F1 {report['model']['macro_f1']:.3f}")
        return {"report": os.path.abspath(json_path), "per-label F1": os.path.abspath(png_path)}

    def format_summary(self, report, paths):
        from tfadapt.evaluation.report import format_table

        model, baseline = report["model"], report["baseline"]
        rows = [(name, model[key], baseline[key]) for name, key in (
            ("micro-F1", "micro_f1"), ("macro-F1", "macro_f1"),
            ("subset accuracy", "subset_accuracy"))]
        rows += [(f"F1 {name} (t={report['thresholds'][name]:.2f})", stats["f1"],
                  baseline["per_label"][name]["f1"])
                 for name, stats in model["per_label"].items()]
        return format_table(f"Evaluation on {report['data']} ({model['examples']} examples)",
                            rows, "no-label baseline", paths)

    def headline(self, report):
        return "macro_f1", report["model"]["macro_f1"]

    # === Serving ===

    def serving(self, model, preprocessor, labels, config):
        """strings [N] → probabilities [N, L] float32, predicted [N, L] bool, and labels
        [N, L] string (the label's name where predicted, "" elsewhere)."""
        import tensorflow as tf

        names = tf.constant(list(labels.names))
        thresholds = tf.constant(labels.thresholds, tf.float32)

        def serve(text):
            features = preprocessor(text)
            features["padding_mask"] = tf.cast(features["padding_mask"], tf.int32)
            probabilities = tf.sigmoid(tf.cast(model(features, training=False), tf.float32))
            predicted = probabilities >= thresholds
            return {"probabilities": probabilities, "predicted": predicted,
                    "labels": tf.where(predicted, names, "")}

        return serve, [tf.TensorSpec([None], tf.string, name="text")]


def _sigmoid(logits):
    return 1.0 / (1.0 + np.exp(-logits))
