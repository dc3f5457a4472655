"""Adapt a pretrained BERT to a domain and show whether it helped, in one command.

    python -m tfadapt.adapt --flagfile=configs/adapt_films_to_tweets.flags [--flag=value …]

Runs plain fine-tuning (none) and each of --methods (dapt, tapt, self_training,
dapt+self_training) with every one of --seeds, evaluates each run on --test_data and
every --extra_test_data set, writes MODEL_DIR/adaptation.{md,json,png} (mean ± std per
method, the difference to plain fine-tuning and whether it exceeds the seed spread),
and exports the method best on validation data (its best seed). Takes every
`tfadapt.train` flag. Exits 1 when a run failed (the others still ran and are reported;
the same command again retries it and reuses the rest).
"""

import os
import sys

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
    from tfadapt.training.adaptation import adapt
    from tfadapt.training.seed_report import format_table

    report = cli.exit_on_user_error("tfadapt.adapt", adapt, config)
    print()
    print(format_table(report))
    for what, path in report["paths"].items():
        print(f"  {what}: {path}")
    if report["failed"]:
        sys.exit(f"tfadapt.adapt: {len(report['failed'])} run(s) failed (see above); run "
                 "the same command again to retry them")
    if "export_error" in report:
        sys.exit(f"tfadapt.adapt: the export failed: {report['export_error']}")


def run():
    cli.define_adapt_flags(FLAGS)
    flags.adopt_module_key_flags(cli)  # --help lists them
    app.run(main, flags_parser=cli.flags_parser("tfadapt.adapt"))


if __name__ == "__main__":
    run()
