"""EDA augmentation: each operation, the thesaurus file and its errors."""

import numpy as np
import pytest

from tfadapt.data.augment import eda, read_synonyms
from tfadapt.errors import UserError

SYNONYMS = {"pain": ["ache"], "ache": ["pain"], "drug": ["medicine", "medication"]}
TEXT = "this drug took my pain away within two days"


def _rng():
    return np.random.default_rng(0)


def test_synonym_replacement_swaps_known_words_only():
    out = eda(TEXT, ["synonym"], 0.2, SYNONYMS, _rng())
    words, original = out.split(), TEXT.split()
    changed = [(a, b) for a, b in zip(original, words) if a != b]
    assert len(words) == len(original) and changed
    assert all(b in SYNONYMS[a] for a, b in changed)


def test_swap_keeps_the_words_and_delete_drops_some():
    swapped = eda(TEXT, ["swap"], 0.2, {}, _rng())
    assert sorted(swapped.split()) == sorted(TEXT.split()) and swapped != TEXT
    deleted = eda(TEXT, ["delete"], 0.3, {}, _rng()).split()
    assert 0 < len(deleted) < len(TEXT.split()) and set(deleted) <= set(TEXT.split())


def test_insert_adds_synonyms_of_words_in_the_text():
    inserted = eda(TEXT, ["insert"], 0.2, SYNONYMS, _rng()).split()
    extra = list(inserted)
    for word in TEXT.split():
        extra.remove(word)
    assert extra and all(w in ("ache", "pain", "medicine", "medication") for w in extra)


def test_phrases_and_punctuated_words_match_the_thesaurus():
    synonyms = {"heart attack": ["myocardial infarction"], "myocardial infarction": ["heart attack"],
                "pain": ["ache"], "ache": ["pain"]}
    out = eda("After my Heart attack, the pain.", ["synonym"], 1.0, synonyms, _rng())
    assert out == "After my myocardial infarction the ache"


def test_same_seed_same_augmentation():
    ops = ["synonym", "swap", "delete", "insert"]
    assert eda(TEXT, ops, 0.1, SYNONYMS, _rng()) == eda(TEXT, ops, 0.1, SYNONYMS, _rng())


def test_thesaurus_groups_map_every_member_to_the_others(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("\ufeffHeart  attack, myocardial infarction, MI\n\n# comment\npain, ache\n",
                    encoding="utf-8")
    groups = read_synonyms(str(path))
    assert groups["mi"] == ["heart attack", "myocardial infarction"]
    assert groups["ache"] == ["pain"]


@pytest.mark.parametrize("content, message", [
    ("pain, ache\nlonely\n", r"t.txt:2: a synonym group needs at least two"),
    ("# only a comment\n", "no synonym groups"),
])
def test_bad_thesaurus_names_file_and_line(tmp_path, content, message):
    path = tmp_path / "t.txt"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        read_synonyms(str(path))


def test_missing_or_undecodable_thesaurus(tmp_path):
    with pytest.raises(UserError, match=r"^--synonyms=.*: file not found"):
        read_synonyms(str(tmp_path / "missing.txt"))
    path = tmp_path / "latin.txt"
    path.write_bytes("caf\xe9, coffee\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"latin.txt:1: bytes that are not valid utf-8"):
        read_synonyms(str(path))
