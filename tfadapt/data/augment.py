"""EDA text augmentation for small training sets (Wei & Zou, 2019), with a domain thesaurus.

Four operations on a text's words, each changing about `rate` of them (at least one):
synonym replacement, random swap, random deletion, and random insertion of a synonym of
a word already in the text. Synonyms come from the user's own thesaurus (one group per
line, comma-separated; phrases allowed): a domain's synonyms (“heart attack, myocardial
infarction, MI”) are not a general-purpose word list's, and no word list ships here.

Augmented copies are made once, from the training examples only, after the validation
split: validation and test data are never augmented. A seeded generator makes the copies
reproducible.

Example:
>>> thesaurus = {"pain": ["ache"], "ache": ["pain"]}
>>> eda("the pain is gone", ["synonym"], 0.1, thesaurus, np.random.default_rng(0))
'the ache is gone'
"""

import dataclasses

import numpy as np

from tfadapt.data.readers import read_lines
from tfadapt.errors import UserError


_PUNCTUATION = ".,;:!?\"'()[]{}"


def _key(words):
    """How a word or phrase is looked up: lowercase, outer punctuation stripped."""
    return " ".join(w.strip(_PUNCTUATION).lower() for w in words)


def read_synonyms(path, encoding="utf-8"):
    """{word or phrase (lowercase): [its synonyms]} from a thesaurus file."""
    groups = {}
    lines = read_lines(path, "synonyms", encoding)
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        words = [_key(w.split()) for w in line.split(",") if w.strip()]
        if len(set(words)) < 2:
            raise UserError(f"{path}:{number}: a synonym group needs at least two "
                            "comma-separated words")
        for word in words:
            groups.setdefault(word, [])
            groups[word] += [w for w in words if w != word and w not in groups[word]]
    if not groups:
        raise UserError(f"--synonyms={path}: no synonym groups in the file")
    return groups


def _known_spans(words, synonyms, longest):
    """(start, length) of each thesaurus entry in `words`, longest match first."""
    spans, i = [], 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            if _key(words[i:i + n]) in synonyms:
                spans.append((i, n))
                i += n - 1
                break
        i += 1
    return spans


def eda(text, ops, rate, synonyms, rng, longest=None):
    """One augmented version of `text`, by one operation drawn from `ops`.

    Thesaurus entries may be phrases ("heart attack"); they are matched in the text
    case-insensitively, ignoring punctuation around words.
    """
    words = text.split()
    if not words:
        return text
    if longest is None:
        longest = max((k.count(" ") + 1 for k in synonyms), default=1)
    op = ops[rng.integers(len(ops))]
    n = max(1, int(round(rate * len(words))))
    if op == "synonym":
        spans = _known_spans(words, synonyms, longest)
        chosen = sorted((spans[i] for i in rng.permutation(len(spans))[:n]), reverse=True)
        for start, length in chosen:  # right to left: earlier indices stay valid
            choices = synonyms[_key(words[start:start + length])]
            words[start:start + length] = choices[rng.integers(len(choices))].split()
    elif op == "swap" and len(words) > 1:
        for _ in range(n):
            i, j = rng.choice(len(words), size=2, replace=False)
            words[i], words[j] = words[j], words[i]
    elif op == "delete" and len(words) > 1:
        keep = rng.random(len(words)) >= rate
        if not keep.any():
            keep[rng.integers(len(words))] = True
        words = [w for w, k in zip(words, keep) if k]
    elif op == "insert":
        spans = _known_spans(words, synonyms, longest)
        for _ in range(n if spans else 0):
            start, length = spans[rng.integers(len(spans))]
            choices = synonyms[_key(words[start:start + length])]
            at = int(rng.integers(len(words) + 1))
            words[at:at] = choices[rng.integers(len(choices))].split()
            spans = _known_spans(words, synonyms, longest)
    return " ".join(words)


def augment_examples(examples, copies, ops, rate, synonyms, seed):
    """`examples` followed by `copies` EDA versions of each (labels and sources kept)."""
    rng = np.random.default_rng(seed)
    longest = max((k.count(" ") + 1 for k in synonyms), default=1)
    texts, labels, sources = list(examples.texts), list(examples.labels), list(examples.sources)
    for _ in range(copies):
        for text, label, source in zip(examples.texts, examples.labels, examples.sources):
            texts.append(eda(text, ops, rate, synonyms, rng, longest))
            labels.append(label)
            sources.append(f"{source} (augmented)")
    soft = None if examples.soft is None else list(examples.soft) * (copies + 1)
    return dataclasses.replace(examples, texts=texts, labels=labels, sources=sources, soft=soft)
