"""Read labeled text from CSV, TSV, JSONL files or TensorFlow Datasets.

Every reader returns `Examples`: parallel lists of texts and string labels, plus where
each example came from (`file:line`), so that later checks can name the line a problem
is on. Labels are always strings here; `labels.LabelMap` maps them to ids.
"""

import csv
import dataclasses
import json
import os
import re
import socket
from typing import List, Optional

from tfadapt.errors import UserError, first_line

TFDS_PREFIX = "tfds:"


@dataclasses.dataclass
class Examples:
    texts: List[str]
    labels: List[str]
    sources: List[str]  # "path:line" of each example, for error messages.
    name: str  # the file or TFDS spec the examples came from.
    pairs: Optional[List[str]] = None  # the second text of each pair (pair tasks only)
    # Per example, a probability per class to train on instead of its label (soft
    # pseudo-labels of self-training), or None; None for the whole set when none has one.
    soft: Optional[List[Optional[List[float]]]] = None

    def __len__(self):
        return len(self.texts)

    @property
    def inputs(self):
        """What the preprocessor takes: the texts, or (texts, pairs) for a pair task."""
        return self.texts if self.pairs is None else (self.texts, self.pairs)

    def subset(self, indices, name=None):
        return Examples(
            texts=[self.texts[i] for i in indices],
            labels=[self.labels[i] for i in indices],
            sources=[self.sources[i] for i in indices],
            name=name or self.name,
            pairs=None if self.pairs is None else [self.pairs[i] for i in indices],
            soft=None if self.soft is None else [self.soft[i] for i in indices],
        )

    def concat(self, other, name=None):
        """These examples followed by `other`'s (both single texts or both pairs)."""
        if (self.pairs is None) != (other.pairs is None):
            raise ValueError("cannot join pairs with single texts")
        soft = None
        if self.soft is not None or other.soft is not None:
            soft = (self.soft or [None] * len(self)) + (other.soft or [None] * len(other))
        return Examples(self.texts + other.texts, self.labels + other.labels,
                        self.sources + other.sources, name or self.name,
                        None if self.pairs is None else self.pairs + other.pairs, soft)

    def with_labels(self, labels):
        return dataclasses.replace(self, labels=list(labels))


def read_examples(spec, text_column, label_column, flag="train_data", encoding="utf-8",
                  tfds_data_dir=None, pair_column=None, label_columns=(), label_delimiter=None):
    """Reads examples from a file path or `tfds:NAME[:SPLIT]`.

    Args:
        spec: a `.csv`, `.tsv` or `.jsonl` file, or `tfds:NAME[:SPLIT]`.
        text_column: the column (or TFDS feature) holding the text.
        label_column: the column (or TFDS feature) holding the label.
        flag: the flag `spec` came from, named in error messages.
        encoding: the text encoding of files.
        tfds_data_dir: where TFDS datasets are prepared (TFDS's default when None).
        pair_column: the column holding each pair's second text (pair tasks).
        label_delimiter: set for multi-label data: the label column holds several labels
            joined by it, and may be empty (an example with no label).
        label_columns: multi-label data with one 0/1 column per label: the label of an
            example is then the names of its 1-columns joined by `label_delimiter` ("|"
            when unset). `label_column` is not read.
    """
    if spec.startswith(TFDS_PREFIX):
        if label_columns:
            raise UserError(f"--{flag}={spec}: --label_columns reads files only; name the "
                            "TFDS label feature with --label_column")
        examples = _read_tfds(spec, text_column, label_column, flag, tfds_data_dir, pair_column)
    else:
        examples = _read_file(spec, text_column, label_column, flag, encoding, pair_column,
                              label_columns, label_delimiter)
    if not examples.texts:
        raise UserError(f"--{flag}={spec}: no examples found")
    return examples


# === Files ===

