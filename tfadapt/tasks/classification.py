"""Single-label text classification, and its sentence-pair form.

`ClassificationTask` is also the base of the other text tasks (multi-label, regression):
they read the same files, tokenize with the same keras-hub preprocessor and pool the
same way, and differ in their targets, head size, loss, metrics, report and signature.
"""

import dataclasses
import os

import numpy as np

from tfadapt.data.labels import LabelMap, stratified_split
from tfadapt.data.readers import read_examples


@dataclasses.dataclass
class Inputs:
    """The checked data of a run and its label space (what the head predicts)."""

    train: object
    validation: object
    test: object
    labels: object  # LabelMap, MultiLabelMap, Standardizer or a tag LabelMap
    sample_weights: object = None  # one per training example, or None


class ClassificationTask:
    """One class per text: softmax over the labels, cross-entropy, macro-F1."""

    name = "classification"
    unit = "examples"  # what one item of the data is called in the log

    # === Data ===

    def read(self, spec, config, flag):
        """One data set of `spec` (a file or tfds:…), read with the run's columns."""
        return read_examples(spec, config.text_column, config.label_column, flag=flag,
                             encoding=config.encoding, tfds_data_dir=config.tfds_data_dir,
                             pair_column=config.text_pair_column)

    def read_inputs(self, config, log=print):
        """Reads and checks the train / validation / test data of `config`."""
        everything = self.read(config.train_data, config, "train_data")
        if config.max_train_examples and len(everything) > config.max_train_examples:
            everything = everything.subset(range(config.max_train_examples))
        if config.validation_data:
            train = everything
            validation = self.read(config.validation_data, config, "validation_data")
        else:
            train, validation = self.split(everything, config)
        # Learned from the training part only (after the split): the majority class, the
        # regression target's mean and scale.
        labels = self.label_space(train, everything, config)
        self.check(labels, validation)
        if config.pseudo_labels:
            from tfadapt.training.self_training import read_pseudo_labels

            # After the split: validation stays labeled data only.
            train = train.concat(read_pseudo_labels(config.pseudo_labels, labels.names,
                                                    config.soft_pseudo_labels))
        train = self.augment(train, config)
        test = None
        if config.test_data:
            test = self.read(config.test_data, config, "test_data")
            self.check(labels, test)
        log(f"tfadapt: {len(train)} training, {len(validation)} validation"
            + (f", {len(test)} test" if test else "") + f" {self.unit}; {self.describe(labels)}")
        return Inputs(train, validation, test, labels, self.sample_weights(train, labels, config))

    def label_space(self, train, everything, config):
        """What the head predicts, from the training part (`everything`: before the split)."""
        return LabelMap.for_training(train, config.labels)

    def check(self, labels, examples):
        labels.check(examples)

    def split(self, train, config):
        return stratified_split(train, config.validation_split, config.seed)

    def augment(self, train, config):
        if not config.augment_copies:
            return train
        from tfadapt.data.augment import augment_examples, read_synonyms

        # After the split: held-out examples and their copies never reach training.
        synonyms = read_synonyms(config.synonyms, config.encoding) if config.synonyms else {}
        return augment_examples(train, config.augment_copies, config.eda_ops,
                                config.augment_rate, synonyms, config.seed)

    def sample_weights(self, train, labels, config):
        if config.class_weights == "none":
            return None
        return labels.class_weights(train, config.class_weights)[labels.ids(train.labels)]

    def describe(self, labels):
        return f"labels: {', '.join(labels.names)}"

    def targets(self, examples, labels):
        """What the loss compares the outputs with: one-hot rows, or an example's own
        probabilities (soft pseudo-labels)."""
        targets = np.eye(len(labels), dtype="float32")[labels.ids(examples.labels)]
        for i, row in enumerate(examples.soft or ()):
            if row is not None:
                targets[i] = row
        return targets

    def save_labels(self, labels, path):
        labels.save(path)

    def load_labels(self, path):
        return LabelMap.load(path)

    # === Model ===

    def preprocessor(self, tokenizer, config):
        import keras_hub

        return keras_hub.models.BertTextClassifierPreprocessor(
            tokenizer, sequence_length=config.sequence_length)

    def output_size(self, labels):
        return len(labels)

    def build_model(self, backbone, labels, config, encoder=None):
        from tfadapt.models.classifier import build_classifier

        return build_classifier(backbone, self.output_size(labels), config.dropout,
                                config.pooling, encoder=encoder,
                                name="prompt_tuned_classifier" if encoder else "text_classifier")

    def loss(self, config):
        import keras

        return keras.losses.CategoricalCrossentropy(from_logits=True)

    def metrics(self, labels):
        import keras

        return [keras.metrics.CategoricalAccuracy(name="accuracy"),
                keras.metrics.F1Score(average="macro", name="macro_f1")]

    # === Datasets ===

    def training_dataset(self, examples, labels, preprocessor, config, weights=None,
                         pad_meter=None, pad_to_boundary=False):
        from tfadapt.data import pipeline

        return pipeline.training_dataset(
            examples.inputs, self.targets(examples, labels), preprocessor, config.batch_size,
            config.bucket_boundaries, config.seed, pad_meter, pad_to_boundary=pad_to_boundary,
            sample_weights=weights)

    def evaluation_dataset(self, examples, labels, preprocessor, config, pad_to_boundary=False,
                           replicas=1):
        from tfadapt.data import pipeline

        return pipeline.evaluation_dataset(
            examples.inputs, self.targets(examples, labels), preprocessor, config.batch_size,
            config.bucket_boundaries, pad_to_boundary=pad_to_boundary, replicas=replicas)

    def epoch_callbacks(self, model, inputs, preprocessor, config):
        """Callbacks that add task metrics Keras cannot compute per batch (none here)."""
        return []

    def after_training(self, model, inputs, preprocessor, config, log=print):
        """The label space to save once the best weights are back (unchanged here)."""
        return inputs.labels

    # === Evaluation ===

    def predict(self, model, examples, preprocessor, config):
        from tfadapt.data import pipeline

        return pipeline.predict(model, examples.inputs, preprocessor, config.batch_size,
                                config.bucket_boundaries)

    def evaluate(self, model, examples, labels, preprocessor, config):
        """The report of `model` on `examples`, beside the majority-class baseline."""
        from tfadapt.evaluation.metrics import classification_report, majority_baseline

        labels.check(examples)
        y_true = np.asarray(labels.ids(examples.labels))
        logits = self.predict(model, examples, preprocessor, config)
        majority = labels.ids([labels.majority])[0]
        return {
            "task": self.name,
            "data": examples.name,
            "model": classification_report(y_true, logits.argmax(axis=-1), labels.names),
            "baseline": majority_baseline(majority, y_true, labels.names),
        }

    def write_report(self, report, out_dir):
        """report.json and a picture of where the model fails; returns {what: path}."""
        from tfadapt.evaluation.report import write_report

        json_path, png_path = write_report(report, out_dir)
        return {"report": os.path.abspath(json_path), "confusion matrix": os.path.abspath(png_path)}

    def format_summary(self, report, paths):
        from tfadapt.evaluation.report import format_summary

        return format_summary(report, paths)

    def headline(self, report):
        """(name, value) of the report's main figure, for comparisons."""
        return "macro_f1", report["model"]["macro_f1"]

    # === Serving ===

    def serving(self, model, preprocessor, labels, config):
        """(function, input signature) of the raw-text `serving_default` endpoint."""
        import tensorflow as tf

        from tfadapt.serving.savedmodel import classifier_serving_fn

        return (classifier_serving_fn(model, preprocessor, labels.names),
                [tf.TensorSpec([None], tf.string, name="text")])


class PairTask(ClassificationTask):
    """One class per text pair (NLI, paraphrase, query–document relevance).

    The keras-hub packer joins a pair as `[CLS] text [SEP] pair [SEP]` with segment ids
    0 and 1 (BERT's sentence-pair input); the exported signature takes two strings.
    """

    name = "pair"

    def serving(self, model, preprocessor, labels, config):
        import tensorflow as tf

        from tfadapt.serving.savedmodel import classifier_serving_fn

        serve = classifier_serving_fn(model, preprocessor, labels.names)
        return ((lambda text, text_pair: serve((text, text_pair))),
                [tf.TensorSpec([None], tf.string, name="text"),
                 tf.TensorSpec([None], tf.string, name="text_pair")])
