"""Domain adaptation end to end: baseline → masked-LM adaptation → fine-tune → compare → export.

    model_dir/
      baseline/      the base model fine-tuned on the task (an ordinary tfadapt run)
      masked_lm_<id>.jsonl   the masked-LM text: --domain_data without validation or test
                     texts (DAPT), or the task's training texts (TAPT, with its validation
                     texts held out in masked_lm_<id>_heldout.jsonl)
      pretrain/      masked-LM adaptation of the base model on that text; its preset/ is
                     the adapted model
      adapted/       the adapted model fine-tuned on the task, with the same settings
      domain_shift.md / .json / .png   base vs adapted on every test set, the differences,
                     and the masked-LM loss curve
      adapt.json     written last: the run finished

Each stage is an ordinary run that is reused when it finished before, so running the
command again after an interruption resumes where it stopped. Which model is exported
is decided on the validation data (the task's headline figure of each fine-tuning
run's validation report: `validation_score`), never on test data.
"""

import dataclasses
import hashlib
import json
import os
import time

from tfadapt.errors import UserError


def parse_test_sets(items):
    """`('name=path', …)` → {name: path}; a UserError names a malformed item."""
    sets = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise UserError(f"--extra_test_data: {item!r}: expected NAME=PATH")
        if name.strip() in sets or name.strip() == "test":
            raise UserError(f"--extra_test_data: the name {name.strip()!r} is used twice "
                            "('test' is the in-domain --test_data)")
        sets[name.strip()] = path.strip()
    return sets


def stage_configs(config, text_id="text"):
    """(baseline TrainConfig, PretrainConfig, adapted TrainConfig) of an `AdaptConfig`.

    The masked-LM stage reads the text files that `adapt` writes into MODEL_DIR (see
    `_masked_lm_text`): the domain text without any validation or test text, or for
    TAPT the task's training texts, with its validation texts held out. Their names
    carry `text_id`, a digest of their content, so that other text is another job.
    """
    from tfadapt.config import PretrainConfig

    task = config.train
    root = task.model_dir
    pretrain = PretrainConfig(
        train_data=os.path.join(root, MLM_TEXT.format(text_id)),
        validation_data=(None if config.domain_data
                         else os.path.join(root, MLM_HELDOUT.format(text_id))),
        preset=task.preset, model_dir=os.path.join(root, "pretrain"),
        max_train_examples=config.mlm_max_examples,
        sequence_length=config.mlm_sequence_length, mask_rate=config.mask_rate,
        whole_word_masking=config.whole_word_masking, batch_size=config.mlm_batch_size,
        epochs=config.mlm_epochs, max_steps=config.mlm_max_steps,
        eval_every_steps=config.mlm_eval_every_steps,
        head_warmup_steps=config.mlm_head_warmup_steps,
        learning_rate=config.mlm_learning_rate, seed=task.seed, strategy=task.strategy,
        tpu=task.tpu, jit_compile=task.jit_compile, mixed_precision=task.mixed_precision,
        bucket_boundaries=task.bucket_boundaries, overwrite=task.overwrite)
    baseline = dataclasses.replace(task, model_dir=os.path.join(root, "baseline"),
                                   export_dir=None)
    adapted = dataclasses.replace(baseline, preset=pretrain.preset_dir,
                                  model_dir=os.path.join(root, "adapted"))
    return baseline, pretrain, adapted


MLM_TEXT = "masked_lm_{}.jsonl"
MLM_HELDOUT = "masked_lm_{}_heldout.jsonl"


