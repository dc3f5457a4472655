"""Token classification (NER): a BIO tag per word, from CoNLL files.

Words are split into word pieces by the model's tokenizer (`data/word_pieces.py`); the
tag is learned and predicted on each word's first piece, and the other pieces are
ignored by the loss (label -1). Reports count entities the way the CoNLL evaluation
does (exact span and type, `evaluation/entities.py`). The export takes raw sentences,
splits them into words at whitespace, and returns per-word tags and entity spans with
character offsets (`serving/tagger.py`).
"""

import os
import random

import numpy as np

from tfadapt.data.conll import Sentences, read_conll
from tfadapt.data.labels import LabelMap
from tfadapt.errors import UserError
from tfadapt.tasks.classification import ClassificationTask

OUTSIDE = "O"


class TokenClassificationTask(ClassificationTask):
    name = "token_classification"
    unit = "sentences"

    # === Data ===

    def read(self, spec, config, flag):
        if spec.startswith("tfds:"):
            raise UserError(f"--{flag}={spec}: --task=token_classification reads CoNLL files "
                            "(a token and its BIO tag per line, a blank line between sentences)")
        return Sentences(read_conll(spec, config.encoding, flag), name=spec)

    def label_space(self, train, everything, config):
        """The tags: --labels, or B- and I- of every entity type of the training file
        (before the split: a tag set is a vocabulary, not a statistic)."""
        if config.labels:
            bad = [tag for tag in config.labels if tag != OUTSIDE and tag[:2] not in ("B-", "I-")]
            if bad or OUTSIDE not in config.labels:
                raise UserError(f"--labels: BIO tags are {OUTSIDE!r}, B-TYPE and I-TYPE"
                                + (f"; {bad[0]!r} is none of them" if bad
                                   else f"; {OUTSIDE!r} is missing"))
            labels = LabelMap(config.labels, majority=OUTSIDE, given=True)
        else:
            # Both tags of every entity type seen: an I-X in the validation data is fine
            # when training saw only B-X.
            kinds = sorted({tag[2:] for tags in everything.tags for tag in tags
                            if tag != OUTSIDE})
            labels = LabelMap([OUTSIDE] + [f"{p}-{kind}" for kind in kinds for p in "BI"],
                              majority=OUTSIDE)
        self.check(labels, everything)
        return labels

    def check(self, labels, data):
        known = set(labels.names)
        for sentence in data.sentences:
            path, _, first = sentence.source.rpartition(":")
            for i, tag in enumerate(sentence.tags):
                if tag not in known:
                    origin = "--labels" if labels.given else "the training data's tags"
                    raise UserError(f"{path}:{int(first) + i}: tag {tag!r} is not in {origin} "
                                    f"({', '.join(labels.names)})")

    def split(self, train, config):
        indices = list(range(len(train)))
        random.Random(config.seed).shuffle(indices)
        k = min(max(1, round(len(indices) * config.validation_split)), len(indices) - 1)
        if k < 1:
            raise UserError("--validation_split holds out no sentence; give --validation_data")
        return (train.subset(sorted(indices[k:])),
                train.subset(sorted(indices[:k]), name=f"{train.name} (held out)"))

    def describe(self, labels):
        types = sorted({tag[2:] for tag in labels.names if tag != OUTSIDE})
        return f"{len(labels)} tags, entity types: {', '.join(types)}"

    # === Model ===

    def preprocessor(self, tokenizer, config):
        return tokenizer  # words are aligned to pieces with `align_words`, in tf.data

    def build_model(self, backbone, labels, config, encoder=None):
        from tfadapt.models.classifier import build_tagger

        return build_tagger(backbone, len(labels), config.dropout, encoder=encoder)

    def loss(self, config):
        import keras

        # Positions labelled -1 ([CLS], [SEP], pad, later pieces of a word) do not count.
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)

    def metrics(self, labels):
        from tfadapt.training.metrics import MaskedTokenAccuracy

        return [MaskedTokenAccuracy(name="token_accuracy")]

    # === Datasets ===

    def training_dataset(self, data, labels, preprocessor, config, weights=None,
                         pad_meter=None, pad_to_boundary=False):
        from tfadapt.data import pipeline

        ds = _aligned_dataset(data, labels, preprocessor, config.sequence_length)
        ds = ds.map(lambda f: ({k: f[k] for k in _MODEL_INPUTS}, f["labels"]))
        return pipeline.batched_for_training(
            ds, len(data), config.batch_size, config.bucket_boundaries, config.sequence_length,
            config.seed, pad_meter, pad_to_boundary, per_token=True)

    def evaluation_dataset(self, data, labels, preprocessor, config, pad_to_boundary=False,
                           replicas=1):
        from tfadapt.data import pipeline

        aligned = _aligned_arrays(data, labels, preprocessor, config.sequence_length)
        return pipeline.sorted_batches(
            {k: aligned[k] for k in _MODEL_INPUTS}, aligned["labels"], config.batch_size,
            config.bucket_boundaries, config.sequence_length, pad_to_boundary, replicas,
            per_token=True)

    def epoch_callbacks(self, model, inputs, preprocessor, config):
        from tfadapt.evaluation.entities import entity_report
        from tfadapt.training.callbacks import ValidationMetricLogger

        # Entity F1 needs whole sentences decoded, which a per-batch Keras metric cannot do.
        def entity_f1(model):
            predicted = self.predict_tags(model, inputs.validation, inputs.labels,
                                          preprocessor, config)
            return entity_report(inputs.validation.tags, predicted)["f1"]

        return [ValidationMetricLogger("val_entity_f1", entity_f1)]

    # === Evaluation ===

    def predict_tags(self, model, data, labels, preprocessor, config):
        """Predicted tags per sentence; words cut off by --sequence_length get "O"."""
        from tfadapt.data import pipeline

        aligned = _aligned_arrays(data, labels, preprocessor, config.sequence_length)
        ds = pipeline.sorted_batches({k: aligned[k] for k in _MODEL_INPUTS},
                                     np.arange(len(data)), config.batch_size,
                                     config.bucket_boundaries, config.sequence_length)
        best = pipeline.predict_batches(model, ds, len(data)).argmax(-1)
        predicted = []
        for i, sentence in enumerate(data.sentences):
            word_index = aligned["word_index"][i]
            tags = [OUTSIDE] * len(sentence.tokens)
            for position in np.flatnonzero(aligned["labels_mask"][i]):
                tags[word_index[position]] = labels.names[best[i, position]]
            predicted.append(tags)
        return predicted

    def evaluate(self, model, data, labels, preprocessor, config):
        """Entity-level P/R/F1 (overall and per type) and token accuracy, beside the
        baseline that tags every word O."""
        from tfadapt.evaluation.entities import entity_report

        predicted = self.predict_tags(model, data, labels, preprocessor, config)
        return {
            "task": self.name,
            "data": data.name,
            "model": {"sentences": len(data), **entity_report(data.tags, predicted)},
            "baseline": {"sentences": len(data), **entity_report(
                data.tags, [[OUTSIDE] * len(tags) for tags in data.tags])},
        }

    def write_report(self, report, out_dir):
        from tfadapt.evaluation.report import plot_per_label, write_json

        json_path = write_json(report, out_dir)
        png_path = os.path.join(out_dir, "per_type_f1.png")
        plot_per_label(report["model"]["per_type"], png_path,
                       title=f"{report['data']} — entity F1 {report['model']['f1']:.3f}")
        return {"report": os.path.abspath(json_path), "per-type F1": os.path.abspath(png_path)}

    def format_summary(self, report, paths):
        from tfadapt.evaluation.report import format_table

        model, baseline = report["model"], report["baseline"]
        rows = [(name, model[key], baseline[key]) for name, key in (
            ("entity F1", "f1"), ("entity precision", "precision"),
            ("entity recall", "recall"), ("token accuracy", "token_accuracy"))]
        rows += [(f"F1 {kind} ({stats['support']})", stats["f1"], 0.0)
                 for kind, stats in model["per_type"].items()]
        return format_table(f"Evaluation on {report['data']} ({model['sentences']} sentences, "
                            f"{model['entities']} entities)", rows, "all-O baseline", paths)

    def headline(self, report):
        return "entity_f1", report["model"]["f1"]

    # === Serving ===

    def serving(self, model, preprocessor, labels, config):
        from tfadapt.serving.tagger import tagger_serving_fn

        return tagger_serving_fn(model, preprocessor, labels.names, config.sequence_length)


