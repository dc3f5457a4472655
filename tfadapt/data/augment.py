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

from tfadapt.errors import UserError


def read_synonyms(path, encoding="utf-8"):
    """{word or phrase (lowercase): [its synonyms]} from a thesaurus file."""
    groups = {}
    try:
        with open(path, encoding=encoding) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise UserError(f"--synonyms={path}: no such file") from None
    except UnicodeDecodeError as e:
        raise UserError(f"--synonyms={path}: not {encoding} text ({e.reason})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        words = [w.strip().lower() for w in line.split(",") if w.strip()]
        if len(set(words)) < 2:
            raise UserError(f"{path}:{number}: a synonym group needs at least two "
                            "comma-separated words")
        for word in words:
            groups.setdefault(word, [])
            groups[word] += [w for w in words if w != word and w not in groups[word]]
    if not groups:
        raise UserError(f"--synonyms={path}: no synonym groups in the file")
    return groups


def eda(text, ops, rate, synonyms, rng):
    """One augmented version of `text`, by one operation drawn from `ops`."""
    words = text.split()
    if not words:
        return text
    op = ops[rng.integers(len(ops))]
    n = max(1, int(round(rate * len(words))))
    if op == "synonym":
        candidates = [i for i, w in enumerate(words) if w.lower() in synonyms]
        for i in rng.permutation(candidates)[:n]:
            choices = synonyms[words[i].lower()]
            words[i] = choices[rng.integers(len(choices))]
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
        known = [w for w in words if w.lower() in synonyms]
        for _ in range(n if known else 0):
            choices = synonyms[known[rng.integers(len(known))].lower()]
            words.insert(int(rng.integers(len(words) + 1)), choices[rng.integers(len(choices))])
    return " ".join(words)


def augment_examples(examples, copies, ops, rate, synonyms, seed):
    """`examples` followed by `copies` EDA versions of each (labels and sources kept)."""
    rng = np.random.default_rng(seed)
    texts, labels, sources = list(examples.texts), list(examples.labels), list(examples.sources)
    for _ in range(copies):
        for text, label, source in zip(examples.texts, examples.labels, examples.sources):
            texts.append(eda(text, ops, rate, synonyms, rng))
            labels.append(label)
            sources.append(f"{source} (augmented)")
    return dataclasses.replace(examples, texts=texts, labels=labels, sources=sources)
