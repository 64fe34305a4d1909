"""Right-padding and selected-position logits, shared by scoring and generation."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from titan_eval.errors import ModelError
from titan_eval.models.base import LanguageModel, RecurrentState


def pad_right(rows: Sequence[Sequence[int]], device: torch.device, pad_id: int = 0) -> tuple[Tensor, Tensor]:
    """Token rows → (ids [B, Lmax] long right-padded with `pad_id`, lengths [B] long)."""
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    out = torch.full((len(rows), int(lengths.max()) if len(rows) else 0), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.as_tensor(list(row), dtype=torch.long)
    return out.to(device), lengths.to(device)


def fp32_log_softmax(logits: Tensor, allow_nan: bool = False) -> Tensor:
    """log_softmax in fp32 over the last axis; `ModelError` if any logit is NaN (one sync per batch), unless
    `allow_nan` (scoring: a NaN log-prob marks its document invalid further up, by document id)."""
    out = logits.float().log_softmax(-1)
    if not allow_nan and torch.isnan(out).any():
        raise ModelError("model produced NaN logits")
    return out


def log_softmax_(logits: Tensor) -> Tensor:
    """fp32 log_softmax over the last axis, written into `logits` itself when it is already fp32 (the caller
    gives the tensor up): bitwise the same values as `log_softmax`, without a second [N, V] buffer to allocate,
    page in and write (at V = 50k the allocation cost more than the softmax). No NaN check (see `pick_targets`)."""
    out = logits.float()
    return torch.log_softmax(out, -1, out=out)


def pick_targets(logprobs: Tensor, rows: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """logprobs [N, V] fp32 → (logprobs[rows[t], targets[t]] [T] fp32, whether targets[t] is the row's argmax
    [T] bool). The argmax is lm-eval's (first index of the maximum log-prob); it is found from a max pass (5×
    cheaper than argmax on CPU) and resolved with argmax only on the rows where the target reaches the maximum,
    so ties are decided exactly as `argmax` decides them. A row with a NaN logit is NaN throughout (its
    normaliser is NaN), so a NaN value here flags it."""
    picked = logprobs[rows, targets]
    hit = picked == logprobs.amax(-1).index_select(0, rows)
    at = hit.nonzero()[:, 0]
    if at.numel():
        first = logprobs.index_select(0, rows.index_select(0, at)).argmax(-1)
        hit[at] = first == targets.index_select(0, at)
    return picked, hit


def chunks(items: Sequence, size: int) -> list[Sequence]:
    """Consecutive slices of at most `size` items."""
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]


def _hidden_at(
    model: LanguageModel, ids: Tensor, lengths: Tensor, rows: Tensor, cols: Tensor,
    state: RecurrentState | None, want_state: bool,
) -> tuple[Tensor, RecurrentState | None]:
    """`has_hidden` models: the stream entering the head at positions (rows[t], cols[t]) [T, d_model], and the
    state after each row's lengths when `want_state` or continuing `state` (else None)."""
    if want_state or state is not None:
        hidden, new_state = model.hidden(ids, lengths, state)
        return hidden[rows, cols], new_state
    return model.hidden(ids, lengths)[0][rows, cols], None


def logits_at(
    model: LanguageModel, ids: Tensor, lengths: Tensor, rows: Tensor, cols: Tensor,
    state: RecurrentState | None = None, want_state: bool = False,
) -> tuple[Tensor, RecurrentState | None]:
    """Logits [T, V] at positions (rows[t], cols[t]) of the batch ids [B, L] only, and (when `want_state`, or when
    continuing `state`) the recurrent state after each row's lengths. Models that split their head
    (`has_hidden`) project just those T positions through the LM head; others run the full forward and index."""
    if model.has_hidden:
        hidden, new_state = _hidden_at(model, ids, lengths, rows, cols, state, want_state)
        return model.head(hidden), new_state
    recurrent = want_state or state is not None
    if recurrent:
        logits, new_state = model.prefill(ids, lengths, state)
        return logits[rows, cols], new_state
    return model(ids, lengths)[rows, cols], None


HEAD_POSITIONS = 256  # positions per LM-head call when scoring: a [256, V] fp32 block (51 MB at V = 50k)


class HeadBuffer:
    """One [HEAD_POSITIONS, V] logits block reused by every head call of a scoring run. A fresh block per call
    is a new 51 MB mapping at V = 50k whose pages fault in on first write: measured on one CPU thread, the head
    matmul into a fresh tensor took 146 ms per 256 positions against 52 ms into a reused one. The block is made
    on the first call (its V and dtype are the head's, read from a one-position probe) and lives as long as this
    object; every call of at most HEAD_POSITIONS positions, the first included, writes into it, so which request
    happens to come first never changes the kernel its logits come from (`invariance`)."""

    def __init__(self) -> None:
        self.block: Tensor | None = None

    def logits(self, model: LanguageModel, hidden: Tensor) -> Tensor:
        """`model.head` of hidden [T, d] → logits [T, V]: for T ≤ HEAD_POSITIONS a view of the reused block (valid
        until the next call), else a fresh tensor."""
        n = hidden.shape[0]
        if n > HEAD_POSITIONS or n == 0:
            return model.head(hidden)
        block = self.block
        if block is None or block.device != hidden.device:
            probe = model.head(hidden[:1])  # [1, V]: the head's width and dtype
            block = self.block = torch.empty((HEAD_POSITIONS, probe.shape[-1]), dtype=probe.dtype,
                                             device=probe.device)
        return model.head(hidden, out=block[:n])


def target_logprobs(
    model: LanguageModel, ids: Tensor, lengths: Tensor, rows: Tensor, cols: Tensor, targets: Tensor,
    state: RecurrentState | None = None, buffer: HeadBuffer | None = None,
) -> tuple[Tensor, Tensor]:
    """For the positions (rows[t], cols[t]) of the batch ids [B, L]: log P(targets[t]) [T] fp32 and whether
    targets[t] is the argmax there [T] bool (see `pick_targets`), continuing `state` when given. Models that
    split their head run it `HEAD_POSITIONS` positions at a time, so the peak [positions, V] buffer is the same
    whatever the batch's lengths (scoring 2,000 documents peaks where scoring 200 does), into `buffer`'s block
    when given."""
    if not model.has_hidden:
        logits, _ = logits_at(model, ids, lengths, rows, cols, state)
        return pick_targets(log_softmax_(logits), torch.arange(len(targets), device=ids.device), targets)
    return head_logprobs(model, _hidden_at(model, ids, lengths, rows, cols, state, want_state=False)[0], targets,
                         buffer)


def head_logprobs(model: LanguageModel, hidden: Tensor, targets: Tensor,
                  buffer: HeadBuffer | None = None) -> tuple[Tensor, Tensor]:
    """`has_hidden` models: the head's input at T scored positions [T, d] → (log P(targets[t]) [T] fp32, whether
    targets[t] is the argmax [T] bool), the head and its in-place log-softmax run `HEAD_POSITIONS` positions at a
    time (into `buffer`'s reused block when given)."""
    head = buffer.logits if buffer is not None else (lambda m, h: m.head(h))
    parts = [pick_targets(log_softmax_(head(model, hidden[s : s + HEAD_POSITIONS])),
                          torch.arange(len(targets[s : s + HEAD_POSITIONS]), device=hidden.device),
                          targets[s : s + HEAD_POSITIONS])
             for s in range(0, len(targets), HEAD_POSITIONS)]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