_MODEL_INPUTS = ("token_ids", "segment_ids", "padding_mask")


def _aligned_dataset(data, labels, tokenizer, sequence_length):
    """One element per sentence: `align_words` features (see `data/word_pieces.py`)."""
    import tensorflow as tf

    from tfadapt.data.word_pieces import align_words

    ids = [labels.ids(tags) for tags in data.tags]
    ds = tf.data.Dataset.from_tensor_slices((tf.ragged.constant(data.tokens),
                                             tf.ragged.constant(ids, dtype=tf.int32)))
    return ds.map(lambda words, tags: align_words(tokenizer, words, tags, sequence_length),
                  num_parallel_calls=tf.data.AUTOTUNE)


def _aligned_arrays(data, labels, tokenizer, sequence_length):
    """`_aligned_dataset` as NumPy arrays padded to `sequence_length` (labels with -1),
    plus `labels_mask`: the positions that carry a word's tag (its first piece)."""
    arrays = {k: np.zeros((len(data), sequence_length), "int32") for k in _MODEL_INPUTS}
    arrays["labels"] = np.full((len(data), sequence_length), -1, "int32")
    arrays["word_index"] = np.full((len(data), sequence_length), -1, "int32")
    for i, f in enumerate(_aligned_dataset(data, labels, tokenizer, sequence_length)
                          .as_numpy_iterator()):
        for key in (*_MODEL_INPUTS, "labels", "word_index"):
            arrays[key][i, :len(f[key])] = f[key]
    arrays["labels_mask"] = arrays["labels"] >= 0
    return arrays
