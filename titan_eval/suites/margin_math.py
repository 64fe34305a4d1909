"""Contrastive margins: per-token NLL of continuations after a prompt, margins by hardness level, first-token rank.

Glossary (specs/helix.md §3.1):
    p, w        token ids of the prompt alone and of prompt + continuation, each tokenised whole
    k           length of the longest common prefix of p and w; context = w[:k], continuation tokens = w[k:]
                (robust to merges across the boundary). k = 0 (the first token already merged): the context is the
                EOS id alone.
    NLL(c)      mean per-token negative log-likelihood (nats) of continuation c's tokens = −log P(c | ctx) / |c|
    margin@H    min over level H's distractors d of NLL(d) − NLL(correct); > 0 means the correct continuation is
                more likely per token than every distractor of that level (`ok@H`)
    strict      ok at the hardest level present (hard > medium > easy; `wrong` for Helix probes)
    rank        1 + the number of tokens (ids below the tokenizer's size) whose log-probability at the position
                after the correct continuation's context is strictly higher than its first token's
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch

from titan_eval.engine import ScoreResult
from titan_eval.engine.batching import chunks, fp32_log_softmax, pad_right
from titan_eval.errors import DataError
from titan_eval.models.base import LanguageModel
from titan_eval.tokenizers import Tokenizer


def lcp_split(tok: Tokenizer, prompt: str, continuation: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(context ids, continuation ids) by the longest-common-prefix rule (module docstring)."""
    p, w = tok.encode(prompt), tok.encode(prompt + continuation)
    k = 0
    while k < min(len(p), len(w)) and p[k] == w[k]:
        k += 1
    ctx, cont = tuple(w[:k]), tuple(w[k:])
    if not cont:
        raise DataError(f"continuation {continuation!r} after {prompt!r} adds no tokens")
    if not ctx:
        if tok.eos_id is None:
            raise DataError(f"prompt {prompt!r} merges with its continuation at the first token and the tokenizer has no EOS to condition on")
        ctx = (tok.eos_id,)
    return ctx, cont


def mean_nll(result: ScoreResult) -> float:
    """Mean per-token NLL (nats) of a scored continuation."""
    return -result.logprob / result.n_tokens


@dataclass(frozen=True)
class Margins:
    """One probe's numbers: NLL of the correct continuation, NLL per distractor text by level, margin and ok per
    level, strict, and the rank of the correct continuation's first token."""

    nll_correct: float
    nll: Mapping[str, Mapping[str, float]]
    margin: Mapping[str, float]
    ok: Mapping[str, bool]
    hardest: str
    rank: int

    @property
    def strict(self) -> bool:
        return self.ok[self.hardest]

    def levels_named(self) -> bool:
        """False for a Helix probe, whose single level `wrong` is already `strict`/`margin`."""
        return list(self.margin) != ["wrong"]


def margins(nll_correct: float, nll_by_level: Mapping[str, Mapping[str, float]], levels: Sequence[str], rank: int) -> Margins:
    """Margins from NLLs; `levels` are the present levels, easiest first."""
    margin = {lv: min(nll_by_level[lv].values()) - nll_correct for lv in levels}
    return Margins(nll_correct, nll_by_level, margin, {lv: m > 0 for lv, m in margin.items()}, levels[-1], rank)


@torch.no_grad()
def first_token_ranks(model: LanguageModel, contexts: Sequence[tuple[int, ...]], targets: Sequence[int],
                      vocab: int, batch_size: int) -> list[int]:
    """Rank (module docstring) of `targets[i]` in the next-token distribution after `contexts[i]`, among ids < vocab."""
    device = next(model.parameters()).device
    ranks: list[int] = [0] * len(contexts)
    order = sorted(range(len(contexts)), key=lambda i: -len(contexts[i]))
    for batch in chunks(order, batch_size):
        ids, lengths = pad_right([contexts[i] for i in batch], device)
        logits = model(ids, lengths)[torch.arange(len(batch), device=device), lengths - 1]
        logp = fp32_log_softmax(logits)[:, :vocab]
        for row, i in enumerate(batch):
            ranks[i] = 1 + int((logp[row] > logp[row, targets[i]]).sum())
    return ranks
