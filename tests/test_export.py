"""The raw-text SavedModel: served outputs equal the model's, through both loaders."""

import json
import os
import subprocess
import sys

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO
from tfadapt.serving import savedmodel as serving
from tfadapt.models.classifier import build_classifier

TEXTS = ["This medicine made my headaches vanish.", "Awful side effects, café nausea.",
         "It was okay I guess"]


def serve_in_fresh_process(version_dir, inputs):
    """Outputs of the export through both loaders (tests/serving_check.py), with no
    keras_hub or tfadapt imported; `inputs` maps input names to lists of strings."""
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "tests", "serving_check.py"), version_dir,
         json.dumps(inputs)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["imported"] == []
    return served


def check_export(version_dir, model, preprocessor, label_names, texts=TEXTS):
    """Runs tests/serving_check.py in a fresh process; compares with the in-memory model."""
    served = serve_in_fresh_process(version_dir, {"text": texts})
    features = preprocessor(tf.constant(texts))
    features["padding_mask"] = tf.cast(features["padding_mask"], tf.int32)
    expected = tf.nn.softmax(model(features, training=False)).numpy()
    for loader in ("eager", "session"):
        np.testing.assert_allclose(served[loader]["probabilities"], expected, atol=1e-5)
        assert served[loader]["label"] == [label_names[i] for i in expected.argmax(-1)]
    return served


@pytest.fixture(scope="module")
def tiny_classifier(tiny_preset):
    keras.utils.set_random_seed(2)
    backbone = keras_hub.models.BertBackbone.from_preset(tiny_preset)
    tokenizer = keras_hub.models.BertTokenizer.from_preset(tiny_preset)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=32)
    return build_classifier(backbone, 3), preprocessor, ("negative", "neutral", "positive")


def test_export_serves_raw_strings_through_both_loaders(tmp_path, tiny_classifier):
    model, preprocessor, names = tiny_classifier
    version_dir = serving.export_classifier(model, preprocessor, names, str(tmp_path))
    assert version_dir == str(tmp_path / "1")
    served = check_export(version_dir, model, preprocessor, names)
    assert served["inputs"] == {"text": tf.string.as_datatype_enum}


def test_versions_count_up_and_old_versions_stay(tmp_path, tiny_classifier):
    model, preprocessor, names = tiny_classifier
    first = serving.export_classifier(model, preprocessor, names, str(tmp_path))
    second = serving.export_classifier(model, preprocessor, names, str(tmp_path))
    assert (os.path.basename(first), os.path.basename(second)) == ("1", "2")
    assert sorted(os.listdir(tmp_path)) == ["1", "2"]
    assert os.path.isfile(os.path.join(first, "saved_model.pb"))


def test_failed_export_leaves_no_version_folder(tmp_path, tiny_classifier, monkeypatch):
    model, preprocessor, names = tiny_classifier

    def broken_write_out(self, path, **kwargs):
        with open(os.path.join(path, "saved_model.pb"), "w") as f:
            f.write("half")
        raise OSError("disk full")

    archive_class = type(keras.export.ExportArchive())  # the backend's subclass
    monkeypatch.setattr(archive_class, "write_out", broken_write_out)
    with pytest.raises(OSError, match="disk full"):
        serving.export_classifier(model, preprocessor, names, str(tmp_path))
    assert os.listdir(tmp_path) == []
