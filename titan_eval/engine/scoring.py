"""Scoring (context, continuation) token pairs: sum log P(continuation | context), greedy flag, token count.

Two paths, one result (up to float rounding):
- prefix reuse (recurrent models): each unique context is prefilled once; its state is branched (`select`) into
  one row per continuation, which continues from it. A context shared by k choices runs once, not k times.
- full rows (any model): each request runs as the row (context + continuation)[:-1], right-padded, sorted
  longest first. Identical requests run once.
Log-softmax is fp32; results come back in input order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from torch import Tensor

from titan_eval.engine.batching import chunks, fp32_log_softmax, pad_right
from titan_eval.errors import UsageError
from titan_eval.models.base import LanguageModel


@dataclass(frozen=True)
class ScoreRequest:
    """context [non-empty token ids], continuation [non-empty token ids]."""

    context: tuple[int, ...]
    continuation: tuple[int, ...]


@dataclass(frozen=True)
class ScoreResult:
    """Summed fp32 log-probability of the continuation, whether every token is the argmax, its token count,
    and the per-token log-probabilities."""

    logprob: float
    is_greedy: bool
    n_tokens: int
    token_logprobs: tuple[float, ...]


@dataclass
class TokenCounter:
    """Counts tokens fed to the model (all rows' real lengths), to show what prefix reuse saves."""

    tokens: int = 0
    calls: int = 0
    per_call: list[int] = field(default_factory=list)

    def add(self, lengths: Tensor) -> None:
        n = int(lengths.sum())
        self.tokens += n
        self.calls += 1
        self.per_call.append(n)


def _gather(logprobs: Tensor, targets: Sequence[int]) -> tuple[float, bool, tuple[float, ...]]:
    """logprobs [T, V] predicting targets [T] → (sum, greedy, per-token)."""
    tgt = torch.as_tensor(list(targets), device=logprobs.device)
    picked = logprobs.gather(1, tgt[:, None])[:, 0]
    greedy = bool((logprobs.argmax(-1) == tgt).all())
    per = tuple(float(x) for x in picked.double().cpu())
    return float(sum(per)), greedy, per


def _validate(requests: Sequence[ScoreRequest]) -> None:
    for i, r in enumerate(requests):
        if not r.context or not r.continuation:
            raise UsageError(f"score request {i} has an empty context or continuation")


@torch.no_grad()
def score(
    model: LanguageModel,
    requests: Sequence[ScoreRequest],
    batch_size: int = 8,
    reuse_prefix: bool = True,
    counter: TokenCounter | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[ScoreResult]:
    """Score every request; see module docstring. `progress(n)` is told as n more requests finish."""
    _validate(requests)
    if batch_size < 1:
        raise UsageError("batch size must be at least 1")
    if reuse_prefix and model.capabilities.recurrent_state:
        return _score_with_prefix_reuse(model, requests, batch_size, counter, progress)
    return _score_full_rows(model, requests, batch_size, counter, progress)


def _score_full_rows(
    model: LanguageModel, requests: Sequence[ScoreRequest], batch_size: int,
    counter: TokenCounter | None, progress: Callable[[int], None] | None,
) -> list[ScoreResult]:
    device = next(model.parameters()).device
    unique = sorted(set(requests), key=lambda r: (-(len(r.context) + len(r.continuation)), r.context + r.continuation))
    done: dict[ScoreRequest, ScoreResult] = {}
    for batch in chunks(unique, batch_size):
        rows = [(r.context + r.continuation)[:-1] for r in batch]
        ids, lengths = pad_right(rows, device)
        if counter is not None:
            counter.add(lengths)
        logprobs = fp32_log_softmax(model(ids, lengths), allow_nan=True)
        for i, r in enumerate(batch):
            start = len(r.context) - 1
            total, greedy, per = _gather(logprobs[i, start : start + len(r.continuation)], r.continuation)
            done[r] = ScoreResult(total, greedy, len(r.continuation), per)
        if progress is not None:
            progress(len(batch))
    return [done[r] for r in requests]


def _score_with_prefix_reuse(
    model: LanguageModel, requests: Sequence[ScoreRequest], batch_size: int,
    counter: TokenCounter | None, progress: Callable[[int], None] | None,
) -> list[ScoreResult]:
    device = next(model.parameters()).device
    by_context: dict[tuple[int, ...], list[int]] = {}
    for i, r in enumerate(requests):
        by_context.setdefault(r.context, []).append(i)
    contexts = sorted(by_context, key=lambda c: (-len(c), c))
    results: list[ScoreResult | None] = [None] * len(requests)
    for ctx_batch in chunks(contexts, batch_size):
        ids, lengths = pad_right(ctx_batch, device)
        if counter is not None:
            counter.add(lengths)
        logits, state = model.prefill(ids, lengths)
        last = fp32_log_softmax(logits[torch.arange(len(ctx_batch), device=device), lengths - 1], allow_nan=True)  # (b, V)
        branch_rows = [(row, i) for row, ctx in enumerate(ctx_batch) for i in by_context[ctx]]
        for group in chunks(branch_rows, batch_size * 4):
            _score_branches(model, requests, group, last, state, results, counter, device)
        if progress is not None:
            progress(len(branch_rows))
    return [r for r in results if r is not None]


def _score_branches(
    model: LanguageModel, requests: Sequence[ScoreRequest], group: Sequence[tuple[int, int]], last: Tensor,
    state, results: list, counter: TokenCounter | None, device: torch.device,
) -> None:
    """Continue the context states of `group` [(context row, request index)] over each continuation."""
    conts = [requests[i].continuation for _, i in group]
    longer = [k for k, c in enumerate(conts) if len(c) > 1]  # single-token continuations need no extra run
    tail_logprobs: dict[int, Tensor] = {}
    if longer:
        rows = torch.tensor([group[k][0] for k in longer], device=device)
        ids, lengths = pad_right([conts[k][:-1] for k in longer], device)
        if counter is not None:
            counter.add(lengths)
        logits, _ = model.prefill(ids, lengths, state.select(rows))
        logprobs = fp32_log_softmax(logits, allow_nan=True)
        tail_logprobs = {k: logprobs[j, : len(conts[k]) - 1] for j, k in enumerate(longer)}
    for k, ((row, i), cont) in enumerate(zip(group, conts)):
        first = last[row][None, :]
        lp = torch.cat([first, tail_logprobs[k]], dim=0) if k in tail_logprobs else first
        total, greedy, per = _gather(lp, cont)
        results[i] = ScoreResult(total, greedy, len(cont), per)
