"""Shared fixtures: a tiny BERT preset built here, and small files of real drug reviews.

Keras and kagglehub write into the home folder on import; the suite points them at a
temporary folder. TensorFlow gets two logical CPU devices so that MirroredStrategy runs
a real two-replica job without a GPU; the default strategy still uses one.
"""

import csv
import json
import os
import sys
import tempfile

_HOME = tempfile.mkdtemp(prefix="tfadapt-test-home-")
for _var in ("KERAS_HOME", "KAGGLEHUB_CACHE", "HF_HOME"):
    os.environ.setdefault(_var, os.path.join(_HOME, _var.lower()))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSETS = os.path.join(REPO, ".assets")


def asset(*parts):
    path = os.path.join(ASSETS, *parts)
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: run `make test`, which fetches the assets first")
    return path


@pytest.fixture(scope="session")
def minilm_dir():
    return asset("all-minilm-l6-v2")


@pytest.fixture(scope="session")
def drug_rows():
    """(review, rating) rows of the real Drugs.com training file."""
    with open(asset("drugreview", "drugsComTrain.tsv"), newline="", encoding="utf-8") as f:
        return [(row["review"], row["rating"]) for row in csv.DictReader(f, delimiter="\t")]


@pytest.fixture(scope="session")
def tiny_preset(tmp_path_factory, minilm_dir):
    """A 2-layer, 16-wide BERT with MiniLM's real vocabulary, saved as a KerasHub preset."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=30522, num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=128, dropout=0.0)
    tokenizer = keras_hub.models.BertTokenizer(
        vocabulary=os.path.join(minilm_dir, "vocab.txt"), lowercase=True, strip_accents=True)
    path = str(tmp_path_factory.mktemp("tiny_preset"))
    backbone.save_to_preset(path)
    tokenizer.save_to_preset(path)
    return path


@pytest.fixture(scope="session")
def mirrored():
    """One MirroredStrategy over the two logical CPUs for the whole suite: two strategy
    objects in one process reuse collective keys and clash on differently shaped models
    (see tfadapt/training/strategy.py)."""
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def write_rows(path, rows, columns=("text", "label")):
    """Writes rows as .csv, .tsv or .jsonl, chosen by the file's extension."""
    path = str(path)
    if path.endswith(".jsonl"):
        with open(path, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(dict(zip(columns, row))) + "\n")
    else:
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, delimiter="\t" if path.endswith(".tsv") else ",")
            writer.writerow(columns)
            writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def review_files(tmp_path_factory, drug_rows):
    """Small train / test CSVs of real reviews (first 200 words), 48 and 24 rows."""
    folder = tmp_path_factory.mktemp("reviews")
    short = [(" ".join(text.split()[:200]), label) for text, label in drug_rows]
    return {
        "train": write_rows(folder / "train.csv", short[:48]),
        "test": write_rows(folder / "test.csv", short[48:72]),
        "folder": str(folder),
    }


def run_module(module, *args, cwd=REPO, timeout=600):
    """Runs `python -m module args…` in a fresh process; returns CompletedProcess."""
    import subprocess

    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ))
