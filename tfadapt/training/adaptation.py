"""Domain adaptation, measured: each method against plain fine-tuning, over seeds.

    python -m tfadapt.adapt --methods=dapt,self_training --seeds=3 …

Methods (`METHODS`), each ending in a fine-tuned task model:
  none                 the base model fine-tuned on the labeled data (the reference)
  dapt / tapt          masked-LM adaptation of the base model on --domain_data (DAPT) or
                       on the task's own training text (TAPT), then fine-tuning
  self_training        the `none` model as teacher pseudo-labels --domain_data; students
                       learn labeled + pseudo-labeled text (`training/self_training.py`)
  dapt+self_training   the same with the `dapt` model as the first teacher and the DAPT
                       preset as the students' start

    model_dir/
      masked_lm_<id>.jsonl    masked-LM text: --domain_data without validation or test
                              texts (DAPT), or the task's training texts (TAPT, with its
                              validation texts held out in masked_lm_<id>_heldout.jsonl)
      seed_<s>/none/                      an ordinary tfadapt run
      seed_<s>/{dapt,tapt}/pretrain/      masked-LM run; its preset/ is the adapted model
      seed_<s>/{dapt,tapt}/finetune/      the adapted model fine-tuned
      seed_<s>/[dapt+]self_training/      round_<r>/{pseudo_labels.jsonl,student/}, rounds.json
      seed_<s>/<method>.json              the run's result (or its error)
      adaptation.md / .json / .png        mean ± std per method and test set, differences,
                                          and whether they exceed the seed spread
      adapt.json                          written last: the command finished

Every (method, seed) run is independent: one that crashes is reported and the others
go on. Every stage is an ordinary run that is reused when it finished before, so the
same command again resumes. Validation data alone (each run's validation report, see
`validation_score`) chooses the exported model: the method with the best mean, then its
best seed; test data never chooses and never trains (domain texts equal to a validation
or test text are left out of masked-LM training and pseudo-labeling).
"""

import dataclasses
import hashlib
import json
import os
import random
import time
import traceback

from tfadapt.errors import UserError, first_line

METHODS = ("none", "dapt", "tapt", "self_training", "dapt+self_training")


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


MLM_TEXT = "masked_lm_{}.jsonl"
MLM_HELDOUT = "masked_lm_{}_heldout.jsonl"


def seed_dir(config, seed):
    return os.path.join(config.train.model_dir, f"seed_{seed}")


def fine_tune_config(config, seed):
    """The plain fine-tuning run of `seed` (method none; the first self-training teacher)."""
    return dataclasses.replace(
        config.train, seed=seed, model_dir=os.path.join(seed_dir(config, seed), "none"),
        export_dir=None,
        validation_data=config.target_validation_data or config.train.validation_data)


def pretrain_config(config, kind, seed, text_id="text"):
    """The masked-LM run of `kind` (dapt or tapt) and `seed`, on the text file that
    `adapt` writes as MODEL_DIR/masked_lm_<text_id>.jsonl."""
    from tfadapt.config import PretrainConfig

    task, root = config.train, config.train.model_dir
    return PretrainConfig(
        train_data=os.path.join(root, MLM_TEXT.format(text_id)),
        validation_data=(os.path.join(root, MLM_HELDOUT.format(text_id))
                         if kind == "tapt" else None),
        preset=task.preset, model_dir=os.path.join(seed_dir(config, seed), kind, "pretrain"),
        max_train_examples=config.mlm_max_examples,
        sequence_length=config.mlm_sequence_length, mask_rate=config.mask_rate,
        whole_word_masking=config.whole_word_masking, batch_size=config.mlm_batch_size,
        epochs=config.mlm_epochs, max_steps=config.mlm_max_steps,
        eval_every_steps=config.mlm_eval_every_steps,
        head_warmup_steps=config.mlm_head_warmup_steps,
        learning_rate=config.mlm_learning_rate, seed=seed, strategy=task.strategy,
        tpu=task.tpu, jit_compile=task.jit_compile, mixed_precision=task.mixed_precision,
        bucket_boundaries=task.bucket_boundaries, overwrite=task.overwrite)


@dataclasses.dataclass
class SeedPlan:
    """Everything one seed's runs need, read and checked before any run starts."""

    seed: int
    inputs: object  # the task's Inputs with this seed's validation split
    mlm_texts: dict  # kind → (text id, texts, held-out texts or None)
    pool: list  # the texts self-training labels
    stages: dict  # "none", "dapt/pretrain", "dapt/finetune", "self_training/round_1", … → config
    done: dict = dataclasses.field(default_factory=dict)  # stage → summary, this command

    def run(self, name, strategy, log):
        """The summary of stage `name`, run (or reused) once per command: a teacher
        several methods share is not trained again even under --overwrite, and one that
        failed fails the methods that need it without being tried again."""
        if name not in self.done:
            from tfadapt.training.pretraining import pretrain
            from tfadapt.training.trainer import train

            stage = self.stages[name]
            try:
                self.done[name] = (pretrain if name.endswith("/pretrain") else train)(
                    stage, strategy=strategy, log=log)
            except Exception as e:
                self.done[name] = e
                raise
        if isinstance(self.done[name], Exception):
            e = self.done[name]
            raise RuntimeError(f"it needs {self.stages[name].model_dir}, which failed "
                               f"earlier in this command ({type(e).__name__}: "
                               f"{first_line(e)})")
        return self.done[name]


