"""CoNLL files for token classification: one `token<TAB or space>tag` per line, sentences
separated by blank lines (a line of only whitespace, tabs included, is blank).

Tags are BIO / IOB2 (`B-person`, `I-person`, `O`). A malformed line (one column, or a tag
that is neither `O` nor `B-`/`I-` followed by a type) is a `UserError` naming `file:line`.
An `I-` tag that does not continue an entity of its type is accepted, as the CoNLL
evaluation accepts it: it starts a new entity.

Example:
>>> sentences = read_conll("ner.txt")
>>> sentences[0].tokens[:3], sentences[0].tags[:3]
(['@paulwalk', 'It', "'s"], ['O', 'O', 'O'])
"""

import dataclasses
import re
from typing import List

from tfadapt.data.readers import read_lines
from tfadapt.errors import UserError

_TAG = re.compile(r"O|[BI]-\S+")


@dataclasses.dataclass
class Sentence:
    tokens: List[str]
    tags: List[str]
    source: str  # "path:line" of the sentence's first token


@dataclasses.dataclass
class Sentences:
    """The sentences of one data set, and where they came from."""

    sentences: List[Sentence]
    name: str

    def __len__(self):
        return len(self.sentences)

    def subset(self, indices, name=None):
        return Sentences([self.sentences[i] for i in indices], name or self.name)

    @property
    def tokens(self):
        return [s.tokens for s in self.sentences]

    @property
    def tags(self):
        return [s.tags for s in self.sentences]


def read_conll(path, encoding="utf-8", flag="train_data"):
    """The sentences of a CoNLL file, in order (a list of `Sentence`)."""
    lines = read_lines(path, flag, encoding)
    sentences, tokens, tags, start = [], [], [], None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            if tokens:
                sentences.append(Sentence(tokens, tags, f"{path}:{start}"))
            tokens, tags = [], []
            continue
        columns = line.split()
        if len(columns) < 2:
            raise UserError(f"{path}:{number}: expected a token and a tag, found {line.strip()!r}")
        tag = columns[-1]
        if not _TAG.fullmatch(tag):
            raise UserError(f"{path}:{number}: tag {tag!r} is not BIO (O, B-TYPE or I-TYPE)")
        if not tokens:
            start = number
        tokens.append(columns[0])
        tags.append(tag)
    if tokens:
        sentences.append(Sentence(tokens, tags, f"{path}:{start}"))
    if not sentences:
        raise UserError(f"--{flag}={path}: no sentences in the file")
    return sentences