def read_lines(path, flag, encoding="utf-8"):
    """A text file's lines (for CoNLL files, thesauri); errors name the flag or file:line."""
    if not os.path.isfile(path):
        raise UserError(f"--{flag}={path}: file not found")
    # A UTF-8 byte-order mark is not part of the first line.
    reading = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        with open(path, encoding=reading) as f:
            return f.read().splitlines()
    except UnicodeDecodeError as e:
        raise UserError(f"{path}:{_line_of_bad_bytes(path, encoding)}: bytes that are not valid "
                        f"{encoding} ({e.reason}); save the file as UTF-8 or set --encoding") from None


def table_rows(path, flag, encoding="utf-8", extensions=(".csv", ".tsv", ".jsonl")):
    """`(where, row)` of each row of a CSV, TSV or JSONL file; `where` is "path:line".

    Errors (no file, another type, undecodable bytes, malformed CSV or JSON) are a
    `UserError` naming the flag or `file:line`.
    """
    if not os.path.isfile(path):
        raise UserError(f"--{flag}={path}: file not found")
    ext = os.path.splitext(path)[1].lower()
    if ext not in extensions:
        raise UserError(f"--{flag}={path}: unsupported file type {ext!r}; use "
                        f"{', '.join(extensions[:-1])} or {extensions[-1]}")
    try:
        with open(path, newline="", encoding=encoding) as f:
            rows = _jsonl_rows(f, path) if ext == ".jsonl" else _delimited_rows(
                f, path, delimiter="\t" if ext == ".tsv" else ",")
            for line, row in rows:
                yield f"{path}:{line}", row
    except UnicodeDecodeError as e:
        line = _line_of_bad_bytes(path, encoding)
        raise UserError(
            f"{path}:{line}: bytes that are not valid {encoding} ({e.reason}); "
            f"save the file as UTF-8 or set --encoding") from None
    except csv.Error as e:
        raise UserError(f"{path}: malformed {ext[1:].upper()}: {e}") from None


def _read_file(path, text_column, label_column, flag, encoding, pair_column=None,
               label_columns=(), label_delimiter=None):
    texts, labels, sources, pairs = [], [], [], []
    for where, row in table_rows(path, flag, encoding):
        text = _text(row, text_column, where, "--text_column")
        if pair_column:
            pairs.append(_text(row, pair_column, where, "--text_pair_column"))
        if label_columns:
            label = (label_delimiter or "|").join(
                column for column in label_columns
                if _binary(field(row, column, where, "--label_columns"), where, column))
        else:
            label = field(row, label_column, where, "--label_column")
            if not label.strip() and label_delimiter is None:
                raise UserError(f"{where}: empty label in column {label_column!r}")
        texts.append(text)
        labels.append(label.strip())
        sources.append(where)
    return Examples(texts, labels, sources, name=path, pairs=pairs if pair_column else None)


def _text(row, column, where, flag):
    text = field(row, column, where, flag)
    if not text.strip():
        raise UserError(f"{where}: empty text in column {column!r}")
    return text


def _binary(value, where, column):
    value = value.strip()
    if value not in ("0", "1", "0.0", "1.0", "True", "False", "true", "false"):
        raise UserError(f"{where}: column {column!r} holds {value!r}; --label_columns "
                        "expects 0 or 1 in each label column")
    return value in ("1", "1.0", "True", "true")


def _delimited_rows(f, path, delimiter):
    reader = csv.DictReader(f, delimiter=delimiter)
    if reader.fieldnames is None:
        raise UserError(f"{path}: the file is empty; expected a header row")
    for row in reader:
        if None in row:  # more fields than the header has
            raise UserError(f"{path}:{reader.line_num}: {len(reader.fieldnames) + len(row[None])} "
                            f"fields but the header has {len(reader.fieldnames)}")
        yield reader.line_num, row


