"""Data-parallel runs under the launchers users already have (`torchrun`, `accelerate launch`): who this process
is, its share of the documents, and how ranks exchange lines and failures.

Glossary:
    rank        this process's index in the run, 0 .. world_size-1 (env `RANK`); rank 0 writes and prints
    local_rank  its index on its node (env `LOCAL_RANK`): the CUDA device it uses
    world_size  processes in the run (env `WORLD_SIZE`); 1 when no launcher set it
    cost        a document's work in tokens (prompt + every choice), used to balance shards
    round       one chunk of documents per rank, ended by an exchange: each rank's status and lines reach every
                rank, and a failed rank fails them all (`RankFailure`)

The process group is NCCL when this rank runs on CUDA, gloo otherwise; `MASTER_ADDR` / `MASTER_PORT` come from
the launcher (`env://`). Nothing here prints.
"""

from __future__ import annotations

import heapq
import os
import signal
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import torch

from titan_eval.errors import RankFailure, TitanEvalError


@dataclass(frozen=True)
class Dist:
    """This process's place in a (possibly single-process) run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None  # "gloo" | "nccl" once a process group is up; None for a single process

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes the run and prints."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """More than one process takes part."""
        return self.world_size > 1

    def device(self, requested: str | None) -> str | None:
        """The device this rank should use: `cuda:LOCAL_RANK` for a default or bare `cuda` request in a
        multi-process run with CUDA; otherwise what was requested (None lets loading choose)."""
        if self.active and requested in (None, "cuda") and torch.cuda.is_available():
            return f"cuda:{self.local_rank}"
        return requested

    def to_dict(self) -> dict[str, Any]:
        return {"world_size": self.world_size, "backend": self.backend}


SINGLE = Dist()


def from_env() -> Dist:
    """The launcher's view of this process (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`), without starting anything."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return SINGLE
    return Dist(rank=int(os.environ.get("RANK", "0")), world_size=world,
                local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def init(device: str | None = None) -> Dist:
    """Join the launcher's process group (once per process); `SINGLE` when there is no launcher.

    With CUDA (and no CPU device asked for) the backend is NCCL and this rank's CUDA device is set to
    `cuda:LOCAL_RANK`; otherwise gloo. SIGTERM (sent by torchrun to the surviving ranks when one dies) becomes
    `SystemExit`, so the runner can still mark the run as failed."""
    import torch.distributed as td

    dist = from_env()
    if not dist.active:
        return dist
    on_cuda = torch.cuda.is_available() and not (device or "").startswith("cpu")
    backend = "nccl" if on_cuda else "gloo"
    if on_cuda:
        torch.cuda.set_device(dist.local_rank)
    if not td.is_initialized():
        td.init_process_group(backend=backend, init_method="env://", rank=dist.rank, world_size=dist.world_size)
        signal.signal(signal.SIGTERM, _terminated)
    return Dist(dist.rank, dist.world_size, dist.local_rank, td.get_backend())


def _terminated(signum: int, frame: Any) -> None:
    raise SystemExit(f"terminated by the launcher (signal {signum}): another rank of the run failed")


@contextmanager
def session(device: str | None = None) -> Iterator[Dist]:
    """`init()` for the length of a command; the process group is torn down afterwards."""
    dist = init(device)
    try:
        yield dist
    finally:
        if dist.active:
            import torch.distributed as td

            if td.is_initialized():
                td.destroy_process_group()


def partition(doc_ids: Sequence[Any], costs: Sequence[int], world_size: int) -> list[list[Any]]:
    """`doc_ids` cut into `world_size` shards (shard r is rank r's), each in `doc_ids` order: greedy
    longest-processing-time assignment of `costs` (the costliest document goes to the least loaded rank; ties
    by position in `doc_ids`, then by lowest rank).

    Deterministic for a given (doc_ids, costs, world_size), so every rank computes the same partition; the
    shards are disjoint, cover `doc_ids`, and their total costs differ by at most the largest single cost."""
    if len(doc_ids) != len(costs):
        raise ValueError("one cost per document")
    world_size = max(1, world_size)
    loads = [(0, r) for r in range(world_size)]  # (tokens so far, rank): a heap
    owned: list[list[int]] = [[] for _ in range(world_size)]
    for pos in sorted(range(len(doc_ids)), key=lambda i: (-int(costs[i]), i)):
        load, owner = heapq.heappop(loads)
        heapq.heappush(loads, (load + int(costs[pos]), owner))
        owned[owner].append(pos)
    return [[doc_ids[i] for i in sorted(positions)] for positions in owned]


def shard(doc_ids: Sequence[Any], costs: Sequence[int], rank: int, world_size: int) -> list[Any]:
    """Rank `rank`'s shard of `partition(doc_ids, costs, world_size)`."""
    return partition(doc_ids, costs, world_size)[rank]


@dataclass(frozen=True)
class RankStatus:
    """What a rank reports at the end of a round: None on success, else its error."""

    rank: int
    error: str  # "<Type>: <message>"
    exit_code: int


def exchange(dist: Dist, payload: Any, error: BaseException | None = None) -> list[Any]:
    """End a round: every rank's `payload` (in rank order) reaches every rank — unless some rank passes an
    `error`, in which case every rank raises `RankFailure` naming the failed rank(s) and the first message.

    Must be called by all ranks the same number of times. A single process gets `[payload]` back (or its own
    error re-raised)."""
    if not dist.active:
        if error is not None:
            raise error
        return [payload]
    import torch.distributed as td

    status = None
    if error is not None:
        code = error.exit_code if isinstance(error, TitanEvalError) else 3
        status = RankStatus(dist.rank, f"{type(error).__name__}: {error}", code)
    gathered: list[Any] = [None] * dist.world_size
    td.all_gather_object(gathered, (status, payload))
    failed = [s for s, _ in gathered if s is not None]
    if failed:
        first = failed[0]
        ranks = ", ".join(str(s.rank) for s in failed)
        raise RankFailure(f"rank {ranks} of {dist.world_size} failed, so the run stopped on every rank: "
                          f"{first.error}", exit_code=first.exit_code) from error
    return [p for _, p in gathered]


def map_shards(dist: Dist, items: Sequence[Any], costs: Sequence[int],
               fn: Callable[[list[Any]], Sequence[Any]]) -> list[Any]:
    """`fn` (items → one result per item, same order) over all `items`, one round: this rank runs `fn` on its
    shard (`partition` by `costs`; possibly empty, `fn` is still called), and every rank gets every result in
    `items` order. A failure of `fn` on any rank raises `RankFailure` on all (see `exchange`)."""
    if not dist.active:
        return list(fn(list(items)))
    shards = partition(list(range(len(items))), costs, dist.world_size)
    mine, error = [], None
    try:
        mine = list(fn([items[i] for i in shards[dist.rank]]))
    except Exception as err:  # reported to every rank by `exchange`
        error = err
    results: list[Any] = [None] * len(items)
    for positions, part in zip(shards, exchange(dist, mine, error)):
        for i, value in zip(positions, part):
            results[i] = value
    return results


def broadcast(dist: Dist, value: Any) -> Any:
    """Rank 0's `value` on every rank."""
    if not dist.active:
        return value
    import torch.distributed as td

    box = [value if dist.is_main else None]
    td.broadcast_object_list(box, src=0)
    return box[0]


def all_gather_tensor(dist: Dist, tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's `tensor` concatenated in rank order (0-d tensors are stacked), as lm-eval's `all_gather`."""
    if not dist.active:
        return tensor
    import torch.distributed as td

    parts = [torch.empty_like(tensor) for _ in range(dist.world_size)]
    td.all_gather(parts, tensor.contiguous())
    return torch.stack(parts) if tensor.dim() == 0 else torch.cat(parts)


def gather_object(dist: Dist, obj: Any, dst: int = 0) -> list[Any] | None:
    """Every rank's `obj` on rank `dst` (rank order); None on the other ranks."""
    if not dist.active:
        return [obj]
    import torch.distributed as td

    out: list[Any] | None = [None] * dist.world_size if dist.rank == dst else None
    td.gather_object(obj, out, dst=dst)
    return out


def barrier(dist: Dist) -> None:
    """Wait for every rank."""
    if dist.active:
        import torch.distributed as td

        td.barrier()
