"""The chunked reference scan equals the step-by-step definition; padding and continuation are exact."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from titan_eval.models.ops.conv import causal_conv1d_ref
from titan_eval.models.ops.selective_scan import selective_scan_ref, selective_scan_sequential


def _inputs(batch: int, channels: int, length: int, n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, channels, length, generator=g)
    delta = torch.rand(batch, channels, length, generator=g) * 2.0
    A = -torch.rand(channels, n, generator=g) * 20.0  # strong decays: a naive cumsum scan would overflow
    B = torch.randn(batch, n, length, generator=g)
    C = torch.randn(batch, n, length, generator=g)
    D = torch.randn(channels, generator=g)
    return u, delta, A, B, C, D


@settings(max_examples=25, deadline=None)
@given(length=st.integers(1, 70), chunk=st.sampled_from([None, 1, 3, 16]), seed=st.integers(0, 10_000))
def test_chunked_scan_matches_sequential(length: int, chunk: int | None, seed: int) -> None:
    u, delta, A, B, C, D = _inputs(2, 5, length, 4, seed)
    h0 = torch.randn(2, 5, 4)
    y, h = selective_scan_ref(u, delta, A, B, C, D, h0=h0, chunk_size=chunk)
    y_ref, h_ref = selective_scan_sequential(u, delta, A, B, C, D, h0=h0)
    assert torch.isfinite(y).all()
    assert (y.double() - y_ref).abs().max() < 1e-4
    assert (h.double() - h_ref).abs().max() < 1e-4


def test_zero_delta_steps_carry_state_unchanged() -> None:
    u, delta, A, B, C, D = _inputs(1, 3, 10, 4, 1)
    _, h_short = selective_scan_ref(u[:, :, :6], delta[:, :, :6], A, B[:, :, :6], C[:, :, :6], D)
    delta_pad = delta.clone()
    delta_pad[:, :, 6:] = 0.0
    _, h_padded = selective_scan_ref(u, delta_pad, A, B, C, D)
    assert torch.allclose(h_short, h_padded, atol=1e-6)


def test_split_scan_equals_whole() -> None:
    u, delta, A, B, C, D = _inputs(2, 4, 30, 3, 2)
    y, h = selective_scan_ref(u, delta, A, B, C, D)
    y1, h1 = selective_scan_ref(u[..., :13], delta[..., :13], A, B[..., :13], C[..., :13], D)
    y2, h2 = selective_scan_ref(u[..., 13:], delta[..., 13:], A, B[..., 13:], C[..., 13:], D, h0=h1)
    assert torch.allclose(torch.cat([y1, y2], -1), y, atol=1e-5)
    assert torch.allclose(h2, h, atol=1e-5)


def test_conv_window_continuation_and_padding() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 6, 12, generator=g)
    w, b = torch.randn(6, 1, 4, generator=g), torch.randn(6, generator=g)
    full, _ = causal_conv1d_ref(x, w, b, None, torch.tensor([12, 12]))
    first, window = causal_conv1d_ref(x[..., :5], w, b, None, torch.tensor([5, 5]))
    second, _ = causal_conv1d_ref(x[..., 5:], w, b, window, torch.tensor([7, 7]))
    assert torch.allclose(torch.cat([first, second], -1), full, atol=1e-6)
    # right-padded row: the window holds its last 3 *real* inputs
    _, win_pad = causal_conv1d_ref(x, w, b, None, torch.tensor([12, 5]))
    assert torch.equal(win_pad[1], x[1, :, 2:5])
