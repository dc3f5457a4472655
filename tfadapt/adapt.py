"""Adapt a pretrained BERT to a domain and show whether it helped, in one command.

    python -m tfadapt.adapt --flagfile=configs/adapt_dapt_tweets.flags [--flag=value …]

Fine-tunes the base model on the task (the baseline), adapts the base model to the
domain with masked-LM training (on --domain_data, or on the task's own training text),
fine-tunes the adapted model the same way, evaluates both on --test_data and every
--extra_test_data set, writes MODEL_DIR/domain_shift.{md,json,png}, and exports the
model that did better on the validation data. Takes every `tfadapt.train` flag.
"""

import os

from absl import app
from absl import flags
from absl import logging

from tfadapt import cli

FLAGS = flags.FLAGS
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hides TensorFlow's CUDA-probe chatter


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    config = cli.exit_on_user_error("tfadapt.adapt", cli.adapt_config_from_flags, FLAGS)
    logging.set_verbosity(logging.WARNING)
    from tfadapt.training.adaptation import adapt, format_table

    report = cli.exit_on_user_error("tfadapt.adapt", adapt, config)
    print()
    print(format_table(report))
    for what, path in report["paths"].items():
        print(f"  {what}: {path}")


def run():
    cli.define_adapt_flags(FLAGS)
    flags.adopt_module_key_flags(cli)  # --help lists them
    app.run(main, flags_parser=cli.flags_parser("tfadapt.adapt"))


if __name__ == "__main__":
    run()
