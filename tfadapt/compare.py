"""Compare fine-tuning strategies on the same data and seed.

    python -m tfadapt.compare --flagfile=configs/compare_drugs.flags [--strategies=full,lora]

Takes every flag of `tfadapt.train` as the base config; each strategy trains into
MODEL_DIR/<strategy>/ (finished runs are reused), and the table goes to
MODEL_DIR/comparison.{md,json,png}.
"""

import os

from absl import app
from absl import flags
from absl import logging

from tfadapt import cli
from tfadapt.errors import UserError

FLAGS = flags.FLAGS
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hides TensorFlow's CUDA-probe chatter


def define_flags(fv):
    from tfadapt.training.comparison import DEFAULT_LEARNING_RATES, STRATEGIES

    cli.define_train_flags(fv)
    flags.DEFINE_list("strategies", list(STRATEGIES), "Strategies to train, in table order: "
                      "full (everything trains), freeze_lower (embeddings + the lowest "
                      "--freeze_layers or 3 layers frozen), gradual (--unfreeze_schedule or "
                      "1epoch), llrd (--layer_lr_decay or 0.8), prompt (--prompt_tuning_length "
                      "or 20), lora (--lora_rank or 8), head_only.", flag_values=fv)
    flags.DEFINE_list("strategy_learning_rates",
                      [f"{k}={v:g}" for k, v in DEFAULT_LEARNING_RATES.items()],
                      "STRATEGY=RATE overrides of --learning_rate for single strategies.",
                      flag_values=fv)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")

    def checked():
        from tfadapt.training.comparison import compare, parse_learning_rates, strategy_changes

        base = cli.train_config_from_flags(FLAGS)
        rates = parse_learning_rates(FLAGS.strategy_learning_rates)
        for name in FLAGS.strategies:
            strategy_changes(name, base, rates)  # unknown names fail before any training
        if not FLAGS.strategies:
            raise UserError("--strategies: name at least one strategy")
        logging.set_verbosity(logging.WARNING)
        return compare(base, FLAGS.strategies, rates), base

    rows, base = cli.exit_on_user_error("tfadapt.compare", checked)
    from tfadapt.training.comparison import format_markdown

    print()
    print(format_markdown(rows))
    print(f"tfadapt.compare: table, JSON and chart in {base.model_dir}/comparison.*")


def run():
    define_flags(FLAGS)
    app.run(main, flags_parser=cli.flags_parser("tfadapt.compare"))


if __name__ == "__main__":
    run()
