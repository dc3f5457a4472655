"""The learning-rate table: its syntax, the rules flags add, and its checks."""

import keras
import keras_hub
import pytest

from tfadapt.config import TrainConfig
from tfadapt.errors import UserError
from tfadapt.models.classifier import build_classifier
from tfadapt.training.lr_rules import Rule, RuleTable, format_rows, parse_rules, rules_for


def _config(**changes):
    return TrainConfig(train_data="t.csv", preset="p", model_dir="m", **changes)


def test_parse_keeps_order_and_commas_inside_patterns():
    rules = parse_rules("embedding=0, transformer_layer_[0-9]{1,2}/ = 0.5,logits/=2")
    assert [(r.pattern, r.multiplier) for r in rules] == [
        ("embedding", 0.0), ("transformer_layer_[0-9]{1,2}/", 0.5), ("logits/", 2.0)]


@pytest.mark.parametrize("text, message", [
    ("embedding", "cannot read 'embedding'"),
    ("embedding=-1", "must be a non-negative number"),
    ("embedding=fast", "must be a non-negative number"),
    ("(unclosed=0", "is not a regular expression"),
])
def test_bad_rules_name_the_flag(text, message):
    with pytest.raises(UserError, match=rf"^--lr_rules: .*{message}"):
        parse_rules(text)


def test_first_match_wins_and_unmatched_variables_keep_the_full_rate():
    table = RuleTable(parse_rules("transformer_layer_0/=0,transformer_layer_=0.5"))
    assert table.multiplier("transformer_layer_0/self_attention_layer/query/kernel") == 0
    assert table.multiplier("transformer_layer_1/feedforward_output_dense/bias") == 0.5
    assert table.multiplier("logits/kernel") == 1.0


def test_layer_lr_decay_gives_the_top_layer_decay_and_the_embeddings_the_least():
    table = RuleTable(rules_for(_config(layer_lr_decay=0.5), num_layers=3))
    assert table.multiplier("logits/kernel") == 1.0
    assert table.multiplier("transformer_layer_2/self_attention_layer/key/kernel") == 0.5
    assert table.multiplier("transformer_layer_0/self_attention_layer/key/kernel") == 0.125
    assert table.multiplier("token_embedding/embeddings") == 0.0625
    assert table.multiplier("embeddings_layer_norm/gamma") == 0.0625


def test_user_rules_come_before_the_rules_of_other_flags():
    rules = rules_for(_config(lr_rules="transformer_layer_0/=3", freeze_layers=1), num_layers=2)
    table = RuleTable(rules)
    assert table.multiplier("transformer_layer_0/self_attention_layer/query/kernel") == 3.0
    assert [r.source for r in rules] == ["--lr_rules", "--freeze_layers"]


def test_freeze_backbone_leaves_only_the_head():
    table = RuleTable(rules_for(_config(freeze_backbone=True), num_layers=2))
    assert table.multiplier("pooled_dense/kernel") == 0
    assert table.multiplier("position_embedding/embeddings") == 0
    assert table.multiplier("logits/bias") == 1.0


@pytest.fixture(scope="module")
def tiny_model():
    backbone = keras_hub.models.BertBackbone(vocabulary_size=50, num_layers=2, num_heads=2,
                                             hidden_dim=8, intermediate_dim=16,
                                             max_sequence_length=16)
    return build_classifier(backbone, 3)


def test_a_pattern_that_matches_nothing_is_a_clear_error(tiny_model):
    table = RuleTable(parse_rules("transformer_layer_0/=0,encoder_layer_3/=0.5"))
    with pytest.raises(UserError, match=r"--lr_rules: pattern 'encoder_layer_3/' matches no "
                                        r"variable of the model; paths look like"):
        table.check(tiny_model.trainable_variables)


def test_describe_counts_parameters_per_rule(tiny_model):
    table = RuleTable(rules_for(_config(freeze_embeddings=True, layer_lr_decay=0.5), 2))
    rows = table.describe(tiny_model.trainable_variables)
    total = sum(row["trainable_params"] + row["frozen_params"] for row in rows)
    assert total == sum(int(keras.ops.size(v)) for v in tiny_model.trainable_variables)
    assert rows[0]["source"] == "--freeze_embeddings" and rows[0]["trainable_params"] == 0
    assert rows[0]["frozen_params"] == 50 * 8 + 16 * 8 + 2 * 8 + 2 * 8
    # The embeddings rule of --layer_lr_decay is shadowed by the freeze rule before it.
    assert rows[-2]["pattern"] == rows[0]["pattern"] and rows[-2]["variables"] == 0
    assert rows[-1]["pattern"] == "(no rule)" and rows[-1]["trainable_params"] == 8 * 3 + 3
    assert "lr ×" in format_rows(rows)[0]


def test_rules_are_plain_data():
    assert Rule("a", 0.5, "--lr_rules") == parse_rules("a=0.5")[0]
