"""Load an export the way TF Serving does, in a process with only TensorFlow + TF Text.

    python tests/serving_check.py EXPORT_VERSION_DIR TEXT [TEXT …]

Prints JSON: the outputs through `tf.saved_model.load` ("eager") and through the
session-based loader that TF Serving's C++ path uses ("session"), and the modules that
were imported (to prove neither keras_hub nor tfadapt was needed).
"""

import json
import sys

import tensorflow as tf
import tensorflow_text  # noqa: F401  registers the tokenizer ops, as TF Serving links them


def main(path, texts):
    signature = tf.saved_model.load(path).signatures["serving_default"]
    eager = signature(text=tf.constant(texts))
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
        signature_def = meta_graph.signature_def["serving_default"]
        fetches = {name: info.name for name, info in signature_def.outputs.items()}
        session_out = session.run(fetches, {signature_def.inputs["text"].name: texts})
    print(json.dumps({
        "eager": {"probabilities": eager["probabilities"].numpy().tolist(),
                  "label": [b.decode() for b in eager["label"].numpy()]},
        "session": {"probabilities": session_out["probabilities"].tolist(),
                    "label": [b.decode() for b in session_out["label"]]},
        "inputs": {name: info.dtype for name, info in signature_def.inputs.items()},
        "imported": sorted(m for m in sys.modules if m.split(".")[0] in ("keras_hub", "tfadapt")),
    }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
