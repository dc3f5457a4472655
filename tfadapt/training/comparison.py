"""Train several fine-tuning strategies on the same data and seed, and tabulate them.

Each strategy is a set of config changes on top of the user's base config (the same
flags `tfadapt.train` takes); each run goes to `model_dir/<strategy>/` and is an
ordinary tfadapt run, so a finished one is reused when the comparison runs again.
"""

import dataclasses
import json
import os

from tfadapt.errors import UserError

# Typical learning rates for the strategies that train few parameters (from their
# papers' and common practice's ranges for AdamW); the others use --learning_rate.
DEFAULT_LEARNING_RATES = {"head_only": 3e-3, "lora": 1e-3, "prompt": 3e-2}


# Each strategy's settings, from the base config (which may set its own values).
_CHANGES = {
    "full": lambda base: {},
    "freeze_lower": lambda base: {"freeze_embeddings": True,
                                  "freeze_layers": base.freeze_layers or 3},
    "gradual": lambda base: {"unfreeze_schedule": base.unfreeze_schedule or "1epoch"},
    "llrd": lambda base: {"layer_lr_decay": base.layer_lr_decay if base.layer_lr_decay < 1
                          else 0.8},
    "prompt": lambda base: {"prompt_tuning_length": base.prompt_tuning_length or 20},
    "lora": lambda base: {"lora_rank": base.lora_rank or 8},
    "head_only": lambda base: {"freeze_backbone": True},
}
STRATEGIES = tuple(_CHANGES)
# A plain fine-tuning config, so that only the chosen strategy's settings apply.
_PLAIN = {"freeze_embeddings": False, "freeze_layers": 0, "unfreeze_schedule": "",
          "layer_lr_decay": 1.0, "prompt_tuning_length": 0, "lora_rank": 0,
          "freeze_backbone": False}


def strategy_changes(name, base, learning_rates):
    """The config changes that make strategy `name` from the base config."""
    if name not in _CHANGES:
        raise UserError(f"--strategies: unknown strategy {name!r}; choose from "
                        f"{', '.join(STRATEGIES)}")
    result = {**_PLAIN, **_CHANGES[name](base)}
    if name in learning_rates:
        result["learning_rate"] = learning_rates[name]
    return result


def parse_learning_rates(items):
    """['lora=1e-3', …] → {strategy: rate}, over the defaults."""
    rates = dict(DEFAULT_LEARNING_RATES)
    for item in items:
        name, _, value = item.partition("=")
        try:
            rates[name.strip()] = float(value)
        except ValueError:
            raise UserError(f"--strategy_learning_rates: {item!r}: expected STRATEGY=RATE") from None
        if name.strip() not in STRATEGIES:
            raise UserError(f"--strategy_learning_rates: unknown strategy {name.strip()!r}")
    return rates


def compare(base, strategies, learning_rates=None, train_fn=None, log=print):
    """Trains each strategy; returns the rows of the comparison (also written to disk)."""
    from tfadapt.training.model_dir import ModelDir
    from tfadapt.training.trainer import train

    if base.task not in ("classification", "pair"):
        raise UserError(f"--task={base.task}: tfadapt.compare tabulates macro-F1 and accuracy, "
                        "so it compares classification and pair runs; train the strategies of "
                        "other tasks with tfadapt.train")
    train_fn = train_fn or train
    learning_rates = DEFAULT_LEARNING_RATES if learning_rates is None else learning_rates
    configs = {name: dataclasses.replace(
        base, model_dir=os.path.join(base.model_dir, name), export_dir=None,
        **strategy_changes(name, base, learning_rates)) for name in strategies}
    rows = []
    for i, (name, config) in enumerate(configs.items(), start=1):
        log(f"tfadapt.compare: [{i}/{len(configs)}] {name} → {config.model_dir}")
        if ModelDir(config.model_dir).interrupted():
            log(f"tfadapt.compare: {name} did not finish last time; training it again")
            config = dataclasses.replace(config, overwrite=True)
        summary = train_fn(config, log=log)
        rows.append(_row(name, config, summary))
        write_comparison(rows, base.model_dir)  # after each run: an interruption keeps the rows
        _clear_session()
    return rows


def _clear_session():
    import keras

    keras.backend.clear_session()  # each run builds a new model; free the old graphs


def _row(name, config, summary):
    evaluated = summary.get("test", {}).get("model")
    if evaluated is not None:
        split, macro_f1, accuracy = "test", evaluated["macro_f1"], evaluated["accuracy"]
    else:  # no --test_data: the best epoch's validation figures
        history, best = summary["history"], summary["best_epoch"] - 1
        split, macro_f1 = "validation", history["val_macro_f1"][best]
        accuracy = history["val_accuracy"][best]
    return {"strategy": name, "split": split, "macro_f1": macro_f1, "accuracy": accuracy,
            "trainable_params": summary["trainable_params"],
            "total_params": summary["total_params"],
            "wall_seconds": summary["wall_seconds"],
            "train_examples_per_second": summary["train_examples_per_second"],
            "best_epoch": summary["best_epoch"], "epochs_run": summary["epochs_run"],
            "learning_rate": config.learning_rate, "model_dir": config.model_dir}


def format_markdown(rows):
    lines = ["| strategy | macro-F1 | accuracy | trainable params | wall time | train examples/s "
             "| best epoch | learning rate |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        share = r["trainable_params"] / max(r["total_params"], 1)
        lines.append(
            f"| {r['strategy']} | {r['macro_f1']:.3f} | {r['accuracy']:.3f} | "
            f"{r['trainable_params']:,} ({share:.1%}) | {r['wall_seconds'] / 60:.1f} min | "
            f"{r['train_examples_per_second']:.1f} | {r['best_epoch']}/{r['epochs_run']} | "
            f"{r['learning_rate']:g} |")
    split = rows[0]["split"] if rows else "test"
    return "\n".join(lines) + f"\n\nmacro-F1 and accuracy on the {split} data.\n"


def write_comparison(rows, folder):
    """comparison.md, comparison.json and comparison.png (F1 and wall time per strategy)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "comparison.json"), "w") as f:
        json.dump(rows, f, indent=2)
    with open(os.path.join(folder, "comparison.md"), "w") as f:
        f.write(format_markdown(rows))
    names = [r["strategy"] for r in rows]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 0.5 * len(rows) + 1.5))
    left.barh(names, [r["macro_f1"] for r in rows], color="tab:blue")
    left.set_xlabel(f"macro-F1 ({rows[0]['split'] if rows else 'test'})")
    left.set_xlim(0, 1)
    right.barh(names, [r["wall_seconds"] / 60 for r in rows], color="tab:orange")
    right.set_xlabel("wall time (min)")
    right.set_yticklabels([])
    for axis in (left, right):
        axis.invert_yaxis()
    figure.tight_layout()
    figure.savefig(os.path.join(folder, "comparison.png"), dpi=120)
    plt.close(figure)
