"""The label vocabulary: string labels ↔ class ids, saved with the model."""

import json
import random
from collections import Counter

import numpy as np

from tfadapt.errors import UserError


class LabelMap:
    """An ordered list of class names; a class id is a position in it.

    Args:
        names: the class names, in id order.

    Example:
    >>> label_map = LabelMap.infer(["pos", "neg", "pos"])
    >>> label_map.names, label_map.ids(["neg", "pos"])
    (('neg', 'pos'), [0, 1])
    """

    def __init__(self, names, majority=None, given=False):
        self.names = tuple(names)
        self.given = given  # from --labels rather than inferred
        self.majority = majority  # most frequent training label, for the baseline
        self._index = {name: i for i, name in enumerate(self.names)}

    @classmethod
    def infer(cls, labels):
        """The sorted set of labels seen in the training data."""
        return cls(sorted(set(labels)))

    @classmethod
    def for_training(cls, examples, given=None):
        """The label map of a run: `given` (--labels) or inferred; checked against the data."""
        label_map = cls(given, given=True) if given else cls.infer(examples.labels)
        label_map.check(examples)
        counts = Counter(examples.labels)
        label_map.majority = min(counts, key=lambda label: (-counts[label], label))
        if len(counts) < 2:
            (only,) = counts
            raise UserError(f"{examples.name}: every example has the label {only!r}; "
                            "classification needs at least two classes")
        return label_map

    def check(self, examples):
        """Raises a UserError naming the first example whose label is not in the map."""
        for label, where in zip(examples.labels, examples.sources):
            if label not in self._index:
                known = ", ".join(repr(n) for n in self.names)
                origin = "--labels" if self.given else "the training data's labels"
                raise UserError(f"{where}: label {label!r} is not in {origin} ({known})")

    def ids(self, labels):
        return [self._index[label] for label in labels]

    def __len__(self):
        return len(self.names)

    def class_weights(self, examples, spec):
        """Per-class loss weights in class-id order from --class_weights.

        `none`: all 1. `balanced`: n / (classes × count), as scikit-learn's
        `compute_class_weight("balanced")`, so the weighted classes count equally.
        `LABEL=WEIGHT,…`: the given weights; labels not named weigh 1.
        """
        if spec == "none":
            return np.ones(len(self), "float32")
        if spec == "balanced":
            counts = np.bincount(self.ids(examples.labels), minlength=len(self)).astype("float64")
            weights = len(examples) / (len(self) * np.maximum(counts, 1))
            return weights.astype("float32")
        weights = np.ones(len(self), "float32")
        for item in spec.split(","):
            label, _, value = item.rpartition("=")
            label = label.strip()
            if label not in self._index:
                raise UserError(f"--class_weights: {label!r} is not a label "
                                f"({', '.join(self.names)})")
            try:
                weights[self._index[label]] = float(value)
            except ValueError:
                raise UserError(f"--class_weights: {item!r}: the weight must be a number") from None
            if not 0 <= weights[self._index[label]] < float("inf"):
                raise UserError(f"--class_weights: {item!r}: the weight must be a "
                                "non-negative number")
        return weights

    def save(self, path):
        with open(path, "w") as f:
            json.dump({"labels": list(self.names), "majority": self.majority,
                       "given": self.given}, f, indent=2)

    @classmethod
    def load(cls, path):
        with open(path) as f:
            saved = json.load(f)
        return cls(saved["labels"], saved.get("majority"), saved.get("given", False))


def stratified_split(examples, fraction, seed):
    """Holds out `fraction` of each class, deterministically for a given seed.

    Returns (train, held_out). Every class with at least two examples keeps at least one
    in training and gives at least one to the held-out part.
    """
    rng = random.Random(seed)
    by_label = {}
    for i, label in enumerate(examples.labels):
        by_label.setdefault(label, []).append(i)
    train, held_out = [], []
    for label in sorted(by_label):
        indices = by_label[label]
        rng.shuffle(indices)
        n = len(indices)
        k = min(max(1, round(n * fraction)), n - 1) if n >= 2 else 0
        held_out += indices[:k]
        train += indices[k:]
    if not held_out:
        raise UserError("--validation_split holds out no example; give --validation_data")
    return (examples.subset(sorted(train)),
            examples.subset(sorted(held_out), name=f"{examples.name} (held out)"))


class MultiLabelMap:
    """The labels of a multi-label task: an example's label is a set of names, written
    as one string joined by `delimiter` (an empty string: no label).

    `thresholds` are the per-label decision thresholds on sigmoid probabilities (set
    after training, see `tasks.multilabel`).

    Example:
    >>> label_map = MultiLabelMap.for_training(examples_with_labels(["a|b", "", "b"]))
    >>> label_map.names, label_map.multi_hot(["b", "a|b"]).tolist()
    (('a', 'b'), [[0.0, 1.0], [1.0, 1.0]])
    """

    def __init__(self, names, delimiter="|", thresholds=None, given=False):
        self.names = tuple(names)
        self.delimiter = delimiter
        self.given = given
        self.thresholds = np.full(len(self.names), 0.5) if thresholds is None \
            else np.asarray(thresholds, dtype=np.float64)
        self._index = {name: i for i, name in enumerate(self.names)}

    @classmethod
    def for_training(cls, examples, delimiter="|", given=None):
        seen = sorted({name for label in examples.labels for name in _parts(label, delimiter)})
        label_map = cls(given or seen, delimiter, given=bool(given))
        label_map.check(examples)
        if len(label_map) < 2:
            raise UserError(f"{examples.name}: the training data has {len(label_map)} label(s) "
                            f"({', '.join(label_map.names) or 'none'}); multi-label "
                            "classification needs at least two")
        return label_map

    def parts(self, label):
        return _parts(label, self.delimiter)

    def check(self, examples):
        """Raises a UserError naming the first example with a label not in the map."""
        for label, where in zip(examples.labels, examples.sources):
            for name in self.parts(label):
                if name not in self._index:
                    origin = "--labels" if self.given else "the training data's labels"
                    raise UserError(f"{where}: label {name!r} is not in {origin} "
                                    f"({', '.join(repr(n) for n in self.names)})")

    def multi_hot(self, labels):
        rows = np.zeros((len(labels), len(self)), "float32")
        for i, label in enumerate(labels):
            rows[i, [self._index[name] for name in self.parts(label)]] = 1.0
        return rows

    def __len__(self):
        return len(self.names)

    def save(self, path):
        with open(path, "w") as f:
            json.dump({"labels": list(self.names), "delimiter": self.delimiter,
                       "thresholds": [float(t) for t in self.thresholds],
                       "given": self.given}, f, indent=2)

    @classmethod
    def load(cls, path):
        with open(path) as f:
            saved = json.load(f)
        return cls(saved["labels"], saved["delimiter"], saved["thresholds"], saved["given"])


def _parts(label, delimiter):
    return [name.strip() for name in label.split(delimiter) if name.strip()]


def random_split(examples, fraction, seed):
    """Holds out `fraction` of the examples at random (seeded): (train, held_out)."""
    indices = list(range(len(examples)))
    random.Random(seed).shuffle(indices)
    k = min(max(1, round(len(indices) * fraction)), len(indices) - 1)
    if k < 1:
        raise UserError("--validation_split holds out no example; give --validation_data")
    return (examples.subset(sorted(indices[k:])),
            examples.subset(sorted(indices[:k]), name=f"{examples.name} (held out)"))