def adapt(config, strategy=None, log=print):
    """Runs the whole adaptation of an `AdaptConfig`; returns the domain-shift report."""
    from tfadapt.models.presets import describe_preset
    from tfadapt.tasks import get_task
    from tfadapt.training.pretraining import pretrain
    from tfadapt.training.trainer import check_export_dir, train

    started = time.time()
    task = get_task(config.train.task)
    if config.train.task == "token_classification" and not config.domain_data:
        raise UserError("--domain_data is required for --task=token_classification (task-"
                        "adaptive pretraining reads text columns, not CoNLL files)")
    # Every input is read and checked before the first stage writes anything.
    inputs = task.read_inputs(config.train, log=lambda line: None)
    extra = {}
    reading = dataclasses.replace(
        config.train, text_column=config.extra_text_column or config.train.text_column,
        label_column=config.extra_label_column or config.train.label_column)
    for name, path in parse_test_sets(config.extra_test_data).items():
        extra[name] = task.read(path, reading, "extra_test_data")
        task.check(inputs.labels, extra[name])
    texts, heldout = _masked_lm_text(config, inputs, extra.values(), log)
    text_id = hashlib.sha1(json.dumps([texts, heldout]).encode()).hexdigest()[:12]
    describe_preset(config.train.preset)
    check_export_dir(config.train.export_dir)
    baseline_config, pretrain_config, adapted_config = stage_configs(config, text_id)
    stages = [("baseline: fine-tune the base model", baseline_config, train),
              ("masked-LM adaptation", pretrain_config, pretrain),
              ("fine-tune the adapted model", adapted_config, train)]
    stages = [(what, _resumable(stage, log), run) for what, stage, run in stages]
    _prepare_root(config, pretrain_config, texts, heldout)

    summaries = []
    for i, (what, stage, run) in enumerate(stages, start=1):
        log(f"tfadapt.adapt: [{i}/3] {what} → {stage.model_dir}")
        if i == 3 and _older(stage.model_dir, "run.json",
                             pretrain_config.model_dir, "pretrain.json"):
            log("tfadapt.adapt: the masked-LM stage ran again; fine-tuning its new output")
            stage = dataclasses.replace(stage, overwrite=True)
        summaries.append(run(stage, strategy=strategy, log=log))
    baseline, mlm, adapted = summaries

    log("tfadapt.adapt: evaluating both models on every test set")
    results = {"test": {"data": config.train.test_data,
                        "baseline": baseline["test"], "adapted": adapted["test"]}}
    for name, data in extra.items():
        results[name] = {"data": data.name, **{
            which: _evaluate(task, run_config.model_dir, data)
            for which, run_config in (("baseline", baseline_config),
                                      ("adapted", adapted_config))}}
    chosen = _better_on_validation(task, baseline_config, baseline, adapted)
    report = _report(task, config, results, mlm, baseline, adapted, chosen)
    paths = write_domain_shift(report, config.train.model_dir)
    if config.train.export_dir:
        from tfadapt.serving.savedmodel import export_model
        from tfadapt.training.model_dir import load_trained

        model, preprocessor, labels, run_config = load_trained(report["models"][chosen])
        serve, signature = task.serving(model, preprocessor, labels, run_config)
        paths["export"] = os.path.abspath(export_model(model, preprocessor, serve, signature,
                                                       config.train.export_dir))
        log(f"tfadapt.adapt: exported the {chosen} model to {paths['export']}")
    report["paths"] = paths
    report["wall_seconds"] = time.time() - started
    with open(os.path.join(config.train.model_dir, "adapt.json"), "w") as f:
        json.dump(report, f, indent=2)
    return report


def _texts_of(data):
    """The raw texts of a data set of any task (both texts of pairs; sentences' words)."""
    if hasattr(data, "sentences"):
        return [" ".join(tokens) for tokens in data.tokens]
    return list(data.texts) + list(data.pairs or [])


