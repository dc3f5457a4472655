"""The label map and the held-out validation split."""

import pytest

from tfadapt.data.labels import LabelMap, stratified_split
from tfadapt.data.readers import Examples
from tfadapt.errors import UserError


def _examples(labels, name="train.csv"):
    return Examples([f"text {i}" for i in range(len(labels))], list(labels),
                    [f"{name}:{i + 2}" for i in range(len(labels))], name)


def test_inferred_labels_are_sorted_and_majority_recorded():
    label_map = LabelMap.for_training(_examples(["pos", "neg", "pos", "neu"]))
    assert label_map.names == ("neg", "neu", "pos")
    assert label_map.majority == "pos"
    assert label_map.ids(["pos", "neg"]) == [2, 0]


def test_given_labels_keep_their_order_and_reject_unknown_ones():
    assert LabelMap.for_training(_examples(["b", "a"]), given=("b", "a")).names == ("b", "a")
    with pytest.raises(UserError, match=r"train\.csv:4: label 'c' is not in --labels \('a', 'b'\)"):
        LabelMap.for_training(_examples(["a", "b", "c"]), given=("a", "b"))


def test_test_data_label_unseen_in_training_names_its_line():
    label_map = LabelMap.for_training(_examples(["a", "b"]))
    with pytest.raises(UserError, match=r"test\.csv:3: label 'z' is not in the training data"):
        label_map.check(_examples(["a", "z"], name="test.csv"))


def test_a_single_class_is_refused():
    with pytest.raises(UserError, match="every example has the label 'a'.*at least two classes"):
        LabelMap.for_training(_examples(["a", "a", "a"]))


def test_save_and_load(tmp_path):
    label_map = LabelMap.for_training(_examples(["x", "y", "y"]))
    label_map.save(tmp_path / "labels.json")
    loaded = LabelMap.load(tmp_path / "labels.json")
    assert (loaded.names, loaded.majority) == (("x", "y"), "y")


def test_stratified_split_is_deterministic_and_keeps_every_class():
    examples = _examples(["a"] * 50 + ["b"] * 10 + ["c"] * 2)
    train, held = stratified_split(examples, 0.1, seed=3)
    again_train, again_held = stratified_split(examples, 0.1, seed=3)
    assert held.texts == again_held.texts and train.texts == again_train.texts
    assert sorted(held.labels) == ["a"] * 5 + ["b"] + ["c"]
    assert set(train.labels) == {"a", "b", "c"}
    assert not set(train.texts) & set(held.texts)
    assert stratified_split(examples, 0.1, seed=4)[1].texts != held.texts


def test_class_weights_balanced_none_and_explicit():
    examples = _examples(["pos"] * 6 + ["neg"] * 3 + ["neu"])
    label_map = LabelMap.for_training(examples)  # neg, neu, pos
    assert list(label_map.class_weights(examples, "none")) == [1, 1, 1]
    # n / (classes × count): 10 / (3 × 3), 10 / (3 × 1), 10 / (3 × 6)
    assert list(label_map.class_weights(examples, "balanced")) == pytest.approx(
        [10 / 9, 10 / 3, 10 / 18])
    assert list(label_map.class_weights(examples, "neu=4, pos=0.5")) == [1, 4, 0.5]


@pytest.mark.parametrize("spec, message", [
    ("bad=2", "'bad' is not a label"),
    ("neu=lots", "the weight must be a number"),
    ("neu=-1", "must be a non-negative number"),
    ("neu=inf", "must be a non-negative number"),
])
def test_bad_class_weights_name_the_flag(spec, message):
    examples = _examples(["pos", "neg", "neu"])
    with pytest.raises(UserError, match=rf"^--class_weights: .*{message}"):
        LabelMap.for_training(examples).class_weights(examples, spec)