def _jsonl_rows(f, path):
    for line_number, line in enumerate(f, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{path}:{line_number}: not valid JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise UserError(f"{path}:{line_number}: expected a JSON object per line")
        yield line_number, row


def field(row, column, where, flag):
    """The value of `column` in a table row, as text; a UserError names `where` and `flag`."""
    if column not in row:
        columns = ", ".join(repr(c) for c in row if c is not None)
        raise UserError(f"{where}: no column {column!r} (found {columns}); set {flag}")
    value = row[column]
    if value is None:
        raise UserError(f"{where}: missing value in column {column!r}")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise UserError(f"{where}: column {column!r} holds {type(value).__name__}, expected text")
    return str(value)


def _line_of_bad_bytes(path, encoding):
    with open(path, "rb") as f:
        for line_number, raw in enumerate(f, start=1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError:
                return line_number
    return "?"


# === TensorFlow Datasets ===

_TFDS_SPEC = re.compile(r"(?P<name>[^:\[\]]+?(?::\d+\.\d+\.\d+)?)(?::(?P<split>.+))?")
_DEFAULT_SPLIT = {"train_data": "train", "validation_data": "validation", "test_data": "test"}


def parse_tfds_spec(spec, flag):
    """`tfds:NAME[:VERSION][:SPLIT]` → (name, split); SPLIT may slice (`train[:90%]`)."""
    match = _TFDS_SPEC.fullmatch(spec[len(TFDS_PREFIX):])
    if not match:
        raise UserError(f"--{flag}={spec}: expected tfds:NAME[:SPLIT], e.g. tfds:imdb_reviews:test")
    return match["name"], match["split"] or _DEFAULT_SPLIT.get(flag, "train")


def load_tfds(spec, flag, data_dir=None, needed=()):
    """(tf.data split, features) of `tfds:NAME[:SPLIT]`, prepared first if need be.

    `needed` lists `(feature, flag that names it)`; a missing one is a UserError.
    """
    import tensorflow_datasets as tfds  # Imported here: only TFDS users pay for it.

    name, split = parse_tfds_spec(spec, flag)
    try:
        # A prepared dataset (a public one prepared earlier, or a local builder's output)
        # loads without the network. Try that first: TFDS's own download retries for
        # minutes before it fails when there is no network.
        builder = tfds.builder(name, data_dir=data_dir)
        if not builder.is_prepared():
            _require_network(spec, flag, data_dir)
            builder.download_and_prepare()
        dataset, features = builder.as_dataset(split=split), builder.info.features
    except UserError:
        raise
    except Exception as e:  # TFDS raises many types; each ends here as one line.
        raise UserError(f"--{flag}={spec}: TFDS could not load it: {first_line(e)}") from None
    for column, which in needed:
        if column not in features:
            raise UserError(f"--{flag}={spec}: no feature {column!r} (features: "
                            f"{', '.join(sorted(features.keys()))}); set {which}")
    return dataset, features


def _read_tfds(spec, text_column, label_column, flag, data_dir, pair_column=None):
    import tensorflow_datasets as tfds

    needed = [(text_column, "--text_column"), (label_column, "--label_column")]
    if pair_column:
        needed.append((pair_column, "--text_pair_column"))
    dataset, features = load_tfds(spec, flag, data_dir, needed)
    label_feature = features[label_column]
    to_name = getattr(label_feature, "int2str", None)
    texts, labels, sources, pairs = [], [], [], []
    for i, row in enumerate(tfds.as_numpy(dataset)):
        text = decode(row[text_column])
        label = row[label_column]
        where = f"{spec}[{i}]"
        if to_name is not None:
            if int(label) < 0:  # e.g. GLUE test splits: label -1, no gold label
                raise UserError(f"{where}: unlabeled example (label {int(label)}); this split "
                                "has no gold labels")
            label = to_name(int(label))
        else:
            label = decode(label)
        for column, value in ((text_column, text),) + (
                ((pair_column, decode(row[pair_column])),) if pair_column else ()):
            if not value.strip():
                raise UserError(f"{where}: empty text in feature {column!r}")
        if pair_column:
            pairs.append(decode(row[pair_column]))
        texts.append(text)
        labels.append(str(label))
        sources.append(where)
    return Examples(texts, labels, sources, name=spec, pairs=pairs if pair_column else None)


def decode(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _require_network(spec, flag, data_dir, host="storage.googleapis.com", timeout=3.0):
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as e:
        where = data_dir or "TFDS's default data_dir"
        raise UserError(
            f"--{flag}={spec}: not prepared in {where} and the network is unreachable "
            f"({e.__class__.__name__}); prepare it where you have internet, or set --tfds_data_dir"
        ) from None