def plan_seed(config, task, seed, domain, extra, log):
    """The `SeedPlan` of `seed`: its inputs, masked-LM texts, pseudo-label pool and the
    config of every stage its methods run."""
    from tfadapt.training.self_training import student_config

    methods = config.method_list
    base = fine_tune_config(config, seed)
    inputs = task.read_inputs(base, log=lambda line: None)
    stages = {"none": base}
    mlm_texts, pool = {}, []
    evaluated = {" ".join(t.split()) for data in (inputs.validation, inputs.test,
                                                  *extra.values()) for t in _texts_of(data)}
    if domain is not None:
        kept = [t for t in domain if " ".join(t.split()) not in evaluated]
        if len(kept) < len(domain):
            log(f"tfadapt.adapt: {len(domain) - len(kept)} --domain_data texts are also "
                f"validation or test texts (seed {seed}); they are left out")
        if not kept:
            raise UserError(f"--domain_data={config.domain_data}: every text is also a "
                            "validation or test text")
        pool = kept
        if config.self_training_max_texts and len(kept) > config.self_training_max_texts:
            pool = random.Random(seed).sample(kept, config.self_training_max_texts)
    for kind in ("dapt", "tapt"):
        if kind not in methods and not (kind == "dapt" and "dapt+self_training" in methods):
            continue
        texts = (kept, None) if kind == "dapt" else _task_text(inputs)
        text_id = hashlib.sha1(json.dumps(texts).encode()).hexdigest()[:12]
        mlm_texts[kind] = (text_id, *texts)
        pretrain = pretrain_config(config, kind, seed, text_id)
        stages[f"{kind}/pretrain"] = pretrain
        stages[f"{kind}/finetune"] = dataclasses.replace(
            base, preset=pretrain.preset_dir,
            model_dir=os.path.join(seed_dir(config, seed), kind, "finetune"))
    for method in ("self_training", "dapt+self_training"):
        if method in methods:
            student = stages["dapt/finetune" if method.startswith("dapt") else "none"]
            for r in range(1, config.self_training_rounds + 1):
                stages[f"{method}/round_{r}"] = student_config(
                    student, config.self_training, os.path.join(seed_dir(config, seed),
                                                                method), r)
    return SeedPlan(seed, inputs, mlm_texts, pool, stages)


