"""Adaptation methods over several seeds: mean ± std per method, and which one to export.

One fine-tuning run says little when the seed alone moves the score by a point, so
`tfadapt.adapt --seeds=N` runs every method (plain fine-tuning, "none", is the
reference) N times. `summarize` turns those runs into a report: per test set, each
method's mean ± sample std, its difference to the reference mean, and whether that
difference is beyond the seed spread (the ±1 std error bars do not overlap).
`write_report` writes it as Markdown, JSON and a PNG with error bars. The model to
export is chosen on validation scores only, never on test data.
"""

import json
import os

import numpy as np


def summarize(runs, methods, metric, lower_is_better, reference="none"):
    """The seed report (a JSON-serialisable dict) of `runs`, one dict per (method, seed):
    {"method", "seed", "status": "finished" | "failed", "error", "validation",
    "test": {test set: headline value}, "model_dir"}. Failed runs are listed, not averaged."""
    finished = [r for r in runs if r["status"] == "finished"]
    test_sets = []
    for run in finished:
        test_sets += [name for name in run["test"] if name not in test_sets]
    if "test" in test_sets:
        test_sets = ["test"] + [name for name in test_sets if name != "test"]
    rows = []
    for test_set in test_sets:
        stats = {m: _stats({r["seed"]: r["test"][test_set] for r in finished
                            if r["method"] == m and test_set in r["test"]}) for m in methods}
        ref = stats.get(reference)
        for method in methods:
            rows.append({"test_set": test_set, "method": method, **stats[method],
                         **_versus(stats[method], ref, method == reference, lower_is_better)})
    validation = {m: _stats({r["seed"]: r["validation"] for r in finished
                             if r["method"] == m and r["validation"] is not None})
                  for m in methods}
    return {
        "metric": metric, "lower_is_better": bool(lower_is_better), "reference": reference,
        "methods": list(methods), "seeds": sorted({int(r["seed"]) for r in runs}),
        "test_sets": test_sets, "rows": rows, "validation": validation,
        "failed": [{"method": r["method"], "seed": int(r["seed"]), "error": r.get("error")}
                   for r in runs if r["status"] != "finished"],
        "chosen": _choose(finished, methods, validation, lower_is_better),
    }


def _stats(values):
    """{n, values: {"seed": value}, mean, std} of {seed: value}; std is the sample std
    (ddof=1), None below two seeds; mean is None without any seed."""
    array = np.array([values[s] for s in sorted(values)], dtype=float)
    return {"n": len(array), "values": {str(s): float(values[s]) for s in sorted(values)},
            "mean": float(array.mean()) if len(array) else None,
            "std": float(array.std(ddof=1)) if len(array) > 1 else None}


def _versus(ours, ref, is_reference, lower_is_better):
    """difference to the reference mean, whether it exceeds the seed spread
    (|difference| > std + reference std), and whether it is then a gain."""
    if is_reference or ref is None or ours["mean"] is None or ref["mean"] is None:
        return {"difference": None, "exceeds_spread": None, "gain": None}
    difference = ours["mean"] - ref["mean"]
    if ours["std"] is None or ref["std"] is None:
        return {"difference": difference, "exceeds_spread": None, "gain": None}
    exceeds = bool(abs(difference) > ours["std"] + ref["std"])
    better = difference < 0 if lower_is_better else difference > 0
    return {"difference": difference, "exceeds_spread": exceeds, "gain": exceeds and better}


def _choose(finished, methods, validation, lower_is_better):
    """The method with the best mean validation score (ties: the earlier method), then its
    best-validation seed (ties: the smaller seed); None when no run has a validation score."""
    sign = -1 if lower_is_better else 1
    candidates = [(-sign * validation[m]["mean"], i, m) for i, m in enumerate(methods)
                  if validation[m]["mean"] is not None]
    if not candidates:
        return None
    method = min(candidates)[2]
    runs = [r for r in finished if r["method"] == method and r["validation"] is not None]
    best = min(runs, key=lambda r: (-sign * r["validation"], r["seed"]))
    return {"method": method, "seed": int(best["seed"]), "model_dir": best.get("model_dir"),
            "validation": float(best["validation"])}


def _cell(stats):
    if stats["mean"] is None:
        return "— (n=0)"
    spread = f" ± {stats['std']:.3f}" if stats["std"] is not None else ""
    return f"{stats['mean']:.3f}{spread} (n={stats['n']})"


