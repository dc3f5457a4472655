"""Adapt a pretrained BERT to a domain: continued masked-LM training on unlabeled text.

    python -m tfadapt.pretrain --flagfile=configs/pretrain_dapt_tweets.flags [--flag=value …]

Writes a KerasHub preset (MODEL_DIR/preset, or --output_preset) that
`python -m tfadapt.train --preset=<it>` fine-tunes. See `--helpfull`.
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
    config = cli.exit_on_user_error("tfadapt.pretrain", cli.pretrain_config_from_flags, FLAGS)
    logging.set_verbosity(logging.WARNING)
    from tfadapt.training.pretraining import pretrain  # TensorFlow loads here, after flag checks.

    summary = cli.exit_on_user_error("tfadapt.pretrain", pretrain, config)
    print()
    print(f"tfadapt: held-out perplexity {summary['perplexity_before']:,.2f} → "
          f"{summary['perplexity_after']:,.2f} (masked-LM loss "
          f"{summary['heldout_loss_before']:.4f} → {summary['heldout_loss_after']:.4f}) "
          f"in {summary['wall_seconds'] / 60:.1f} min")
    print(f"tfadapt: fine-tune it with: python -m tfadapt.train --preset={summary['preset']} …")


def run():
    cli.define_pretrain_flags(FLAGS)
    flags.adopt_module_key_flags(cli)  # --help lists them
    app.run(main, flags_parser=cli.flags_parser("tfadapt.pretrain"))


if __name__ == "__main__":
    run()
