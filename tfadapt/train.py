"""Fine-tune a pretrained BERT-family model on labeled text.

    python -m tfadapt.train --flagfile=configs/quickstart.flags [--flag=value …]

Command-line values override the flagfile. See `python -m tfadapt.train --helpfull`.
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
    config = cli.exit_on_user_error("tfadapt.train", cli.train_config_from_flags, FLAGS)
    logging.set_verbosity(logging.WARNING)  # TensorFlow's export chatter goes through absl.
    from tfadapt.tasks import get_task
    from tfadapt.training.trainer import train  # TensorFlow loads here, after flag checks.

    summary = cli.exit_on_user_error("tfadapt.train", train, config)
    print()
    if "test" in summary:
        paths = dict(summary["paths"])
        if "export" in paths:
            paths["serve"] = serving_hint(paths["export"], config.task)
        print(get_task(config.task).format_summary(summary["test"], paths))
    else:
        print(f"tfadapt: model written to {summary['paths']['model']}")


def serving_hint(version_dir, task="classification"):
    base = os.path.dirname(version_dir)
    name = os.path.basename(base)
    instance = ('{"text": "first text", "text_pair": "second text"}' if task == "pair"
                else '"Some text to predict on"')
    return (f"docker run -p 8501:8501 -v {base}:/models/{name} -e MODEL_NAME={name} "
            f"tensorflow/serving  then  curl -d '{{\"instances\": [{instance}]}}' "
            f"localhost:8501/v1/models/{name}:predict")


def run():
    cli.define_train_flags(FLAGS)
    flags.adopt_module_key_flags(cli)  # --help lists them
    app.run(main, flags_parser=cli.flags_parser("tfadapt.train"))


if __name__ == "__main__":
    run()
