"""A raw-text SavedModel for TF Serving, written atomically into a version folder.

`keras.export.ExportArchive` is used rather than a hand-made `tf.Module`: the session-
based loader TF Serving's C++ path uses (`tf.compat.v1.saved_model.loader.load`) finds
the variables of an ExportArchive, and fails on a plain tf.Module's ("Could not find
variable …"). The tokenizer's vocabulary lives inside the graph, so the signature takes
strings; the graph uses only TensorFlow and tensorflow_text ops.
"""

import os
import re
import shutil
import tempfile

import keras
import tensorflow as tf

SIGNATURE = "serving_default"


def classifier_serving_fn(model, preprocessor, label_names):
    """strings [None] (or a pair of them) → {"probabilities": [None, C] float32,
    "label": [None] string}."""
    names = tf.constant(list(label_names))

    def serve(text):
        features = preprocessor(x=text)  # `x=`: a positional pair would be read as (x, y)
        features["padding_mask"] = tf.cast(features["padding_mask"], tf.int32)
        logits = model(features, training=False)
        probabilities = tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)
        return {"probabilities": probabilities,
                "label": tf.gather(names, tf.argmax(probabilities, axis=-1))}

    return serve


def next_version(export_dir):
    """One more than the largest numeric version folder in `export_dir` (1 when none)."""
    versions = [int(d) for d in os.listdir(export_dir) if re.fullmatch(r"\d+", d)] \
        if os.path.isdir(export_dir) else []
    return max(versions, default=0) + 1


def export_classifier(model, preprocessor, label_names, export_dir, version=None):
    """`export_model` with the single-text classifier signature (`text` → probabilities, label)."""
    return export_model(model, preprocessor, classifier_serving_fn(model, preprocessor, label_names),
                        [tf.TensorSpec([None], tf.string, name="text")], export_dir, version)


def export_model(model, preprocessor, serve, input_signature, export_dir, version=None):
    """Writes `export_dir/<version>/` with `serve` as `serving_default`; returns its path.

    `preprocessor` is whatever turns the raw strings into model inputs (a keras-hub
    preprocessor or tokenizer): it is tracked so that its vocabulary is saved.
    The SavedModel is written beside the version folder and renamed into place, so TF
    Serving (which watches `export_dir` for new versions) never sees half a model and an
    interrupted export leaves no version folder behind. Existing versions are kept.
    """
    os.makedirs(export_dir, exist_ok=True)
    version = version or next_version(export_dir)
    final = os.path.join(export_dir, str(version))
    if os.path.exists(final):
        raise FileExistsError(f"{final} already exists; versions are never overwritten")
    if not preprocessor.built:  # ExportArchive tracks built layers only.
        preprocessor(tf.constant(["build"]))
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(preprocessor)
    archive.add_endpoint(name=SIGNATURE, fn=serve, input_signature=input_signature)
    staging = tempfile.mkdtemp(prefix=f".{version}-partial-", dir=export_dir)
    try:
        archive.write_out(staging, verbose=False)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
