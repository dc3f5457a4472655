"""Write evaluation reports (JSON + a PNG of where the model fails) and the end-of-run table."""

import json
import os


def write_json(report, out_dir):
    """Writes report.json into `out_dir`; returns its path."""
    os.makedirs(out_dir, exist_ok=True)
    json_path = os.path.join(out_dir, "report.json")
    with open(json_path, "w") as f:
        json.dump(report, f, indent=2)
    return json_path


def write_report(report, out_dir):
    """Writes report.json and confusion_matrix.png into `out_dir`; returns their paths."""
    json_path = write_json(report, out_dir)
    png_path = os.path.join(out_dir, "confusion_matrix.png")
    plot_confusion_matrix(report["model"]["confusion_matrix"], png_path,
                          title=f"{report['data']} — macro-F1 {report['model']['macro_f1']:.3f}")
    return json_path, png_path


def plot_confusion_matrix(confusion, path, title=""):
    """A labeled heat map with counts and row-normalised shares in each cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = confusion["labels"]
    matrix = np.asarray(confusion["matrix"], dtype=np.float64)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = max(4.5, 0.9 * len(labels) + 2.5)
    fig, ax = plt.subplots(figsize=(size, size * 0.9), dpi=120)
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{int(matrix[i, j])}\n{shares[i, j]:.0%}", ha="center", va="center",
                    color="white" if shares[i, j] > 0.5 else "black", fontsize=9)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_per_label(per_label, path, title=""):
    """Horizontal bars of precision, recall and F1 per label (or entity type)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(per_label)
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.45 * len(names)), dpi=120)
    for offset, key in zip((-0.27, 0, 0.27), ("precision", "recall", "f1")):
        ax.barh(y + offset, [per_label[n][key] for n in names], height=0.26, label=key)
    ax.set_yticks(y, [f"{n} ({per_label[n]['support']})" for n in names])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def format_summary(report, paths):
    """The short table printed at the end of a classification run.

    Args:
        report: a classification report (see `tasks.classification`).
        paths: ordered mapping of what was written where, e.g. {"model": …, "export": …}.
    """
    model, baseline = report["model"], report["baseline"]
    rows = [("macro-F1", model["macro_f1"], baseline["macro_f1"]),
            ("accuracy", model["accuracy"], baseline["accuracy"])]
    rows += [(f"F1 {name}", stats["f1"], baseline["per_class"][name]["f1"])
             for name, stats in model["per_class"].items()]
    return format_table(f"Evaluation on {report['data']} ({model['examples']} examples)", rows,
                        "majority baseline", paths,
                        f"(the baseline always predicts {baseline['predicts']!r})")


def format_table(title, rows, baseline_name, paths, note=None):
    """Aligned `name  model  baseline` rows under `title`, then a note and the paths."""
    width = max(len(r[0]) for r in rows) + 2
    lines = [title, f"  {'':<{width}}{'model':>8}  {baseline_name:>18}"]
    lines += [f"  {name:<{width}}{ours:>8.3f}  {base:>18.3f}" for name, ours, base in rows]
    if note:
        lines.append(f"  {note}")
    key_width = max(len(k) for k in paths) + 1
    lines += [f"  {key + ':':<{key_width}} {value}" for key, value in paths.items()]
    return "\n".join(lines)
