"""Self-training on unlabeled domain text: which teacher predictions become labels.

A teacher fine-tuned on the labeled (source) data predicts class probabilities for the
unlabeled target texts; the confident ones join the training data of a student. Two
ways to choose them:

- `threshold`: every text whose top probability reaches it. Simple, but a teacher that
  is biased towards one class fills the pseudo-labels with that class.
- `top_fraction`: per class, the most confident texts predicted as that class, at most
  `top_fraction × texts / classes` of them, so the pseudo-labels stay class-balanced
  (a class the teacher rarely predicts gives what it has).

Rounds (`self_train`): round r's teacher labels the texts, and its student, an ordinary
`tfadapt.train` run from the teacher's starting weights (the base or the masked-LM
adapted preset) with `--pseudo_labels`, is fine-tuned on the labeled data plus the
chosen texts and becomes round r+1's teacher. The student learns under noise the
teacher predicted without: dropout, and optionally EDA copies.

    ROOT/round_<r>/pseudo_labels.jsonl   text, label, confidence, probabilities
    ROOT/round_<r>/student/              the student's run
    ROOT/rounds.json                     per round: how many texts, class counts, …

A student whose run is older than its pseudo-labels (a teacher that ran again and
labeled differently) trains again; otherwise a finished student is reused.
"""

import dataclasses
import json
import os
from typing import Optional

import numpy as np

from tfadapt.errors import UserError


@dataclasses.dataclass(frozen=True)
class PseudoLabels:
    """The chosen texts: their indices into the unlabeled texts, the predicted class,
    the teacher's probability of it, and the full probability rows (soft labels)."""

    indices: np.ndarray
    classes: np.ndarray
    confidence: np.ndarray
    probabilities: np.ndarray

    def __len__(self):
        return len(self.indices)

    def class_counts(self, num_classes):
        return np.bincount(self.classes, minlength=num_classes).tolist()


def select_pseudo_labels(probabilities, threshold=None, top_fraction=None):
    """The pseudo-labels among `probabilities` [texts, classes], by one of the two rules.

    Example:
    >>> p = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.95, 0.05]])
    >>> select_pseudo_labels(p, threshold=0.85).indices.tolist()
    [0, 3]
    >>> select_pseudo_labels(p, top_fraction=0.5).indices.tolist()  # one per class
    [2, 3]
    """
    if (threshold is None) == (top_fraction is None):
        raise ValueError("give exactly one of threshold and top_fraction")
    probabilities = np.asarray(probabilities, dtype=np.float64)
    classes = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    if threshold is not None:
        chosen = np.flatnonzero(confidence >= threshold)
    else:
        per_class = int(top_fraction * len(probabilities) / probabilities.shape[1])
        chosen = []
        for c in range(probabilities.shape[1]):
            members = np.flatnonzero(classes == c)
            # Most confident first; ties keep the texts' order (a stable sort).
            ranked = members[np.argsort(-confidence[members], kind="stable")]
            chosen.extend(ranked[:per_class].tolist())
        chosen = np.sort(np.asarray(chosen, dtype=np.int64))
    return PseudoLabels(chosen, classes[chosen], confidence[chosen], probabilities[chosen])


@dataclasses.dataclass(frozen=True)
class SelfTraining:
    """How pseudo-labels are chosen and the students trained (see `select_pseudo_labels`)."""

    rounds: int = 1
    threshold: Optional[float] = None
    top_fraction: Optional[float] = None
    soft: bool = False  # students learn the teacher's probabilities (distillation)
    eda_copies: int = 0  # EDA copies of every student example (0: the task's own setting)


def self_train(teacher_dir, students, texts, settings, root, strategy=None, log=print):
    """Runs the rounds; returns (the last student's run summary, rounds info).

    Args:
        teacher_dir: a finished classification run: the first teacher.
        students: the `TrainConfig` of each round's student (`student_config`).
        texts: the unlabeled target texts to label (no validation or test text).
        settings: a `SelfTraining`.
        root: the folder of the rounds (rounds.json goes there).
    """
    from tfadapt.training.trainer import train

    os.makedirs(root, exist_ok=True)
    rounds = []
    summary = None
    for r, config in enumerate(students, start=1):
        probabilities, names = teacher_probabilities(teacher_dir, texts)
        chosen = select_pseudo_labels(probabilities, settings.threshold, settings.top_fraction)
        if not len(chosen) and settings.threshold:
            raise UserError(f"--self_training_threshold={settings.threshold}: the round-{r} "
                            f"teacher is not that confident on any of {len(texts)} texts; "
                            "lower it or use --self_training_top_fraction")
        if not len(chosen):
            raise UserError(f"--self_training_top_fraction={settings.top_fraction}: less "
                            f"than one of {len(texts)} texts per class; raise it or give "
                            "more --domain_data")
        os.makedirs(os.path.dirname(config.pseudo_labels), exist_ok=True)
        write_pseudo_labels(config.pseudo_labels, texts, chosen, names)
        counts = dict(zip(names, chosen.class_counts(len(names))))
        log(f"tfadapt: self-training round {r}/{len(students)}: {len(chosen)} of "
            f"{len(texts)} texts pseudo-labeled ("
            + ", ".join(f"{name} {n}" for name, n in counts.items())
            + f"; mean confidence {chosen.confidence.mean():.3f})")
        run_json = os.path.join(config.model_dir, "run.json")
        if (os.path.isfile(run_json)
                and os.path.getmtime(run_json) < os.path.getmtime(config.pseudo_labels)):
            log(f"tfadapt: {config.model_dir} learned older pseudo-labels; it trains again")
            config = dataclasses.replace(config, overwrite=True)
        summary = train(config, strategy=strategy, log=log)
        rounds.append({"round": r, "teacher": teacher_dir, "texts": len(texts),
                       "pseudo_labeled": len(chosen), "class_counts": counts,
                       "mean_confidence": float(chosen.confidence.mean()),
                       "pseudo_labels": config.pseudo_labels, "student": config.model_dir})
        teacher_dir = config.model_dir
    with open(os.path.join(root, "rounds.json"), "w") as f:
        json.dump({"settings": dataclasses.asdict(settings), "rounds": rounds}, f, indent=2)
    return summary, rounds


