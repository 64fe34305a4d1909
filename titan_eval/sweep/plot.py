"""One PNG per (key, metric): the value against the step with its 95% CI as a band (matplotlib, Agg), written to
`<sweep>/plots/<key>__<metric>.png` at WIDTH × HEIGHT pixels."""

from __future__ import annotations

from pathlib import Path

from titan_eval.output_dir import sanitise_name
from titan_eval.sweep.trend import Trend

WIDTH, HEIGHT, DPI = 800, 500, 100


def plot_trend(trend: Trend, folder: Path) -> list[Path]:
    """Write the plots; returns their paths in the table's column order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for key, metric in trend.metrics():
        rows = [v for v in trend.values if (v.key, v.metric) == (key, metric)]
        steps = [v.step for v in rows]
        fig, ax = plt.subplots(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
        ax.plot(steps, [v.value for v in rows], marker="o", label=metric)
        banded = [v for v in rows if v.ci_low is not None and v.ci_high is not None]
        if banded:
            ax.fill_between([v.step for v in banded], [v.ci_low for v in banded], [v.ci_high for v in banded],
                            alpha=0.25, label=f"{round(100 * (1 - trend.alpha))}% CI")
        ax.set_xlabel("training step")
        ax.set_ylabel(metric)
        ax.set_title(f"{key} {metric}")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best")
        path = folder / f"{sanitise_name(key)}__{sanitise_name(metric)}.png"
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        out.append(path)
    return out
