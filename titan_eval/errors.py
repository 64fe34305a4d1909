"""The project's one exception hierarchy. Library code raises these; only the CLI maps them to exit codes.

Exit codes (documented in README.md):
    0  ok
    1  gate regression (`titan-eval gate`)
    2  usage or input error: bad argument, unknown task/model, malformed task or data file, incomparable runs
    3  model, checkpoint or runtime error: missing/mis-shaped keys, NaN logits, missing kernel when forced
    130 / 143  a run stopped by SIGINT (Ctrl-C) / SIGTERM (`RunInterrupted`: 128 + the signal number)
"""

from __future__ import annotations

import signal
from pathlib import Path


class TitanEvalError(Exception):
    """Base class. `exit_code` is what the CLI exits with; `str(err)` is the one line it prints."""

    exit_code: int = 3


class UsageError(TitanEvalError):
    """A bad argument or an unknown name (task, model card, architecture, metric)."""

    exit_code = 2


class DataError(UsageError):
    """A malformed or missing task/data file. The message names the file and, where relevant, the line."""


class IncomparableRunsError(UsageError):
    """Two stored runs cannot be compared (different data, prompts, mode, doc sets, scorer versions)."""


class NotFoundError(UsageError):
    """A viewer path (`titan-eval view`) names no run, sample, comparison or file it serves."""


class ModelError(TitanEvalError):
    """The model could not be built or run (bad config, NaN logits, missing optional kernel)."""

    exit_code = 3


class CheckpointError(ModelError):
    """A checkpoint is missing, unreadable, untrusted, or its keys/shapes do not fit the architecture."""


class TokenizerError(ModelError):
    """The tokenizer is missing, unreadable or does not fit the model (vocab size, special tokens)."""


class GateRegression(TitanEvalError):
    """Raised by the gate when a metric fell significantly by more than the allowed drop."""

    exit_code = 1


class RankFailure(ModelError):
    """Another process of a distributed run (or this one) failed; every rank stops. The message names the failed
    rank(s) and the first error; the exit code is that error's."""

    def __init__(self, message: str, exit_code: int = 3) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class RunInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a run (`titan_eval.interrupts`). Deliberately a `KeyboardInterrupt`, not a
    `TitanEvalError`: no `except Exception` in library code or lm-eval may swallow it. `run_dir` is the run folder
    the runner marked `interrupted` (None when the signal came before it existed)."""

    def __init__(self, signum: int, run_dir: Path | None = None) -> None:
        self.signum = signum
        self.run_dir = run_dir
        super().__init__(f"interrupted by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports it: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum
