"""What trains and how fast: one ordered table of (pattern over variable paths → multiplier).

Every fine-tuning strategy that decides how much of the model moves is an entry of this
table (big_vision's way): a multiplier scales the learning rate of the variables whose
path the pattern matches, and 0 means frozen. The first matching rule wins; a variable
no rule matches trains at the full rate. Patterns are Python regular expressions
searched in Keras variable paths, which look like

    token_embedding/embeddings
    transformer_layer_3/self_attention_layer/query/kernel
    logits/kernel

`--lr_rules='PATTERN=MULT,PATTERN=MULT'` gives rules directly; they come before the
rules that other flags add (`--freeze_backbone`, `--freeze_embeddings`,
`--freeze_layers`, `--layer_lr_decay`, prompt tuning), so a user's rule always wins.
"""

import dataclasses
import json
import math
import re

from tfadapt.errors import UserError

_EMBEDDING_LAYERS = r"(token|position|segment)_embedding|embeddings_layer_norm"
EMBEDDINGS = rf"^({_EMBEDDING_LAYERS})/"
BACKBONE = rf"^({_EMBEDDING_LAYERS}|transformer_layer_\d+|pooled_dense)/"

# PATTERN=MULT items, comma-separated; the lazy pattern may itself hold commas ({1,2}).
_RULE = re.compile(r"\s*(?P<pattern>.+?)\s*=\s*(?P<multiplier>[^,=\s]+)\s*(?:,|$)")


def layer_pattern(index):
    return rf"^transformer_layer_{index}/"


@dataclasses.dataclass(frozen=True)
class Rule:
    pattern: str
    multiplier: float
    source: str  # the flag that made it, for messages


def parse_rules(text, flag="lr_rules"):
    """`'PATTERN=MULT,PATTERN=MULT'` → a tuple of `Rule`s; a UserError names the bad item."""
    rules, position = [], 0
    text = (text or "").strip()
    while position < len(text):
        match = _RULE.match(text, position)
        if not match:
            raise UserError(f"--{flag}: cannot read {text[position:]!r}; expected "
                            "PATTERN=MULTIPLIER[,PATTERN=MULTIPLIER…], e.g. 'embedding=0'")
        pattern, multiplier = match["pattern"], match["multiplier"]
        try:
            re.compile(pattern)
        except re.error as e:
            raise UserError(f"--{flag}: {pattern!r} is not a regular expression ({e})") from None
        try:
            value = float(multiplier)
        except ValueError:
            value = -1.0
        if not (value >= 0 and math.isfinite(value)):
            raise UserError(f"--{flag}: {pattern}={multiplier}: the multiplier must be a "
                            "non-negative number (0 freezes)")
        rules.append(Rule(pattern, value, f"--{flag}"))
        position = match.end()
    return tuple(rules)


def rules_for(config, num_layers):
    """The ordered rule table of a `TrainConfig`, for a backbone of `num_layers` layers."""
    rules = list(parse_rules(config.lr_rules))
    if config.prompt_tuning_length:
        rules.append(Rule(BACKBONE, 0.0, "--prompt_tuning_length"))
    if config.freeze_backbone:
        rules.append(Rule(BACKBONE, 0.0, "--freeze_backbone"))
    if config.freeze_embeddings:
        rules.append(Rule(EMBEDDINGS, 0.0, "--freeze_embeddings"))
    if config.freeze_layers:
        lowest = "|".join(str(i) for i in range(config.freeze_layers))
        rules.append(Rule(rf"^transformer_layer_({lowest})/", 0.0, "--freeze_layers"))
    if config.layer_lr_decay < 1:
        # The head keeps the full rate; the top encoder layer gets decay¹, the lowest
        # decay^L and the embeddings decay^(L+1) (as in ELECTRA / BEiT fine-tuning).
        decay = config.layer_lr_decay
        for i in reversed(range(num_layers)):
            rules.append(Rule(layer_pattern(i), decay ** (num_layers - i), "--layer_lr_decay"))
        rules.append(Rule(EMBEDDINGS, decay ** (num_layers + 1), "--layer_lr_decay"))
    return tuple(rules)


class RuleTable:
    """The compiled rules; maps a variable path to its multiplier (first match wins).

    Example:
    >>> table = RuleTable(parse_rules("embedding=0,transformer_layer_[01]/=0.5"))
    >>> table.multiplier("transformer_layer_1/self_attention_layer/query/kernel")
    0.5
    """

    def __init__(self, rules):
        self.rules = tuple(rules)
        self._compiled = [re.compile(rule.pattern) for rule in self.rules]

    def rule_index(self, path):
        """Index of the first rule whose pattern is found in `path`, or None."""
        for i, pattern in enumerate(self._compiled):
            if pattern.search(path):
                return i
        return None

    def multiplier(self, path):
        i = self.rule_index(path)
        return 1.0 if i is None else self.rules[i].multiplier

    def check(self, variables):
        """A UserError for the first rule that matches none of `variables`."""
        paths = [v.path for v in variables]
        for rule, pattern in zip(self.rules, self._compiled):
            if not any(pattern.search(path) for path in paths):
                raise UserError(f"{rule.source}: pattern {rule.pattern!r} matches no variable "
                                f"of the model; paths look like {paths[len(paths) // 2]!r}")

    def describe(self, variables):
        """Rows per rule (and one for unmatched variables): variables, trainable and
        frozen parameter counts. Shadowed rules (every match taken earlier) show 0."""
        rows = [{"pattern": r.pattern, "multiplier": r.multiplier, "source": r.source,
                 "variables": 0, "trainable_params": 0, "frozen_params": 0} for r in self.rules]
        rest = {"pattern": "(no rule)", "multiplier": 1.0, "source": "", "variables": 0,
                "trainable_params": 0, "frozen_params": 0}
        for variable in variables:
            i = self.rule_index(variable.path)
            row = rest if i is None else rows[i]
            size = math.prod(variable.shape)
            row["variables"] += 1
            row["frozen_params" if row["multiplier"] == 0 else "trainable_params"] += size
        return rows + [rest]


def format_rows(rows):
    """The rule table as aligned text lines, for the training log."""
    width = max(len(row["pattern"]) for row in rows)
    lines = [f"  {'pattern':<{width}}  {'lr ×':>8}  {'vars':>5}  {'trainable':>11}  "
             f"{'frozen':>11}  from"]
    for row in rows:
        lines.append(f"  {row['pattern']:<{width}}  {row['multiplier']:>8.4g}  {row['variables']:>5}"
                     f"  {row['trainable_params']:>11,}  {row['frozen_params']:>11,}  {row['source']}")
    return lines


def save_rows(rows, path):
    with open(path, "w") as f:
        json.dump(rows, f, indent=2)
