"""The termination vault: how the LM-head rows of the stop tokens (`</think>`, EOS) compare with all other rows.

A stop token whose head row has an unusually small norm gets small logits everywhere and is hard to emit (the
"vault" the Titan author probed with logit biases, spec titan.md §4c "`</think>` rank under logit bias").

Glossary: W [V, d] the LM-head weight (the tied embedding when the head is tied); r_v = ‖W_v‖₂ the norm of row v;
the percentile of row t is 100 · (#{v ≠ t : r_v < r_t} + ½ #{v ≠ t : r_v = r_t}) / (V − 1), so the smallest row is
at 0 and the largest at 100; rank = 1 + #{v : r_v < r_t} (1 = smallest). "used" statistics are the same among
the rows below the card's `mask_vocab_from` (rows a tokenizer can emit), when the card states it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from titan_eval.errors import ModelError, UsageError


def head_weight(model: nn.Module) -> Tensor:
    """W [V, d]: `model.lm_head.weight`, else the tied embedding (the `nn.Embedding` with `model.vocab_size`
    rows). `ModelError` when neither exists."""
    head = getattr(model, "lm_head", None)
    if isinstance(head, nn.Linear):
        return head.weight.detach()
    vocab = getattr(model, "vocab_size", None)
    for module in model.modules():
        if isinstance(module, nn.Embedding) and module.num_embeddings == vocab:
            return module.weight.detach()
    raise ModelError(f"{type(model).__name__} has no lm_head and no tied embedding of {vocab} rows")


def row_norms(weight: Tensor) -> Tensor:
    """W [V, d] → r [V] fp64, the L2 norm of every row."""
    return weight.double().norm(dim=-1).cpu()


def row_percentile(norms: Tensor, row: int) -> dict[str, float | int]:
    """{norm, percentile, rank} of `row` among norms [V] (module glossary)."""
    n = norms.shape[0]
    if not 0 <= row < n:
        raise UsageError(f"row {row} is outside the {n} head rows")
    if n < 2:
        raise UsageError("a percentile needs at least two rows")
    r = norms[row]
    below = int((norms < r).sum())
    ties = int((norms == r).sum()) - 1
    return {"norm": float(r), "percentile": 100.0 * (below + 0.5 * ties) / (n - 1), "rank": below + 1}


def stop_tokens(tokenizer: Any, think_close: str | None) -> dict[str, int]:
    """{piece: id} of the think closer (when the tokenizer has it as one special token) and EOS."""
    out: dict[str, int] = {}
    specials = getattr(tokenizer, "special_ids", {}) or {}
    if think_close and think_close in specials:
        out[think_close] = int(specials[think_close])
    eos = getattr(tokenizer, "eos_id", None)
    if eos is not None:
        name = next((p for p, i in specials.items() if i == eos), "EOS")
        out.setdefault(name, int(eos))
    return out


def termination_vault(model: nn.Module, tokens: dict[str, int], used_rows: int | None = None) -> dict[str, Any]:
    """Row-norm statistics of `tokens` ({piece: id}) in the model's LM head; `used_rows` = the card's
    `mask_vocab_from`, if any. Also the quantiles of all row norms (for the report)."""
    norms = row_norms(head_weight(model))
    used = norms[:used_rows] if used_rows is not None and 2 <= used_rows <= norms.shape[0] else None
    out: dict[str, Any] = {"n_rows": int(norms.shape[0]), "used_rows": None if used is None else int(used.shape[0]),
                           "tokens": {}}
    for piece, tid in tokens.items():
        entry: dict[str, Any] = {"id": tid, **row_percentile(norms, tid)}
        if used is not None and tid < used.shape[0]:
            u = row_percentile(used, tid)
            entry.update({"percentile_used": u["percentile"], "rank_used": u["rank"]})
        out["tokens"][piece] = entry
    q = torch.tensor([0.0, 0.05, 0.5, 0.95, 1.0], dtype=torch.float64)
    out["norm_quantiles"] = dict(zip(("min", "p5", "median", "p95", "max"), norms.quantile(q).tolist()))
    return out
