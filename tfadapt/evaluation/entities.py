"""Entity-level precision / recall / F1 from BIO tags, as the CoNLL evaluation counts them.

An entity is a maximal span that starts at a `B-TYPE` tag, or at an `I-TYPE` tag that does
not continue an entity of the same type, and goes on over `I-TYPE` tags. A predicted
entity is correct only when its start, end and type all equal a gold entity's (exact
match); partial overlaps count as one false positive and one false negative. This is
what `conlleval.pl` reports (and `seqeval` in its default mode).

Example:
>>> entity_spans(["B-person", "I-person", "O", "I-geo-loc"])
[('person', 0, 2), ('geo-loc', 3, 4)]
"""


def entity_spans(tags):
    """(type, start, end) of each entity in one sentence's tags; `end` is exclusive."""
    spans, current = [], None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, kind = tag.partition("-")
        continues = prefix == "I" and current is not None and current[0] == kind
        if current is not None and not continues:
            spans.append((current[0], current[1], i))
            current = None
        if prefix == "B" or (prefix == "I" and not continues):
            current = (kind, i)
    return spans


def entity_report(gold_sentences, predicted_sentences):
    """Overall (micro) and per-type entity P/R/F1, plus token accuracy.

    Args:
        gold_sentences: a list of tag lists.
        predicted_sentences: a list of tag lists of the same lengths.
    """
    counts = {}  # type → [true positives, predicted, gold]
    tokens = correct_tokens = 0
    for gold, predicted in zip(gold_sentences, predicted_sentences):
        if len(gold) != len(predicted):
            raise ValueError(f"a sentence has {len(gold)} gold and {len(predicted)} predicted tags")
        gold_spans, predicted_spans = set(entity_spans(gold)), set(entity_spans(predicted))
        for kind, *_ in gold_spans:
            counts.setdefault(kind, [0, 0, 0])[2] += 1
        for span in predicted_spans:
            entry = counts.setdefault(span[0], [0, 0, 0])
            entry[1] += 1
            entry[0] += span in gold_spans
        tokens += len(gold)
        correct_tokens += sum(g == p for g, p in zip(gold, predicted))
    per_type = {kind: _prf(*counts[kind]) for kind in sorted(counts)}
    overall = _prf(*[sum(c[i] for c in counts.values()) for i in range(3)])
    return {"precision": overall["precision"], "recall": overall["recall"],
            "f1": overall["f1"], "entities": overall["support"],
            "token_accuracy": correct_tokens / max(tokens, 1), "tokens": tokens,
            "per_type": per_type}


def _prf(true_positives, predicted, gold):
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": gold}
