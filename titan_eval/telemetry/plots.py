"""PNG plots of the telemetry numbers (matplotlib, Agg backend, no pyplot global state).

Each function draws one figure from numbers already computed (anatomy, signal, vault, samples) and writes it to
`path`; it returns the path. Glossary: C categories, E arms, N recorded positions, V head rows.
"""

from __future__ import annotations

import os

from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)
from torch import Tensor  # noqa: E402

DPI = 110


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=DPI, format=path.suffix.lstrip(".") or "png")
    os.replace(tmp, path)  # atomic, like every result file
    return path


def routing_heatmap(categories: Sequence[str], weights: Tensor, path: Path, title: str) -> Path:
    """Heat-map of the mean route weight [C, E], category × arm, each cell annotated."""
    fig = Figure(figsize=(1.2 + 0.7 * weights.shape[1], 1.2 + 0.45 * len(categories)))
    ax = fig.subplots()
    image = ax.imshow(weights.numpy(), cmap="viridis", aspect="auto", vmin=0.0)
    ax.set_xticks(range(weights.shape[1]), [str(k) for k in range(weights.shape[1])])
    ax.set_yticks(range(len(categories)), list(categories))
    ax.set_xlabel("arm")
    for i in range(weights.shape[0]):
        for j in range(weights.shape[1]):
            ax.text(j, i, f"{float(weights[i, j]):.2f}", ha="center", va="center", fontsize=7, color="w")
    fig.colorbar(image, ax=ax, label="mean route weight")
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def pair_bars(pairs: Mapping[str, float], path: Path, title: str, top: int = 12) -> Path:
    """Bar chart of the `top` most frequent top-2 arm pairs ("i-j" → fraction of positions)."""
    items = list(pairs.items())[:top]
    fig = Figure(figsize=(max(4.0, 0.5 * len(items) + 1.5), 3.2))
    ax = fig.subplots()
    ax.bar([p for p, _ in items], [f for _, f in items], color="tab:blue")
    ax.set_xlabel("top-2 arm pair")
    ax.set_ylabel("fraction of positions")
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def cosine_matrix(cos: Tensor, path: Path, title: str) -> Path:
    """The arm-collapse matrix C [E, E] in [−1, 1], annotated."""
    fig = Figure(figsize=(1.5 + 0.55 * cos.shape[0], 1.0 + 0.5 * cos.shape[0]))
    ax = fig.subplots()
    image = ax.imshow(cos.numpy(), cmap="coolwarm", vmin=-1.0, vmax=1.0)
    n = cos.shape[0]
    ax.set_xticks(range(n), [str(k) for k in range(n)])
    ax.set_yticks(range(n), [str(k) for k in range(n)])
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{float(cos[i, j]):.2f}", ha="center", va="center", fontsize=6)
    fig.colorbar(image, ax=ax, label="cosine")
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def signal_growth(growth: Sequence[Mapping[str, Any]], path: Path, title: str) -> Path:
    """Line plot of the mean and max residual-stream norm per depth point (embedding, layer_0, …)."""
    rows = [g for g in growth if g["mean"] is not None]
    fig = Figure(figsize=(max(4.5, 0.35 * len(rows) + 2.0), 3.4))
    ax = fig.subplots()
    x = list(range(len(rows)))
    ax.plot(x, [g["mean"] for g in rows], marker="o", label="mean ‖x‖₂")
    ax.plot(x, [g["max"] for g in rows], marker="^", linestyle="--", label="max ‖x‖₂")
    ax.set_xticks(x, [g["point"].replace("layer_", "L") for g in rows], rotation=90 if len(rows) > 16 else 0,
                  fontsize=7)
    ax.set_xlabel("after")
    ax.set_ylabel("residual-stream norm")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def vault_plot(norms: Tensor, tokens: Mapping[str, Mapping[str, Any]], path: Path, title: str) -> Path:
    """Histogram of all LM-head row norms with each stop token's norm marked (and its percentile)."""
    fig = Figure(figsize=(5.5, 3.4))
    ax = fig.subplots()
    ax.hist(norms.numpy(), bins=60, color="0.6")
    colors = ("tab:red", "tab:blue", "tab:green", "tab:orange")
    for (piece, entry), color in zip(tokens.items(), colors):
        ax.axvline(entry["norm"], color=color, linewidth=2,
                   label=f"{piece} (id {entry['id']}): p{entry['percentile']:.1f}")
    ax.set_xlabel("LM-head row norm")
    ax.set_ylabel("rows")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def histogram(values: Sequence[float], path: Path, title: str, xlabel: str, bins: int = 30) -> Path:
    """A plain histogram (think lengths, answer margins)."""
    fig = Figure(figsize=(5.0, 3.2))
    ax = fig.subplots()
    ax.hist(list(values), bins=bins, color="tab:purple")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.set_title(title, fontsize=9)
    return _save(fig, path)
