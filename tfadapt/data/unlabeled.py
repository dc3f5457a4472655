"""Read unlabeled domain text for masked-LM pretraining.

`read_texts` accepts what `readers.read_examples` accepts, without a label, plus plain
text files:

- `.txt`: one document or sentence per line; blank lines are skipped;
- `.csv`, `.tsv`, `.jsonl`: the `text_column` of each row; rows whose text is empty are
  skipped (unlabeled corpora often have some), a missing column is an error;
- `tfds:NAME[:SPLIT]`: the `text_column` feature of a TensorFlow Datasets split.

Errors name the flag or `file:line`, as in `readers`.

Example:
>>> corpus = read_texts(".assets/tweets/train.csv", "text")
>>> len(corpus), corpus.sources[0]
(2000, '.assets/tweets/train.csv:2')
"""

import csv
import dataclasses
import os
from typing import List

from tfadapt.data.readers import (TFDS_PREFIX, _decode, _delimited_rows, _field, _jsonl_rows,
                                  _line_of_bad_bytes, _require_network, parse_tfds_spec,
                                  read_lines)
from tfadapt.errors import UserError, first_line

TEXT_FILES = (".txt", ".csv", ".tsv", ".jsonl")


@dataclasses.dataclass
class Texts:
    texts: List[str]
    sources: List[str]  # "path:line" of each text, for messages
    name: str  # the file or TFDS spec
    skipped: int = 0  # blank lines or empty text cells left out

    def __len__(self):
        return len(self.texts)

    def subset(self, indices):
        return Texts([self.texts[i] for i in indices], [self.sources[i] for i in indices],
                     self.name)


def read_texts(spec, text_column="text", flag="train_data", encoding="utf-8",
               tfds_data_dir=None):
    """The non-empty texts of a `.txt`/`.csv`/`.tsv`/`.jsonl` file or `tfds:NAME[:SPLIT]`.

    Args:
        spec: the file or TFDS spec.
        text_column: the column (or TFDS feature) of a table that holds the text; not
            read for `.txt`.
        flag: the flag `spec` came from, named in error messages.
        encoding: the text encoding of files.
        tfds_data_dir: where TFDS datasets are prepared (TFDS's default when None).
    """
    if spec.startswith(TFDS_PREFIX):
        texts = _read_tfds(spec, text_column, flag, tfds_data_dir)
    else:
        texts = _read_file(spec, text_column, flag, encoding)
    if not texts.texts:
        what = "only blank lines" if texts.skipped else "nothing"
        raise UserError(f"--{flag}={spec}: no text found ({what}); expected one text per line "
                        "of a .txt, or a --text_column of a .csv/.tsv/.jsonl")
    return texts


def _read_file(path, text_column, flag, encoding):
    if not os.path.isfile(path):
        raise UserError(f"--{flag}={path}: file not found")
    ext = os.path.splitext(path)[1].lower()
    if ext not in TEXT_FILES:
        raise UserError(f"--{flag}={path}: unsupported file type {ext!r}; use "
                        f"{', '.join(TEXT_FILES)}")
    if ext == ".txt":
        texts, sources, skipped = [], [], 0
        for number, line in enumerate(read_lines(path, flag, encoding), start=1):
            if line.strip():
                texts.append(line.strip())
                sources.append(f"{path}:{number}")
            else:
                skipped += 1
        return Texts(texts, sources, path, skipped)
    texts, sources, skipped = [], [], 0
    try:
        with open(path, newline="", encoding=encoding) as f:
            rows = _jsonl_rows(f, path) if ext == ".jsonl" else _delimited_rows(
                f, path, delimiter="\t" if ext == ".tsv" else ",")
            for line, row in rows:
                text = _field(row, text_column, f"{path}:{line}", "--text_column").strip()
                if text:
                    texts.append(text)
                    sources.append(f"{path}:{line}")
                else:
                    skipped += 1
    except UnicodeDecodeError as e:
        raise UserError(f"{path}:{_line_of_bad_bytes(path, encoding)}: bytes that are not "
                        f"valid {encoding} ({e.reason}); save the file as UTF-8 or set "
                        "--encoding") from None
    except csv.Error as e:
        raise UserError(f"{path}: malformed {ext[1:].upper()}: {e}") from None
    return Texts(texts, sources, path, skipped)


def _read_tfds(spec, text_column, flag, data_dir):
    import tensorflow_datasets as tfds  # Imported here: only TFDS users pay for it.

    name, split = parse_tfds_spec(spec, flag)
    try:
        # A prepared dataset loads without the network; TFDS's own download retries for
        # minutes before it fails offline (see readers._read_tfds).
        builder = tfds.builder(name, data_dir=data_dir)
        if not builder.is_prepared():
            _require_network(spec, flag, data_dir)
            builder.download_and_prepare()
        dataset, features = builder.as_dataset(split=split), builder.info.features
    except UserError:
        raise
    except Exception as e:  # TFDS raises many types; each ends here as one line.
        raise UserError(f"--{flag}={spec}: TFDS could not load it: {first_line(e)}") from None
    if text_column not in features:
        raise UserError(f"--{flag}={spec}: no feature {text_column!r} (features: "
                        f"{', '.join(sorted(features.keys()))}); set --text_column")
    texts, sources, skipped = [], [], 0
    for i, row in enumerate(tfds.as_numpy(dataset)):
        text = _decode(row[text_column]).strip()
        if text:
            texts.append(text)
            sources.append(f"{spec}[{i}]")
        else:
            skipped += 1
    return Texts(texts, sources, spec, skipped)