def adapt(config, strategy=None, log=print):
    """Runs every method of an `AdaptConfig` over its seeds; returns the report
    (`seed_report.summarize`, plus each run's result under "runs")."""
    from tfadapt.data.unlabeled import read_texts
    from tfadapt.models.presets import describe_preset
    from tfadapt.tasks import get_task
    from tfadapt.training import seed_report
    from tfadapt.training.trainer import check_export_dir

    started = time.time()
    task = get_task(config.train.task)
    methods, seeds = config.method_list, config.seed_list
    if config.train.task == "token_classification" and "tapt" in methods:
        raise UserError("--methods: tapt does not apply to --task=token_classification "
                        "(task-adaptive pretraining reads text columns, not CoNLL files); "
                        "give --domain_data for dapt")
    # Every input is read and checked before the first run writes anything.
    reading = dataclasses.replace(
        config.train, text_column=config.extra_text_column or config.train.text_column,
        label_column=config.extra_label_column or config.train.label_column)
    if config.target_validation_data:  # read first, so that its errors name its flag
        task.read(config.target_validation_data, config.train, "target_validation_data")
    extra = {name: task.read(path, reading, "extra_test_data")
             for name, path in parse_test_sets(config.extra_test_data).items()}
    domain = None
    if config.domain_data:
        domain = read_texts(config.domain_data, config.domain_text_column, "domain_data",
                            config.domain_encoding, config.train.tfds_data_dir).texts
    plans = {seed: plan_seed(config, task, seed, domain, extra, log) for seed in seeds}
    for data in extra.values():
        task.check(plans[seeds[0]].inputs.labels, data)
    describe_preset(config.train.preset)
    check_export_dir(config.train.export_dir)
    for plan in plans.values():
        plan.stages = {name: _resumable(stage, log) for name, stage in plan.stages.items()}
    _prepare_root(config, plans)

    runs, total = [], len(methods) * len(seeds)
    for seed in seeds:
        for method in methods:
            log(f"tfadapt.adapt: [{len(runs) + 1}/{total}] {method}, seed {seed}")
            runs.append(run_method(config, task, plans[seed], method, extra, strategy, log))

    finished = [r for r in runs if r["status"] == "finished"]
    metric, lower = ((finished[0]["metric"], finished[0]["lower_is_better"]) if finished
                     else (config.train.monitor, config.train.monitor in ("val_loss",
                                                                          "val_rmse")))
    report = seed_report.summarize(runs, methods, metric, lower)
    report.update(task=config.train.task, domain_data=config.domain_data,
                  validation_data=config.target_validation_data
                  or config.train.validation_data
                  or f"{config.train.validation_split:.0%} of --train_data per seed",
                  runs=runs)
    paths = write_adaptation_report(report, config.train.model_dir)
    if config.train.export_dir and report["chosen"]:
        from tfadapt.serving.savedmodel import export_model
        from tfadapt.training.model_dir import load_trained

        chosen = report["chosen"]
        try:
            model, preprocessor, labels, run_config = load_trained(chosen["model_dir"])
            serve, signature = task.serving(model, preprocessor, labels, run_config)
            paths["export"] = os.path.abspath(export_model(
                model, preprocessor, serve, signature, config.train.export_dir))
            log(f"tfadapt.adapt: exported {chosen['method']} (seed {chosen['seed']}, best "
                f"on validation) to {paths['export']}")
        except Exception as e:  # noqa: BLE001 — the report above stays; the command fails
            report["export_error"] = f"{type(e).__name__}: {first_line(e)}"
            log(f"tfadapt.adapt: the export FAILED: {report['export_error']}")
    report["paths"] = paths
    report["wall_seconds"] = time.time() - started
    with open(os.path.join(config.train.model_dir, "adapt.json"), "w") as f:
        json.dump(report, f, indent=2)
    return report


def run_method(config, task, plan, method, extra, strategy=None, log=print):
    """One (method, seed) run, from whatever stages it needs; returns its result and
    saves it as seed_<s>/<method>.json. An error fails this run only: it is logged,
    its traceback saved beside the result, and the result says "failed"."""
    import keras

    keras.backend.clear_session()  # every run builds or loads new models; free the old
    started = time.time()
    folder = seed_dir(config, plan.seed)
    result = {"method": method, "seed": plan.seed, "status": "failed", "error": None,
              "validation": None, "test": {}, "model_dir": None}
    try:
        summary, final, details = _run_stages(config, plan, method, strategy, log)
        metric, value, lower = validation_score(task, final, summary)
        test = {"test": task.headline(summary["test"])[1]}
        for name, data in extra.items():
            test[name] = task.headline(_evaluate(task, final.model_dir, name, data))[1]
        result.update(status="finished", metric=metric, lower_is_better=lower,
                      validation=value, test=test, model_dir=final.model_dir, **details)
        if os.path.exists(os.path.join(folder, f"{method}.error.txt")):
            os.remove(os.path.join(folder, f"{method}.error.txt"))
    except Exception as e:  # noqa: BLE001 — one run's failure must not stop the others
        result["error"] = f"{type(e).__name__}: {first_line(e)}"
        with open(os.path.join(folder, f"{method}.error.txt"), "w") as f:
            f.write(traceback.format_exc())
        log(f"tfadapt.adapt: {method} (seed {plan.seed}) FAILED: {result['error']} "
            f"(traceback: {os.path.join(folder, method + '.error.txt')}); the others go on")
    result["wall_seconds"] = time.time() - started
    with open(os.path.join(folder, f"{method}.json"), "w") as f:
        json.dump(result, f, indent=2)
    return result


def _run_stages(config, plan, method, strategy, log):
    """(summary, TrainConfig, details) of the final task model of `method`."""
    from tfadapt.training.self_training import self_train

    if method == "none":
        return plan.run("none", strategy, log), plan.stages["none"], {}
    if method in ("dapt", "tapt"):
        return _masked_lm_then_fine_tune(plan, method, strategy, log)
    if method.startswith("dapt"):
        _, teacher, details = _masked_lm_then_fine_tune(plan, "dapt", strategy, log)
    else:
        plan.run("none", strategy, log)
        teacher, details = plan.stages["none"], {}
    students = [plan.stages[f"{method}/round_{r}"]
                for r in range(1, config.self_training_rounds + 1)]
    summary, rounds = self_train(teacher.model_dir, students, plan.pool, config.self_training,
                                 os.path.join(seed_dir(config, plan.seed), method),
                                 strategy, log)
    return summary, students[-1], {**details, "self_training": rounds}


