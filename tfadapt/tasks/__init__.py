"""Tasks: what a run predicts, from the data files to the head, the report and the
serving signature.

Everything that differs between single-label classification, multi-label
classification, regression, text pairs and token classification lives in one task
class per module; `training/trainer.py` runs any of them the same way (read → build
under the strategy → fit → evaluate → save → export). `get_task(name)` returns one.
"""

import importlib

_MODULES = {
    "classification": ("classification", "ClassificationTask"),
    "pair": ("classification", "PairTask"),
    "multilabel": ("multilabel", "MultiLabelTask"),
    "regression": ("regression", "RegressionTask"),
    "token_classification": ("token_classification", "TokenClassificationTask"),
}


def get_task(name):
    """The task object of `--task=name` (modules load on first use)."""
    module, cls = _MODULES[name]
    return getattr(importlib.import_module(f"tfadapt.tasks.{module}"), cls)()