def _masked_lm_text(config, inputs, extra, log):
    """(training texts, held-out texts or None) of the masked-LM stage.

    TAPT: the task's own training texts (after its validation split, without EDA
    copies), its validation texts held out. DAPT: --domain_data without any text that
    is also a validation or test text, so that neither the choice of the exported model
    nor the report rests on text seen during adaptation.
    """
    from tfadapt.data.unlabeled import read_texts

    if not config.domain_data:
        train = inputs.train
        original = [i for i, source in enumerate(train.sources)
                    if not source.endswith("(augmented)")]
        return _texts_of(train.subset(original)), _texts_of(inputs.validation)
    domain = read_texts(config.domain_data, config.domain_text_column, "domain_data",
                        config.domain_encoding, config.train.tfds_data_dir)
    evaluated = {" ".join(t.split()) for data in (inputs.validation, inputs.test, *extra)
                 for t in _texts_of(data)}
    kept = [t for t in domain.texts if " ".join(t.split()) not in evaluated]
    if len(kept) < len(domain.texts):
        log(f"tfadapt.adapt: {len(domain.texts) - len(kept)} --domain_data texts are also "
            "validation or test texts; they are left out of the masked-LM training")
    if not kept:
        raise UserError(f"--domain_data={config.domain_data}: every text is also a "
                        "validation or test text")
    return kept, None


def _resumable(stage, log):
    """`stage`, set to run again from scratch when an earlier run of it was cut off; its
    model_dir is checked now, so that a conflict fails before any stage runs."""
    from tfadapt.training.model_dir import ModelDir
    from tfadapt.training.pretraining import PretrainDir

    folder = (PretrainDir if hasattr(stage, "mask_rate") else ModelDir)(stage.model_dir)
    if folder.interrupted():
        log(f"tfadapt.adapt: {stage.model_dir} did not finish last time; it runs again")
        return dataclasses.replace(stage, overwrite=True)
    folder.check(json.loads(stage.to_json()), stage.overwrite)
    return stage


def _prepare_root(config, pretrain_config, texts, heldout):
    """Creates MODEL_DIR with the config and the masked-LM text; removes the report of an
    earlier run (it is written again at the end)."""
    root = config.train.model_dir
    if os.path.exists(root) and not os.path.isdir(root):
        raise UserError(f"--model_dir={root}: is a file, not a folder")
    os.makedirs(root, exist_ok=True)
    for name in ("adapt.json", "domain_shift.md", "domain_shift.json", "domain_shift.png"):
        if os.path.exists(os.path.join(root, name)):
            os.remove(os.path.join(root, name))
    _write_json_lines(pretrain_config.train_data, texts)
    if heldout is not None:
        _write_json_lines(pretrain_config.validation_data, heldout)
    with open(os.path.join(root, "adapt_config.json"), "w") as f:
        f.write(config.to_json())


def _write_json_lines(path, texts):
    partial = path + ".partial"
    with open(partial, "w", encoding="utf-8") as f:
        for text in texts:
            f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    os.replace(partial, path)


def _older(folder, name, other_folder, other_name):
    """Whether `folder/name` exists and is older than `other_folder/other_name`."""
    path, other = os.path.join(folder, name), os.path.join(other_folder, other_name)
    return (os.path.isfile(path) and os.path.isfile(other)
            and os.path.getmtime(path) < os.path.getmtime(other))


def _evaluate(task, model_dir, data):
    from tfadapt.training.model_dir import load_trained

    model, preprocessor, labels, run_config = load_trained(model_dir)
    return task.evaluate(model, data, labels, preprocessor, run_config)


def validation_score(task, config, summary):
    """(metric, value, lower is better) of a finished run on its validation data: the
    task's headline figure of the run's validation report (macro-F1; multi-label with its
    tuned thresholds; entity F1; RMSE), or for a run saved without one, the best epoch's
    monitored value."""
    if "validation" in summary:
        metric, value = task.headline(summary["validation"])
        return metric, value, metric == "rmse"
    value = summary["history"][config.monitor][summary["best_epoch"] - 1]
    return config.monitor, value, config.monitor in ("val_loss", "val_rmse")


def _better_on_validation(task, config, baseline, adapted):
    """"adapted" when it beats the baseline on the validation data (ties keep the
    baseline), else "baseline"."""
    _, base, lower_is_better = validation_score(task, config, baseline)
    _, ours, _ = validation_score(task, config, adapted)
    return "adapted" if (ours < base if lower_is_better else ours > base) else "baseline"