def student_config(student, settings, root, r):
    """The `TrainConfig` of round `r`'s student: `student` (its preset is where every
    student starts) learning round r's pseudo-labels in ROOT/round_<r>/."""
    folder = os.path.join(root, f"round_{r}")
    return dataclasses.replace(
        student, model_dir=os.path.join(folder, "student"), export_dir=None,
        pseudo_labels=os.path.join(folder, "pseudo_labels.jsonl"),
        soft_pseudo_labels=settings.soft,
        augment_copies=settings.eda_copies or student.augment_copies)


def teacher_probabilities(model_dir, texts):
    """(probabilities [texts, classes], class names) of the finished run in `model_dir`;
    predicted without dropout."""
    from tfadapt.data.readers import Examples
    from tfadapt.tasks import get_task
    from tfadapt.training.model_dir import load_trained

    model, preprocessor, labels, config = load_trained(model_dir)
    examples = Examples(list(texts), [""] * len(texts), [""] * len(texts), "unlabeled")
    import keras

    logits = get_task(config.task).predict(model, examples, preprocessor, config)
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))
    return probabilities.astype(np.float64), list(labels.names)


def write_pseudo_labels(path, texts, chosen, names):
    """Writes the chosen texts as JSON lines (atomically). A file with the same texts and
    labels and probabilities within 1e-4 is left alone, so that its age says when the
    pseudo-labels last changed (inference that is not bit-exact across runs, e.g. on
    another GPU kernel, does not make the students train again)."""
    rows = [{"text": texts[i], "label": names[c], "confidence": round(float(confidence), 6),
             "probabilities": {n: round(float(p), 6) for n, p in zip(names, row)}}
            for i, c, confidence, row in zip(chosen.indices, chosen.classes,
                                             chosen.confidence, chosen.probabilities)]
    if os.path.isfile(path) and _same_rows(path, rows):
        return
    with open(path + ".partial", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    os.replace(path + ".partial", path)


def _same_rows(path, rows):
    try:
        with open(path, encoding="utf-8") as f:
            saved = [json.loads(line) for line in f if line.strip()]
    except ValueError:
        return False
    return len(saved) == len(rows) and all(
        a["text"] == b["text"] and a["label"] == b["label"]
        and a["probabilities"].keys() == b["probabilities"].keys()
        and all(abs(a["probabilities"][n] - b["probabilities"][n]) <= 1e-4
                for n in a["probabilities"])
        for a, b in zip(saved, rows))


def read_pseudo_labels(path, names, soft=False):
    """`Examples` of a pseudo-label file, with probability rows in `names` order when
    `soft`; a UserError names the file and line of a bad row."""
    from tfadapt.data.readers import Examples

    if not os.path.isfile(path):
        raise UserError(f"--pseudo_labels={path}: no such file")
    texts, labels, sources, rows = [], [], [], []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            where = f"{path}:{number}"
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text, label, probabilities = row["text"], row["label"], row["probabilities"]
            except (ValueError, KeyError, TypeError) as e:
                raise UserError(f"--pseudo_labels: {where}: expected a JSON object with "
                                f"text, label and probabilities ({e})") from None
            if label not in names or set(probabilities) != set(names):
                raise UserError(f"--pseudo_labels: {where}: labels must be the run's "
                                f"({', '.join(names)})")
            if not str(text).strip():
                raise UserError(f"--pseudo_labels: {where}: empty text")
            texts.append(text)
            labels.append(label)
            sources.append(f"{where} (pseudo-labeled)")
            rows.append([float(probabilities[n]) for n in names])
    if not texts:
        raise UserError(f"--pseudo_labels={path}: no pseudo-labeled texts")
    return Examples(texts, labels, sources, path, soft=rows if soft else None)
