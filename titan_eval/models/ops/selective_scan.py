"""Selective scan (Mamba's S6 recurrence), pure PyTorch, chunked.

Glossary (Gu & Dao 2023, "Mamba", Alg. 2):
    u      x_t, the SSM input                       [Bt, D, L]
    delta  Δ_t, the positive step size (after softplus) [Bt, D, L]
    A      A, the (negative) diagonal state matrix  [D, N]
    B, C   B_t, C_t, input-dependent projections    [Bt, N, L]
    D      D, the skip connection                   [D]
    h      h_t, the hidden state                    [Bt, D, N]

    h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t x_t,   y_t = C_t · h_t + D x_t

A step with Δ_t = 0 leaves h unchanged and adds nothing, which is how right-padding is made exact.
Mamba-2's SSD with per-head scalar A and Δ is the same recurrence with A and Δ broadcast over each head's channels.

Kernel twin: `mamba_ssm.ops.selective_scan_interface.selective_scan_fn` (see `kernels.py`).

Two implementations, both exact (fp32) and checked against the fp64 definition by tests:
`selective_scan_fused` (CPU default) steps through time in cache-sized blocks of preallocated buffers, one fused
in-place op per step; the two-level chunked scan (other devices without the kernel, or an explicit `chunk_size`) trades
materialised [Bt, D, L, N] intermediates for O(√L) Python iterations, which suits kernel-launch-bound GPUs.

Two-level chunked scan (exact, stable): the sequence is cut into chunks of T ≈ √L steps. Pass 1 runs the
recurrence from h = 0 inside every chunk at once (T vectorised steps over all chunks); pass 2 carries the true
state across chunk boundaries (L/T steps); the result adds each chunk's start state times the running product
of decays, h_t = local_t + (Π_{r≤t} exp(Δ_r A)) ⊙ h_start. Only products of decays ≤ 1 appear, so nothing
overflows, and Python loops run O(√L) times instead of L. Channels are processed in blocks to bound memory.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

MAX_BLOCK_ELEMENTS = 1 << 24  # per [Bt, D_block, L, N] tensor


def selective_scan_ref(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    h0: Tensor | None = None,
    chunk_size: int | None = None,
    cpu_kernel: bool = True,
) -> tuple[Tensor, Tensor]:
    """Run the scan in fp32. Returns (y [Bt, D, L] in u's dtype, h_last [Bt, D, N] fp32).

    On CPU, without an explicit `chunk_size` and when no input needs gradients: the compiled kernel
    (`cpu_scan`, when `cpu_kernel` and it builds), else the fused time-major loop; otherwise (other devices,
    `chunk_size` given, autograd) the two-level chunked scan."""
    tracked = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (u, delta, A, B, C, D, h0))
    if chunk_size is None and not u.is_cuda and not tracked:  # both write in place: no autograd
        from titan_eval.models.ops import cpu_scan

        if cpu_kernel and u.device.type == "cpu" and cpu_scan.available():
            return cpu_scan.cpu_scan(u, delta, A, B, C, D, h0)
        return selective_scan_fused(u, delta, A, B, C, D, h0)
    batch, channels, length = u.shape
    n_state = A.shape[1]
    h_init = torch.zeros(batch, channels, n_state, device=u.device) if h0 is None else h0.float()
    if length == 0:
        return u.new_zeros(batch, channels, 0), h_init
    T = chunk_size or max(1, int(math.ceil(math.sqrt(length))))
    block = max(1, MAX_BLOCK_ELEMENTS // max(1, batch * length * n_state))
    ys, hs = [], []
    for c0 in range(0, channels, block):
        sl = slice(c0, min(channels, c0 + block))
        y, h = _scan_block(u[:, sl].float(), delta[:, sl].float(), A[sl].float(), B.float(), C.float(), h_init[:, sl], T)
        ys.append(y)
        hs.append(h)
    y = torch.cat(ys, dim=1)
    if D is not None:
        y = y + u.float() * D.float()[None, :, None]
    return y.to(u.dtype), torch.cat(hs, dim=1)


def _scan_block(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, h0: Tensor, T: int) -> tuple[Tensor, Tensor]:
    """fp32 inputs for one channel block → (y [Bt, d, L] without the D skip, h_last [Bt, d, N])."""
    batch, channels, length = u.shape
    n_chunks = -(-length // T)
    pad = n_chunks * T - length
    decay = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))  # exp(Δ A) ∈ (0, 1]
    drive = torch.einsum("bdl,bnl->bdln", delta * u, B)  # Δ B x
    if pad:  # identity steps: decay 1, drive 0
        decay = torch.cat([decay, decay.new_ones(batch, channels, pad, decay.shape[-1])], dim=2)
        drive = torch.cat([drive, drive.new_zeros(batch, channels, pad, drive.shape[-1])], dim=2)
        C = torch.cat([C, C.new_zeros(batch, C.shape[1], pad)], dim=2)
    decay = decay.view(batch, channels, n_chunks, T, -1)  # (Bt, d, nC, T, N)
    drive = drive.view(batch, channels, n_chunks, T, -1)
    local = torch.empty_like(drive)
    h = torch.zeros_like(drive[:, :, :, 0])  # (Bt, d, nC, N)
    for t in range(T):  # pass 1: every chunk from zero state, all chunks at once
        h = decay[:, :, :, t] * h + drive[:, :, :, t]
        local[:, :, :, t] = h
    running = decay.cumprod(dim=3)  # Π decay within the chunk up to t
    starts = torch.empty_like(local[:, :, :, 0])
    carry = h0
    for c in range(n_chunks):  # pass 2: true state at each chunk start
        starts[:, :, c] = carry
        carry = running[:, :, c, -1] * carry + local[:, :, c, -1]
    states = local + running * starts[:, :, :, None, :]  # (Bt, d, nC, T, N)
    y = torch.einsum("bdctn,bnct->bdct", states, C.view(batch, C.shape[1], n_chunks, T))
    return y.reshape(batch, channels, -1)[:, :, :length], carry


FUSED_BLOCK_ELEMENTS = 1 << 19  # per [K, Bt, D, N] block buffer (2 MiB fp32): cache-sized, reused (BENCHMARKS.md)


def selective_scan_fused(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None = None, h0: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """The recurrence in time order, K steps at a time, in two preallocated [K, Bt, D, N] buffers reused for every
    block: per block exp(Δ A) and Δ B x for its K steps (vectorised), then h_t = decay_t h_{t-1} + drive_t in place
    (one fused op per step), then y = C · h for the K steps as one batched matmul. Nothing of size [Bt, D, L, N] is
    materialised (the chunked scan is memory-bound on such intermediates on CPU) and nothing is allocated per
    block. fp32, exact: the definition's order of operations."""
    batch, channels, length = u.shape
    n_state = A.shape[1]
    h = torch.zeros(batch, channels, n_state, device=u.device) if h0 is None else h0.float().clone()
    if length == 0:
        return u.new_zeros(batch, channels, 0), h
    A32 = A.float()
    delta32 = delta.float()
    steps = delta32.permute(2, 0, 1).unsqueeze(-1)  # Δ, (L, Bt, D, 1)
    drive_in = (delta32 * u.float()).permute(2, 0, 1).unsqueeze(-1)  # Δ x, (L, Bt, D, 1)
    b_t = B.float().permute(2, 0, 1).unsqueeze(2)  # (L, Bt, 1, N)
    c_t = C.float().permute(2, 0, 1).unsqueeze(3).contiguous()  # (L, Bt, N, 1)
    K = max(1, min(length, FUSED_BLOCK_ELEMENTS // max(1, batch * channels * n_state)))
    decay = torch.empty(K, batch, channels, n_state, device=u.device)
    states = torch.empty(K, batch, channels, n_state, device=u.device)
    ys = torch.empty(length, batch, channels, 1, device=u.device)
    for s0 in range(0, length, K):
        k = min(K, length - s0)
        dec, st = decay[:k], states[:k]
        torch.mul(steps[s0 : s0 + k], A32, out=dec)
        dec.exp_()
        torch.mul(drive_in[s0 : s0 + k], b_t[s0 : s0 + k], out=st)
        st[0].addcmul_(dec[0], h)
        for t in range(1, k):
            st[t].addcmul_(dec[t], st[t - 1])
        torch.matmul(st.view(k * batch, channels, n_state), c_t[s0 : s0 + k].view(k * batch, n_state, 1),
                     out=ys[s0 : s0 + k].view(k * batch, channels, 1))
        h = st[k - 1].clone()
    y = ys[..., 0].permute(1, 2, 0)
    if D is not None:
        y = y + u.float() * D.float()[None, :, None]
    return y.to(u.dtype), h


def selective_scan_sequential(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None = None, h0: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """The same recurrence one step at a time (the definition; used by tests as the oracle)."""
    batch, channels, length = u.shape
    h = torch.zeros(batch, channels, A.shape[1], dtype=torch.float64) if h0 is None else h0.double()
    ys = []
    for t in range(length):
        dt = delta[:, :, t].double()
        h = torch.exp(dt[..., None] * A.double()) * h + (dt * u[:, :, t].double())[..., None] * B[:, None, :, t].double()
        ys.append((h * C[:, None, :, t].double()).sum(-1))
    y = torch.stack(ys, dim=2)
    if D is not None:
        y = y + u.double() * D.double()[None, :, None]
    return y, h