def _report(task, config, results, mlm, baseline, adapted, chosen):
    baseline_config, _, adapted_config = stage_configs(config)
    rows = []
    for name, result in results.items():
        metric, base = task.headline(result["baseline"])
        _, ours = task.headline(result["adapted"])
        rows.append({"test_set": name, "data": result["data"], "metric": metric,
                     "baseline": base, "adapted": ours, "difference": ours - base})
    return {
        "task": config.train.task,
        "domain_data": config.domain_data or f"{config.train.train_data} (TAPT: the task's "
                                             "own training text)",
        "rows": rows,
        "validation": {"metric": validation_score(task, baseline_config, baseline)[0],
                       "baseline": validation_score(task, baseline_config, baseline)[1],
                       "adapted": validation_score(task, adapted_config, adapted)[1]},
        "exported": chosen,
        "masked_lm": {k: mlm[k] for k in ("heldout_loss_before", "heldout_loss_after",
                                          "perplexity_before", "perplexity_after",
                                          "loss_curve", "train_examples", "heldout_examples",
                                          "wall_seconds")},
        "models": {"baseline": baseline_config.model_dir, "adapted": adapted_config.model_dir},
        "results": results,
    }


def format_table(report):
    """The domain-shift table in Markdown."""
    lines = ["| test set | metric | base model | adapted | difference |",
             "|---|---|---:|---:|---:|"]
    for row in report["rows"]:
        lines.append(f"| {row['test_set']} | {row['metric']} | {row['baseline']:.3f} | "
                     f"{row['adapted']:.3f} | {row['difference']:+.3f} |")
    mlm, validation = report["masked_lm"], report["validation"]
    if report["rows"] and report["rows"][0]["metric"] == "rmse":
        lines += ["", "RMSE: lower is better (a negative difference is a gain)."]
    lines += ["", f"Masked-LM held-out loss {mlm['heldout_loss_before']:.3f} → "
                  f"{mlm['heldout_loss_after']:.3f} (perplexity {mlm['perplexity_before']:.1f} → "
                  f"{mlm['perplexity_after']:.1f}) on {mlm['heldout_examples']} held-out "
                  f"domain texts, after {mlm['train_examples']} training texts.",
              f"Validation {validation['metric']}: base {validation['baseline']:.4f}, adapted "
              f"{validation['adapted']:.4f}; exported: the {report['exported']} model."]
    return "\n".join(lines)


def write_domain_shift(report, root):
    """domain_shift.md, .json and .png in `root`; returns {what: path}."""
    md = os.path.join(root, "domain_shift.md")
    with open(md, "w") as f:
        f.write(f"# Domain shift: base vs adapted ({report['task']})\n\n"
                f"Domain text: {report['domain_data']}\n\n{format_table(report)}\n")
    json_path = os.path.join(root, "domain_shift.json")
    with open(json_path, "w") as f:
        json.dump({k: v for k, v in report.items() if k != "results"}, f, indent=2)
    png = os.path.join(root, "domain_shift.png")
    _plot(report, png)
    return {"report": os.path.abspath(md), "json": os.path.abspath(json_path),
            "plot": os.path.abspath(png)}


def _plot(report, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (bars, curve) = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
    rows = report["rows"]
    x = np.arange(len(rows))
    bars.bar(x - 0.2, [r["baseline"] for r in rows], 0.4, label="base model")
    bars.bar(x + 0.2, [r["adapted"] for r in rows], 0.4, label="adapted")
    bars.set_xticks(x, [r["test_set"] for r in rows])
    bars.set_ylabel(rows[0]["metric"])
    bars.set_title("test sets")
    bars.legend(fontsize=8)
    points = report["masked_lm"]["loss_curve"]
    curve.plot([p["step"] for p in points], [p["heldout_loss"] for p in points], marker="o")
    curve.set_xlabel("masked-LM training step")
    curve.set_ylabel("held-out masked-LM loss")
    curve.set_title("masked-LM adaptation")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
