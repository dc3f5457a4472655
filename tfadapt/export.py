"""Export a trained run as a raw-text SavedModel for TF Serving.

    python -m tfadapt.export --model_dir=runs/quickstart --export_dir=serving/drugs

Writes EXPORT_DIR/<next version>/ (1, 2, …: the layout TF Serving watches). Its
`serving_default` signature takes raw strings: `text` (and `text_pair` for a pair task),
a batch of strings; what it returns depends on the task (README, "Serving").
Loaders need `import tensorflow_text` first (stock TF Serving links its ops).
"""

import os

from absl import app
from absl import flags
from absl import logging

from tfadapt import cli

FLAGS = flags.FLAGS
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hides TensorFlow's CUDA-probe chatter


def define_flags(fv):
    flags.DEFINE_string("model_dir", None, "A finished tfadapt.train run.", flag_values=fv)
    flags.DEFINE_string("export_dir", None, "The model's base folder for TF Serving; the "
                        "export goes into a new numbered version folder inside.", flag_values=fv)
    flags.mark_flags_as_required(["model_dir", "export_dir"], flag_values=fv)


def export(model_dir, export_dir):
    """Exports the run in `model_dir`; returns the version folder written."""
    from tfadapt.training.model_dir import ModelDir, load_trained

    ModelDir(model_dir).require_trained()  # before TensorFlow loads
    from tfadapt.serving.savedmodel import export_model
    from tfadapt.tasks import get_task

    model, preprocessor, labels, config = load_trained(model_dir)
    serve, signature = get_task(config.task).serving(model, preprocessor, labels, config)
    return export_model(model, preprocessor, serve, signature, export_dir)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.set_verbosity(logging.WARNING)

    version_dir = cli.exit_on_user_error("tfadapt.export", export, FLAGS.model_dir, FLAGS.export_dir)
    print(f"tfadapt.export: SavedModel written to {version_dir}")


def run():
    define_flags(FLAGS)
    app.run(main, flags_parser=cli.flags_parser("tfadapt.export"))


if __name__ == "__main__":
    run()