def _masked_lm_then_fine_tune(plan, kind, strategy, log):
    mlm = plan.run(f"{kind}/pretrain", strategy, log)
    name = f"{kind}/finetune"
    if name not in plan.done and _older(plan.stages[name].model_dir, "run.json",
                                        plan.stages[f"{kind}/pretrain"].model_dir,
                                        "pretrain.json"):
        log(f"tfadapt.adapt: the {kind} masked-LM stage ran again; fine-tuning its new output")
        plan.stages[name] = dataclasses.replace(plan.stages[name], overwrite=True)
    summary = plan.run(name, strategy, log)
    details = {"masked_lm": {k: mlm[k] for k in (
        "heldout_loss_before", "heldout_loss_after", "perplexity_before", "perplexity_after",
        "train_examples", "heldout_examples", "wall_seconds")}}
    return summary, plan.stages[name], details


def _texts_of(data):
    """The raw texts of a data set of any task (both texts of pairs; sentences' words)."""
    if hasattr(data, "sentences"):
        return [" ".join(tokens) for tokens in data.tokens]
    return list(data.texts) + list(data.pairs or [])


def _task_text(inputs):
    """TAPT's (training texts, held-out texts): the task's own training part (after its
    validation split, without EDA copies), its validation texts held out."""
    train = inputs.train
    original = [i for i, source in enumerate(train.sources)
                if not source.endswith("(augmented)")]
    return _texts_of(train.subset(original)), _texts_of(inputs.validation)


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


def _prepare_root(config, plans):
    """Creates MODEL_DIR with the config and the masked-LM texts; removes the report of an
    earlier run (it is written again at the end)."""
    root = config.train.model_dir
    if os.path.exists(root) and not os.path.isdir(root):
        raise UserError(f"--model_dir={root}: is a file, not a folder")
    os.makedirs(root, exist_ok=True)
    for name in ("adapt.json", "adaptation.md", "adaptation.json", "adaptation.png"):
        if os.path.exists(os.path.join(root, name)):
            os.remove(os.path.join(root, name))
    for plan in plans.values():
        os.makedirs(seed_dir(config, plan.seed), exist_ok=True)
        for text_id, texts, heldout in plan.mlm_texts.values():
            _write_json_lines(os.path.join(root, MLM_TEXT.format(text_id)), texts)
            if heldout is not None:
                _write_json_lines(os.path.join(root, MLM_HELDOUT.format(text_id)), heldout)
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


def _evaluate(task, model_dir, name, data):
    """The report of the run in `model_dir` on the extra test set `name`, written to its
    eval/<name>/ (with the task's picture of where it fails); reused while the run and
    the data (its texts and labels) are unchanged."""
    from tfadapt.training.model_dir import ModelDir, load_trained

    folder = ModelDir(model_dir)
    saved = os.path.join(folder.eval_dir(name), "report.json")
    digest = hashlib.sha1(json.dumps([_texts_of(data), list(data.labels)]).encode()).hexdigest()
    if not _older(folder.eval_dir(name), "report.json", model_dir, "run.json"):
        if os.path.isfile(saved):
            with open(saved) as f:
                report = json.load(f)
            if report.get("data_digest") == digest:
                return report
    model, preprocessor, labels, run_config = load_trained(model_dir)
    report = {**task.evaluate(model, data, labels, preprocessor, run_config),
              "data_digest": digest}
    task.write_report(report, folder.eval_dir(name))
    return report


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


def write_adaptation_report(report, root):
    """adaptation.md / .json / .png in `root` (`seed_report.write_report`), the Markdown
    followed by each run's masked-LM and self-training figures; returns {what: path}."""
    from tfadapt.training import seed_report

    paths = seed_report.write_report(report, root, name="adaptation")
    with open(paths["report"], "a") as f:
        f.write("\n" + format_details(report) + "\n")
    return paths


def format_details(report):
    """Per run: masked-LM perplexity before → after, and pseudo-labels per round."""
    lines = [f"Validation data (chooses epochs, methods and the export): "
             f"{report['validation_data']}", ""]
    for run in report["runs"]:
        mlm = run.get("masked_lm")
        if mlm:
            lines.append(f"- {run['method']}, seed {run['seed']}: masked-LM held-out "
                         f"perplexity {mlm['perplexity_before']:.1f} → "
                         f"{mlm['perplexity_after']:.1f} ({mlm['train_examples']} training "
                         f"texts, {mlm['heldout_examples']} held out)")
        for r in run.get("self_training", ()):
            counts = ", ".join(f"{name} {n}" for name, n in r["class_counts"].items())
            lines.append(f"- {run['method']}, seed {run['seed']}, round {r['round']}: "
                         f"{r['pseudo_labeled']} of {r['texts']} texts pseudo-labeled "
                         f"({counts}; mean confidence {r['mean_confidence']:.3f})")
    return "\n".join(lines)
