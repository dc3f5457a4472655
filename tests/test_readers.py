"""Reading labeled text from files and TFDS, and the errors a user's files get."""

import pytest

from conftest import write_rows
from tfadapt.data.readers import parse_tfds_spec, read_examples
from tfadapt.errors import UserError


@pytest.mark.parametrize("ext", ["csv", "tsv", "jsonl"])
def test_reads_each_format_with_labels_as_strings(tmp_path, ext):
    path = write_rows(tmp_path / f"d.{ext}", [("good drug", 1), ("bad, \"awful\" drug", 0)])
    examples = read_examples(path, "text", "label")
    assert examples.texts == ["good drug", 'bad, "awful" drug']
    assert examples.labels == ["1", "0"]
    assert examples.sources[1] == f"{path}:{3 if ext != 'jsonl' else 2}"


def test_reads_the_real_drug_review_file(drug_rows):
    assert len(drug_rows) == 600
    assert {label for _, label in drug_rows} == {"positive", "negative", "neutral"}


def test_multiline_quoted_csv_field_reports_its_last_physical_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('text,label\n"line one\nline two",a\n"",b\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"d\.csv:4: empty text in column 'text'"):
        read_examples(str(path), "text", "label")


def test_missing_file_names_the_flag(tmp_path):
    with pytest.raises(UserError, match=r"^--validation_data=.*nope\.csv: file not found$"):
        read_examples(str(tmp_path / "nope.csv"), "text", "label", flag="validation_data")


def test_missing_column_lists_the_columns_and_the_flag(tmp_path):
    path = write_rows(tmp_path / "d.tsv", [("x", "a")], columns=("review", "label"))
    with pytest.raises(UserError, match=r"d\.tsv:2: no column 'text' \(found 'review', 'label'\); "
                                        r"set --text_column"):
        read_examples(path, "text", "label")


def test_empty_text_names_file_and_line(tmp_path):
    path = write_rows(tmp_path / "d.csv", [("fine", "a"), ("   ", "b")])
    with pytest.raises(UserError, match=r"d\.csv:3: empty text"):
        read_examples(path, "text", "label")


def test_undecodable_bytes_name_the_line_and_the_encoding_flag(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"text,label\nok,a\ncaf\xe9 au lait,b\n")
    with pytest.raises(UserError, match=r"d\.csv:3: bytes that are not valid utf-8 .*--encoding"):
        read_examples(str(path), "text", "label")
    assert read_examples(str(path), "text", "label", encoding="latin-1").texts[1] == "café au lait"


def test_malformed_jsonl_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": \n', encoding="utf-8")
    with pytest.raises(UserError, match=r"d\.jsonl:2: not valid JSON"):
        read_examples(str(path), "text", "label")


def test_jsonl_non_text_value(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": ["a"], "label": "x"}\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"d\.jsonl:1: column 'text' holds list"):
        read_examples(str(path), "text", "label")


def test_row_with_more_fields_than_header(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\na,b,c\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"d\.csv:2: 3 fields but the header has 2"):
        read_examples(str(path), "text", "label")


def test_unsupported_extension(tmp_path):
    path = tmp_path / "d.parquet"
    path.write_text("x")
    with pytest.raises(UserError, match="unsupported file type '.parquet'"):
        read_examples(str(path), "text", "label")


# === TFDS ===

def _prepare_local_tfds(data_dir, rows):
    """A TFDS dataset built offline from real reviews with TFDS's own TfDataBuilder."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    names = ["negative", "neutral", "positive"]

    def split(part):
        return tf.data.Dataset.from_tensor_slices({
            "text": [text for text, _ in part],
            "label": [names.index(label) for _, label in part],
        })

    builder = tfds.dataset_builders.TfDataBuilder(
        name="drug_reviews_local", version="1.0.0", data_dir=str(data_dir),
        split_datasets={"train": split(rows[:30]), "test": split(rows[30:40])},
        features=tfds.features.FeaturesDict({
            "text": tfds.features.Text(),
            "label": tfds.features.ClassLabel(names=names),
        }))
    builder.download_and_prepare()


def test_tfds_spec_reads_a_prepared_dataset_offline(tmp_path, drug_rows):
    _prepare_local_tfds(tmp_path, drug_rows)
    train = read_examples("tfds:drug_reviews_local", "text", "label", tfds_data_dir=str(tmp_path))
    test = read_examples("tfds:drug_reviews_local:test", "text", "label",
                         flag="test_data", tfds_data_dir=str(tmp_path))
    assert len(train) == 30 and len(test) == 10
    # TFDS shuffles on write; labels come back as class names, not ids.
    assert sorted(zip(train.texts, train.labels)) == sorted(drug_rows[:30])


def test_tfds_missing_feature_names_the_flag(tmp_path, drug_rows):
    _prepare_local_tfds(tmp_path, drug_rows)
    with pytest.raises(UserError, match=r"no feature 'review' .*set --text_column"):
        read_examples("tfds:drug_reviews_local", "review", "label", tfds_data_dir=str(tmp_path))


def test_tfds_unprepared_dataset_fails_clearly_offline(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr("socket.create_connection", offline)  # offline, whatever the machine
    with pytest.raises(UserError, match=r"^--train_data=tfds:imdb_reviews: not prepared in .* "
                                        r"and the network is unreachable"):
        read_examples("tfds:imdb_reviews", "text", "label", tfds_data_dir=str(tmp_path))


@pytest.mark.parametrize("spec, flag, expected", [
    ("tfds:imdb_reviews", "train_data", ("imdb_reviews", "train")),
    ("tfds:imdb_reviews", "test_data", ("imdb_reviews", "test")),
    ("tfds:glue/sst2:validation", "test_data", ("glue/sst2", "validation")),
    ("tfds:imdb_reviews:train[:90%]", "train_data", ("imdb_reviews", "train[:90%]")),
    ("tfds:glue/sst2:2.0.0:train", "train_data", ("glue/sst2:2.0.0", "train")),
])
def test_tfds_specs(spec, flag, expected):
    assert parse_tfds_spec(spec, flag) == expected


def test_tfds_bad_spec():
    with pytest.raises(UserError, match=r"expected tfds:NAME\[:SPLIT\]"):
        read_examples("tfds:", "text", "label")