def format_table(report):
    """The seed report in Markdown: test results per method, validation and the chosen
    model, failed runs, and the rule behind "beyond seed spread"."""
    ref = report["reference"]
    lines = [f"| test set | method | {report['metric']} mean ± std (n) | difference vs {ref} "
             "| beyond seed spread? |", "|---|---|---:|---:|---|"]
    for row in report["rows"]:
        difference = "—" if row["difference"] is None else f"{row['difference']:+.3f}"
        beyond = {None: "—", False: "no"}.get(row["exceeds_spread"],
                                               "yes (gain)" if row["gain"] else "yes (loss)")
        lines.append(f"| {row['test_set']} | {row['method']} | {_cell(row)} | {difference} "
                     f"| {beyond} |")
    chosen = report["chosen"]
    lines += ["", f"| method | validation {report['metric']} mean ± std (n) | exported |",
              "|---|---:|---|"]
    for method in report["methods"]:
        mark = (f"**chosen** (seed {chosen['seed']}, validation {chosen['validation']:.3f})"
                if chosen and chosen["method"] == method else "")
        lines.append(f"| {method} | {_cell(report['validation'][method])} | {mark} |")
    if chosen is None:
        lines += ["", "No run finished with a validation score: nothing to export."]
    if report["failed"]:
        lines += ["", "Failed runs: " + "; ".join(f"{f['method']} seed {f['seed']} "
                                                  f"({f['error']})" for f in report["failed"])]
    lines += ["", f"beyond seed spread: |difference| > std(method) + std({ref}), i.e. the "
                  "±1 std error bars do not overlap."]
    if report["lower_is_better"]:
        lines += ["", f"{report['metric']}: lower is better (a negative difference is a gain)."]
    return "\n".join(lines)


def write_report(report, root, name="seeds"):
    """<name>.md, .json and .png in `root`, each written atomically; returns {what: path}."""
    paths = {what: os.path.abspath(os.path.join(root, f"{name}.{ext}"))
             for what, ext in (("report", "md"), ("json", "json"), ("plot", "png"))}
    _atomic(paths["report"], lambda f: f.write(
        f"# Adaptation over seeds ({report['metric']})\n\n{format_table(report)}\n"))
    _atomic(paths["json"], lambda f: json.dump(report, f, indent=2))
    _atomic(paths["plot"], lambda f: _plot(report, f), mode="wb")
    return paths


def _atomic(path, write, mode="w"):
    """Writes through `path`.partial then renames it, so that an interrupted write leaves
    no half file under the final name."""
    partial = path + ".partial"
    with open(partial, mode) as f:
        write(f)
    os.replace(partial, path)


def _plot(report, file):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    test_sets, methods = report["test_sets"] or [None], report["methods"]
    fig, axes = plt.subplots(1, len(test_sets), figsize=(1 + 0.9 * len(methods) * len(test_sets)
                                                         + len(test_sets), 4), dpi=120,
                             squeeze=False)
    for ax, test_set in zip(axes[0], test_sets):
        rows = {r["method"]: r for r in report["rows"] if r["test_set"] == test_set}
        for x, method in enumerate(methods):
            row = rows.get(method)
            if row is None or row["mean"] is None:
                continue
            # A mean marker, not a bar from zero: the differences that matter are a few
            # points, which bars from zero would hide; the axis spans the data instead.
            ax.errorbar(x, row["mean"], yerr=row["std"] or 0, fmt="s", markersize=7,
                        capsize=6, color=f"C{x}")
            values = list(row["values"].values())
            ax.plot([x + 0.12] * len(values), values, "o", color="black", markersize=3,
                    alpha=0.7)
        ref = rows.get(report["reference"])
        if ref is not None and ref["mean"] is not None:
            ax.axhline(ref["mean"], linestyle="--", color="gray", linewidth=1,
                       label=f"{report['reference']} mean")
            ax.legend(fontsize=8)
        ax.set_xticks(np.arange(len(methods)), methods, rotation=30, ha="right")
        ax.set_xlim(-0.5, len(methods) - 0.5)
        ax.grid(axis="y", alpha=0.3)
        ax.set_ylabel(report["metric"])
        ax.set_title(test_set or "no finished runs")
    fig.tight_layout()
    fig.savefig(file, format="png")
    plt.close(fig)
