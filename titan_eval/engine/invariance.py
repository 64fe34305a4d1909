"""Batch-invariant (deterministic) scoring and generation: one request per model call.

The batched paths give a request the same log-likelihood for any batch size only up to float rounding (measured
up to ~1e-5 on ARC-Easy with the tiny cards): its bits depend on its batch companions because
- CPU fp32 matmuls (MKL / oneDNN) choose kernels and blocking by the row count M = rows · positions of the call;
- right-padding to the batch's longest row changes tensor shapes, hence reduction blocking, in attention and
  softmax;
- the selective scan picks its chunk sizes from B·D·L;
- MoE experts run one matmul over all tokens routed to them from the whole batch;
- prefix reuse groups continuations `batch_size` at a time, and the LM head projects up to `HEAD_POSITIONS`
  gathered positions of several requests per call;
- cot traces are generated in batches (a greedy argmax near-tie could flip).

With `deterministic=True` the engine runs every model call on one request only: a unique context's forward
(batch of one, no padding; a context shared by several continuations still runs once, which is the same
computation), then each continuation from that context's state (batch of one), the head over that request's own
positions only, and generation one prompt at a time (sampling seeded per prompt, as always). Every tensor a
request's numbers pass through then has a shape and content fixed by that request alone, so its bits cannot
depend on `batch_size`, on which requests are scored beside it, in what order, or on how documents are split
across ranks — on one machine, with one torch build and thread count. `tests/test_batch_invariance.py` checks it
bit for bit on every tiny card; the cost against the batched path is in BENCHMARKS.md (issue 23).

This is exactly the batched path at batch size 1 (the same functions run), so `--batch-size 1` gives the same
bits as `--deterministic` with any batch size.
"""

from __future__ import annotations

DETERMINISTIC_ROWS = 1
"""Rows per model call in deterministic mode."""


def rows_per_call(batch_size: int, deterministic: bool) -> int:
    """The batch size the engine uses: `batch_size`, or one request per call when `deterministic`."""
    return DETERMINISTIC_ROWS if deterministic else batch_size
