"""Mamba-Titan's ConceptPerceptron: a non-causal, per-row summary of the whole input, injected into the residual.

Spec: ../shared/specs/titan.md §2 step 3 and the vectors README ("ConceptPerceptron"). Glossary:
    x        the stream after the thalamic primer           [B, L, d]
    n_b      row b's real length (lengths[b]); pads never enter the summary
    C        chunk size, 1024: row b is cut into chunks [0, C), [C, 2C), ... of its *real* positions
    S        slots per chunk, 16 (`AdaptiveAvgPool1d(16)` over the sequence axis)
    P        pooling weights [B, S, L]: pooled = P @ x
    s        the scratchpad silu(cp.proj([pooled, pooled]))  [B, S, d]
    g        the injection vector cp_gate · tanh(mean_slots(s))  [B, 1, d]

Pooling bins (adaptive average pooling): for a chunk of length n, slot i (0 ≤ i < 16) is the mean over the
chunk's positions t with floor(i·n/16) ≤ t < ceil((i+1)·n/16). Bins overlap when 16 does not divide n, and a
position repeats across slots when n < 16 (n = 7: [0,1), [0,1), [0,2), [1,2), ...). Each chunk gives its 16
slots; the chunk summaries are averaged with equal weight per chunk (not by length): for n_b = 1300 the summary
is (pool(0..1023) + pool(1024..1299)) / 2. The original's "max" branch is also an average pool, so the
projection input is the pooled summary concatenated with itself, [B, 16, 2d].

Deviation, stated: the original pools over all L positions of the (unpadded) input; here every row pools over its
own real length, which is the same thing for an unpadded row and makes right-padded batches exact. The pooling is
computed as one matrix product in fp32 (summation order differs from `AdaptiveAvgPool1d` by float rounding only).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

CP_SLOTS = 16
CP_CHUNK = 1024


def pooling_weights(lengths: Tensor, max_len: int, slots: int = CP_SLOTS, chunk: int = CP_CHUNK) -> Tensor:
    """P [B, slots, max_len] fp32 such that P @ x is each row's chunk-averaged adaptive average pool over its
    first lengths[b] positions (see the module docstring for the bins). Rows of length 0 get all-zero weights."""
    device = lengths.device
    n_row = lengths.to(torch.long)[:, None, None]  # (B, 1, 1)
    t = torch.arange(max_len, device=device)[None, None, :]  # (1, 1, L)
    i = torch.arange(slots, device=device)[None, :, None]  # (1, S, 1)
    chunk_idx = t // chunk
    rel = t - chunk_idx * chunk  # position inside its chunk
    n = (n_row - chunk_idx * chunk).clamp(min=0, max=chunk)  # length of the chunk holding t, (B, 1, L)
    start = (i * n) // slots  # floor(i·n/S)
    end = -((-(i + 1) * n) // slots)  # ceil((i+1)·n/S)
    inside = (rel >= start) & (rel < end) & (t < n_row)
    size = (end - start).clamp(min=1).to(torch.float32)
    n_chunks = (-(-n_row // chunk)).clamp(min=1).to(torch.float32)  # ceil(n_b / C), equal weight per chunk
    return inside.to(torch.float32) / size / n_chunks


class ConceptPerceptron(nn.Module):
    """`cp.proj` ([d, 2d] + bias) and the pooling around it: x [B, L, d], lengths [B] → scratchpad s [B, 16, d]."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.proj = nn.Linear(2 * d_model, d_model)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        weights = pooling_weights(lengths, x.shape[1])  # (B, S, L)
        pooled = torch.einsum("bsl,bld->bsd", weights, x.float()).to(x.dtype)  # (B, S, d)
        return F.silu(self.proj(torch.cat([pooled, pooled], dim=-1)))
