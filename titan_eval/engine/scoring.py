"""Scoring (context, continuation) token pairs: sum log P(continuation | context), greedy flag, token count.

Three paths, one result (up to float rounding):
- prefix reuse (recurrent models): each unique context is prefilled once; its state is branched (`select`) into
  one row per continuation, which continues from it. A context shared by k choices runs once, not k times.
- prefix cache (`capabilities.prefix_cache`, Titan): each unique context runs the model's exactly reusable blocks
  once (`prefix_cache`); each continuation extends a branch of that cache and the non-reusable rest runs over its
  whole row (`hidden_extended`: Titan's concept perceptron sees the whole row, so nothing after it is shared).
- full rows (any model): each request runs as the row (context + continuation)[:-1], right-padded, sorted
  longest first. Identical requests run once.
Only the positions that are scored go through the LM head and the fp32 log-softmax (`target_logprobs`, using the
model's `hidden` + `head` split when it has one, a bounded block of positions at a time): a context's last
position, and each continuation's positions. The log-softmax runs in place over the head's output and the greedy
flag comes from a max pass (`pick_targets`). Continuations branch from their contexts longest first, `batch_size`
rows per run, so rows of like length are padded together. Results come back in input order. After each batch the
allocator's free pages go back to the OS (`host_memory`), so peak memory does not grow with the number of batches.
With `deterministic=True` every model call holds one request (`invariance`): bitwise the same results for any
batch size, order or companions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import torch
from torch import Tensor

from titan_eval.engine.batching import (HeadBuffer, chunks, head_logprobs, log_softmax_, logits_at, pad_right, pick_targets,
                                        target_logprobs)
from titan_eval.engine.host_memory import release_free_host_memory
from titan_eval.engine.invariance import rows_per_call
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


def _collect(logprob: Tensor, greedy: Tensor, targets: Sequence[Sequence[int]]) -> list[ScoreResult]:
    """logprob [T] fp32 and greedy [T] bool, one per continuation token, requests' tokens consecutive in request
    order → one ScoreResult per request, with a single device→host copy for the whole batch."""
    values = torch.stack([logprob.double(), greedy.double()]).cpu().tolist()
    out, at = [], 0
    for ts in targets:
        per = tuple(values[0][at : at + len(ts)])
        out.append(ScoreResult(float(sum(per)), all(values[1][at : at + len(ts)]), len(ts), per))
        at += len(ts)
    return out


def _targets(targets: Sequence[Sequence[int]], device: torch.device) -> Tensor:
    return torch.tensor([t for ts in targets for t in ts], dtype=torch.long, device=device)


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
    deterministic: bool = False,
) -> list[ScoreResult]:
    """Score every request; see module docstring. `progress(n)` is told as n more requests finish. With
    `deterministic`, one request per model call (`invariance`): `batch_size` is then ignored."""
    _validate(requests)
    if batch_size < 1:
        raise UsageError("batch size must be at least 1")
    batch_size = rows_per_call(batch_size, deterministic)
    if reuse_prefix and model.capabilities.recurrent_state:
        return _score_with_prefix_reuse(model, requests, batch_size, counter, progress)
    if reuse_prefix and model.capabilities.prefix_cache and not model.hooks_attached():
        return _score_with_prefix_cache(model, requests, batch_size, counter, progress)
    return _score_full_rows(model, requests, batch_size, counter, progress)


def _score_full_rows(
    model: LanguageModel, requests: Sequence[ScoreRequest], batch_size: int,
    counter: TokenCounter | None, progress: Callable[[int], None] | None,
) -> list[ScoreResult]:
    device = next(model.parameters()).device
    buffer = HeadBuffer()
    unique = sorted(set(requests), key=lambda r: (-(len(r.context) + len(r.continuation)), r.context + r.continuation))
    done: dict[ScoreRequest, ScoreResult] = {}
    for batch in chunks(unique, batch_size):
        rows = [(r.context + r.continuation)[:-1] for r in batch]
        ids, lengths = pad_right(rows, device)
        if counter is not None:
            counter.add(lengths)
        # only the positions that predict a continuation token go through the head and the log-softmax
        at_rows = [i for i, r in enumerate(batch) for _ in r.continuation]
        at_cols = [len(r.context) - 1 + j for r in batch for j in range(len(r.continuation))]
        conts = [r.continuation for r in batch]
        picked, greedy = target_logprobs(model, ids, lengths, torch.tensor(at_rows, device=device),
                                         torch.tensor(at_cols, device=device), _targets(conts, device),
                                         buffer=buffer)
        for r, res in zip(batch, _collect(picked, greedy, conts)):
            done[r] = res
        release_free_host_memory()  # a batch's freed blocks back to the OS: the peak stays one batch's
        if progress is not None:
            progress(len(batch))
    return [done[r] for r in requests]


def _context_batches(
    requests: Sequence[ScoreRequest], batch_size: int,
) -> list[tuple[Sequence[tuple[int, ...]], list[Sequence[tuple[int, int]]]]]:
    """Unique contexts, longest first, `batch_size` per batch; each batch with its branches [(context row, request
    index)] longest continuation first in runs of `batch_size`, so rows of like length are padded together
    (HellaSwag's endings vary 5-50 tokens; one run per context batch padded every row to the longest)."""
    by_context: dict[tuple[int, ...], list[int]] = {}
    for i, r in enumerate(requests):
        by_context.setdefault(r.context, []).append(i)
    out = []
    for ctx_batch in chunks(sorted(by_context, key=lambda c: (-len(c), c)), batch_size):
        branches = sorted(((row, i) for row, ctx in enumerate(ctx_batch) for i in by_context[ctx]),
                          key=lambda b: (-len(requests[b[1]].continuation), b))
        out.append((ctx_batch, chunks(branches, batch_size)))
    return out


def _padded_context_batches(
    requests: Sequence[ScoreRequest], batch_size: int, counter: TokenCounter | None,
    progress: Callable[[int], None] | None, device: torch.device,
) -> Iterator[tuple[Sequence[tuple[int, ...]], Tensor, Tensor, list[Sequence[tuple[int, int]]]]]:
    """`_context_batches` with each batch's contexts right-padded (ids (b, L), lengths (b,)) and counted; when the
    caller is done with a batch, its freed blocks go back to the OS (the peak stays one batch's) and its requests
    are reported to `progress`."""
    for ctx_batch, groups in _context_batches(requests, batch_size):
        ids, lengths = pad_right(ctx_batch, device)
        if counter is not None:
            counter.add(lengths)
        yield ctx_batch, ids, lengths, groups
        release_free_host_memory()
        if progress is not None:
            progress(sum(len(g) for g in groups))


def _score_with_prefix_reuse(
    model: LanguageModel, requests: Sequence[ScoreRequest], batch_size: int,
    counter: TokenCounter | None, progress: Callable[[int], None] | None,
) -> list[ScoreResult]:
    device = next(model.parameters()).device
    buffer = HeadBuffer()
    results: list[ScoreResult | None] = [None] * len(requests)
    for ctx_batch, ids, lengths, groups in _padded_context_batches(requests, batch_size, counter, progress, device):
        rows = torch.arange(len(ctx_batch), device=device)
        last_logits, state = logits_at(model, ids, lengths, rows, lengths - 1, want_state=True)  # last position only
        last = log_softmax_(last_logits)  # (b, V), shared by every branch of the batch
        for group in groups:
            _score_branches(model, requests, group, last, state, results, counter, device, buffer)
    return [r for r in results if r is not None]


def _score_with_prefix_cache(
    model: LanguageModel, requests: Sequence[ScoreRequest], batch_size: int,
    counter: TokenCounter | None, progress: Callable[[int], None] | None,
) -> list[ScoreResult]:
    """Each request's row is (context + continuation)[:-1], as in `_score_full_rows`; the context part of the
    reusable blocks runs once per unique context. `counter` counts the context and extension tokens fed."""
    device = next(model.parameters()).device
    buffer = HeadBuffer()
    results: list[ScoreResult | None] = [None] * len(requests)
    for ctx_batch, ids, lengths, groups in _padded_context_batches(requests, batch_size, counter, progress, device):
        cache = model.prefix_cache(ids, lengths)
        for group in groups:
            conts = [requests[i].continuation for _, i in group]
            ext, ext_lengths = pad_right([c[:-1] for c in conts], device)
            if counter is not None:
                counter.add(ext_lengths)
            hidden = model.hidden_extended(cache.select(torch.tensor([row for row, _ in group], device=device)),
                                           ext, ext_lengths)
            at_rows = [k for k, c in enumerate(conts) for _ in c]
            at_cols = [len(ctx_batch[row]) - 1 + j for (row, _), c in zip(group, conts) for j in range(len(c))]
            picked, greedy = head_logprobs(model, hidden[torch.tensor(at_rows, device=device),
                                                         torch.tensor(at_cols, device=device)],
                                           _targets(conts, device), buffer)
            for (_, i), res in zip(group, _collect(picked, greedy, conts)):
                results[i] = res
    return [r for r in results if r is not None]


def _score_branches(
    model: LanguageModel, requests: Sequence[ScoreRequest], group: Sequence[tuple[int, int]], last: Tensor,
    state, results: list, counter: TokenCounter | None, device: torch.device, buffer: HeadBuffer | None = None,
) -> None:
    """Continue the context states of `group` [(context row, request index)] over each continuation."""
    conts = [requests[i].continuation for _, i in group]
    # each continuation's first token is predicted by its context's last position
    first_lp, first_hit = pick_targets(last, torch.tensor([row for row, _ in group], device=device),
                                       torch.tensor([c[0] for c in conts], device=device))
    longer = [k for k, c in enumerate(conts) if len(c) > 1]  # single-token continuations need no extra run
    tail_lp, tail_hit = first_lp[:0], first_hit[:0]
    if longer:
        rows = torch.tensor([group[k][0] for k in longer], device=device)
        ids, lengths = pad_right([conts[k][:-1] for k in longer], device)
        if counter is not None:
            counter.add(lengths)
        at_rows = [j for j, k in enumerate(longer) for _ in range(len(conts[k]) - 1)]
        at_cols = [t for k in longer for t in range(len(conts[k]) - 1)]
        tail_lp, tail_hit = target_logprobs(model, ids, lengths, torch.tensor(at_rows, device=device),
                                            torch.tensor(at_cols, device=device),
                                            _targets([conts[k][1:] for k in longer], device), state.select(rows),
                                            buffer)
    # request order: its first token (entry k of the first vectors), then its tail tokens (consecutive in the
    # tail vectors, which follow the first ones; a single-token continuation has none)
    order, tail = [], len(group)
    for k, c in enumerate(conts):
        order += [k, *range(tail, tail + len(c) - 1)]
        tail += len(c) - 1
    order = torch.tensor(order, device=device)
    picked = torch.cat([first_lp, tail_lp]).index_select(0, order)
    greedy = torch.cat([first_hit, tail_hit]).index_select(0, order)
    for (_, i), res in zip(group, _collect(picked, greedy, conts)):
        results[i] = res
