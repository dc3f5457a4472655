"""The real pretrained all-MiniLM-L6-v2 weights, end to end, in a few steps.

Few and small on purpose: they prove the Hugging Face folder path, training, evaluation
and the raw-text export on the real checkpoint; the tiny-model tests cover the rest.
"""

import os

import numpy as np
import pytest

from conftest import write_rows
from test_export import check_export
from tfadapt.config import TrainConfig
from tfadapt.training.model_dir import load_trained
from tfadapt.training.trainer import train

pytestmark = pytest.mark.large


@pytest.fixture(scope="module")
def minilm_run(tmp_path_factory, minilm_dir, drug_rows):
    root = tmp_path_factory.mktemp("minilm")
    rows = [(" ".join(text.split()[:60]), label) for text, label in drug_rows]
    config = TrainConfig(
        preset=minilm_dir, train_data=write_rows(root / "train.jsonl", rows[:40]),
        test_data=write_rows(root / "test.tsv", rows[100:116]),
        model_dir=str(root / "model"), export_dir=str(root / "export"), sequence_length=96,
        batch_size=8, epochs=1, learning_rate=5e-5, early_stopping_patience=0)
    return config, train(config, log=lambda _: None)


def test_minilm_fine_tunes_and_reports(minilm_run):
    config, summary = minilm_run
    assert summary["test"]["model"]["examples"] == 16
    assert np.isfinite(summary["history"]["loss"]).all()
    assert summary["labels"]["labels"] == ["negative", "neutral", "positive"]


def test_minilm_export_serves_the_same_probabilities(minilm_run):
    config, summary = minilm_run
    model, preprocessor, label_map, _ = load_trained(config.model_dir)
    check_export(summary["paths"]["export"], model, preprocessor, label_map.names,
                 texts=["Helped my migraines within a day, no side effects.",
                        "I gained 20 pounds and felt awful &amp; anxious."])
    assert os.path.basename(summary["paths"]["export"]) == "1"
