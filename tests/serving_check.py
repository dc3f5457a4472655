"""Load an export the way TF Serving does, in a process with only TensorFlow + TF Text.

    python tests/serving_check.py EXPORT_VERSION_DIR '{"text": ["…", …]}'

The second argument maps each input of the signature to a list of strings (`text`, and
`text_pair` for a pair model). Prints JSON: every output through `tf.saved_model.load`
("eager") and through the session-based loader that TF Serving's C++ path uses
("session"), and the modules that were imported (to prove neither keras_hub nor tfadapt
was needed).
"""

import json
import sys

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  registers the tokenizer ops, as TF Serving links them


def plain(value):
    """NumPy arrays and bytes → lists and str, for JSON."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    value = np.asarray(value)
    if value.dtype == object:
        return np.vectorize(lambda b: b.decode(), otypes=[object])(value).tolist() \
            if value.size else value.tolist()
    return value.tolist()


def main(path, inputs):
    signature = tf.saved_model.load(path).signatures["serving_default"]
    eager = signature(**{name: tf.constant(texts) for name, texts in inputs.items()})
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
        signature_def = meta_graph.signature_def["serving_default"]
        fetches = {name: info.name for name, info in signature_def.outputs.items()}
        session_out = session.run(fetches, {signature_def.inputs[name].name: texts
                                            for name, texts in inputs.items()})
    print(json.dumps({
        "eager": plain({k: v.numpy() for k, v in eager.items()}),
        "session": plain(session_out),
        "inputs": {name: info.dtype for name, info in signature_def.inputs.items()},
        "imported": sorted(m for m in sys.modules if m.split(".")[0] in ("keras_hub", "tfadapt")),
    }))


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]))
