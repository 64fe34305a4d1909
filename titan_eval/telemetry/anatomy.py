"""Routing anatomy per prompt category, and arm collapse (spec titan.md §2 "Telemetry", §4a, §5.11).

Usage (inside a probe; one RouteRecorder / ActivationRecorder per category, same span):

    anatomy = category_anatomy({"Geography": route_rec_geo, ...})    # {category: {layer: RouteSummary dict}}
    cos = arm_cosine_matrix(arm_mean_vectors(arm_records))             # [E, E]
    collapse_metric(cos)                                               # {"mean_off_diagonal", "max_off_diagonal"}

Glossary (spec symbols in brackets):
    w_n        route weights of recorded position n [N, E]; E arms [mimo_paths], N positions of the span
    mean_w     mean_n w_n [E], the author's `arm_weights` (but over a stated span, per category)
    pairs      fraction of positions whose top-2 arms are {i, j} [`_last_pairs`]
    H(mean_w)  entropy_of_mean, the author's `entropy`;  mean_n H(w_n) mean_token_entropy (not reported by him)
    ā_k        mean of arm k's output a_k over the span's positions [d] (the author's `_arm_snapshot` column)
    C          C_ij = cos(ā_i, ā_j) [E, E], the arm-collapse matrix; its mean off-diagonal entry is the author's
               `arm_collapse_metric` (measured on the arm outputs before the blackboard, as in the original)
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import torch
from torch import Tensor

from titan_eval.errors import UsageError
from titan_eval.telemetry.activations import ActivationRecord
from titan_eval.telemetry.routing import RouteRecorder


def category_anatomy(recorders: Mapping[str, RouteRecorder]) -> dict[str, dict[str, dict[str, Any]]]:
    """{category: {routing layer: RouteSummary.to_dict()}} from closed recorders, one per category."""
    return {cat: {layer: rec.summary(layer).to_dict() for layer in rec.layers} for cat, rec in recorders.items()}


def weight_table(anatomy: Mapping[str, Mapping[str, Mapping[str, Any]]], layer: str) -> tuple[list[str], Tensor]:
    """(categories, mean route weight [C, E]) of one layer, for the heat-map; categories with no recorded
    position are left out."""
    cats = [c for c, layers in anatomy.items() if layer in layers and layers[layer]["n_positions"] > 0]
    if not cats:
        raise UsageError(f"no category recorded routing for layer {layer!r}")
    return cats, torch.tensor([list(anatomy[c][layer]["mean_weight"]) for c in cats], dtype=torch.float64)


def pooled_pairs(anatomy: Mapping[str, Mapping[str, Mapping[str, Any]]], layer: str) -> dict[str, float]:
    """Top-2 pair frequencies of one layer over all categories, weighting each category by its positions."""
    counts: dict[str, float] = {}
    total = 0
    for layers in anatomy.values():
        summary = layers.get(layer)
        if not summary or summary["n_positions"] == 0:
            continue
        n = summary["n_positions"]
        total += n
        for pair, freq in summary["top2_pairs"].items():
            counts[pair] = counts.get(pair, 0.0) + freq * n
    return {p: c / total for p, c in sorted(counts.items(), key=lambda kv: -kv[1])} if total else {}


def arm_mean_vectors(records: Iterable[ActivationRecord], prefix: str = "arm_") -> Tensor:
    """ā [E, d]: the mean of each `arm_{k}` tap over its recorded positions (all calls pooled). `UsageError`
    when no arm tap was recorded or an arm recorded no position."""
    totals: dict[int, Tensor] = {}
    counts: dict[int, int] = {}
    for r in records:
        if not r.name.startswith(prefix) or not r.name[len(prefix):].isdigit():
            continue
        k = int(r.name[len(prefix):])
        totals[k] = totals.get(k, torch.zeros_like(r.total, dtype=torch.float64)) + r.total.double()
        counts[k] = counts.get(k, 0) + r.count
    if not totals:
        raise UsageError("no arm outputs were recorded")
    arms = sorted(totals)
    if arms != list(range(len(arms))) or any(counts[k] == 0 for k in arms):
        raise UsageError(f"arm outputs incomplete: arms {arms}, positions {[counts[k] for k in arms]}")
    return torch.stack([totals[k] / counts[k] for k in arms])


def arm_cosine_matrix(vectors: Tensor, eps: float = 1e-12) -> Tensor:
    """vectors [E, d] → C [E, E] fp64 with C_ij = ⟨v_i, v_j⟩ / (‖v_i‖ ‖v_j‖) (norms floored at `eps`)."""
    v = vectors.double()
    unit = v / v.norm(dim=-1, keepdim=True).clamp(min=eps)
    return unit @ unit.T


def collapse_metric(cos: Tensor) -> dict[str, float]:
    """Mean and max of the off-diagonal entries of C [E, E] (1 = the arms have collapsed onto one direction)."""
    n = cos.shape[0]
    if n < 2:
        raise UsageError("arm collapse needs at least two arms")
    off = cos[~torch.eye(n, dtype=torch.bool)]
    return {"mean_off_diagonal": float(off.mean()), "max_off_diagonal": float(off.max())}
