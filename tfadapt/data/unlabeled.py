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

import dataclasses
import os
from typing import List

from tfadapt.data.readers import TFDS_PREFIX, decode, field, load_tfds, read_lines, table_rows
from tfadapt.errors import UserError

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
    texts, sources, skipped = [], [], 0
    if os.path.splitext(path)[1].lower() == ".txt":
        numbered = ((f"{path}:{number}", line) for number, line
                    in enumerate(read_lines(path, flag, encoding), start=1))
    else:
        numbered = ((where, field(row, text_column, where, "--text_column"))
                    for where, row in table_rows(path, flag, encoding, TEXT_FILES))
    for where, text in numbered:
        if text.strip():
            texts.append(text.strip())
            sources.append(where)
        else:
            skipped += 1
    return Texts(texts, sources, path, skipped)


def _read_tfds(spec, text_column, flag, data_dir):
    import tensorflow_datasets as tfds

    dataset, _ = load_tfds(spec, flag, data_dir, [(text_column, "--text_column")])
    texts, sources, skipped = [], [], 0
    for i, row in enumerate(tfds.as_numpy(dataset)):
        text = decode(row[text_column]).strip()
        if text:
            texts.append(text)
            sources.append(f"{spec}[{i}]")
        else:
            skipped += 1
    return Texts(texts, sources, spec, skipped)
