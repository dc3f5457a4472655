"""Evaluate a trained run on labeled data.

    python -m tfadapt.evaluate --model_dir=runs/quickstart --test_data=reviews.tsv \
        --text_column=review --label_column=rating

Writes report.json and a PNG to MODEL_DIR/eval/<name>/ (or --output_dir) and prints the
summary table. What the report holds depends on the run's task: accuracy, macro-F1,
per-class precision/recall/F1, the confusion matrix and the majority-class baseline
(classification, pairs); micro/macro-F1, per-label figures and subset accuracy
(multilabel); RMSE, MAE, Pearson and Spearman (regression); entity-level P/R/F1 per type
and token accuracy (token classification).
"""

import dataclasses
import os

from absl import app
from absl import flags
from absl import logging

from tfadapt import cli
from tfadapt.errors import UserError

FLAGS = flags.FLAGS
# How the test data is read; each defaults to what the run was trained with.
_COLUMNS = ("text_column", "label_column", "text_pair_column", "label_columns",
            "label_delimiter", "encoding")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hides TensorFlow's CUDA-probe chatter


def define_flags(fv):
    cli.define_data_flags(fv)
    flags.DEFINE_string("model_dir", None, "A finished tfadapt.train run.", flag_values=fv)
    flags.DEFINE_string("test_data", None, "Labeled data: .csv, .tsv, .jsonl or "
                        "tfds:NAME[:SPLIT].", flag_values=fv)
    flags.DEFINE_string("output_dir", None, "Where the report goes (default: "
                        "MODEL_DIR/eval/<test file name>).", flag_values=fv)
    flags.DEFINE_integer("batch_size", 64, "Examples per inference batch.", lower_bound=1,
                         flag_values=fv)
    flags.mark_flags_as_required(["model_dir", "test_data"], flag_values=fv)


def evaluate(model_dir, test_data, columns=None, tfds_data_dir=None, output_dir=None,
             batch_size=64):
    """Evaluates the run in `model_dir`; returns (report, {what: path written}).

    `columns` overrides how the run read its data (`text_column`, `label_column`,
    `text_pair_column`, `label_columns`, `label_delimiter`, `encoding`); what it leaves
    out is read as the run was trained.
    """
    from tfadapt.tasks import get_task
    from tfadapt.training.model_dir import ModelDir, load_trained

    # Check what the user named before TensorFlow loads.
    trained = ModelDir(model_dir).require_trained()
    task = get_task(trained.task)
    reading = dataclasses.replace(trained, tfds_data_dir=tfds_data_dir, batch_size=batch_size,
                                  **(columns or {}))
    examples = task.read(test_data, reading, "test_data")
    task.check(task.load_labels(ModelDir(model_dir).labels), examples)

    model, preprocessor, labels, _ = load_trained(model_dir)
    report = task.evaluate(model, examples, labels, preprocessor, reading)
    name = os.path.splitext(os.path.basename(test_data.replace(":", "_")))[0]
    paths = task.write_report(report, output_dir or os.path.join(model_dir, "eval", name))
    return report, paths


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.set_verbosity(logging.WARNING)

    columns = {name: FLAGS[name].value for name in _COLUMNS if FLAGS[name].present}
    if "label_columns" in columns:
        columns["label_columns"] = tuple(c.strip() for c in columns["label_columns"])
    report, paths = cli.exit_on_user_error(
        "tfadapt.evaluate", evaluate, FLAGS.model_dir, FLAGS.test_data, columns,
        FLAGS.tfds_data_dir, FLAGS.output_dir, FLAGS.batch_size)
    from tfadapt.tasks import get_task

    print(get_task(report["task"]).format_summary(report, paths))


def run():
    define_flags(FLAGS)
    flags.adopt_module_key_flags(cli)  # --help lists the shared data flags too
    app.run(main, flags_parser=cli.flags_parser("tfadapt.evaluate"))


if __name__ == "__main__":
    run()
