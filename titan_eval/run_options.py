"""`RunOptions`: everything about a run that is not the model, and its validation.

Kept free of torch and lm-eval (task names come from the YAML files, think settings from `think_options`), so
`titan-eval run` refuses a bad task name, mode or size in a fraction of a second, before anything heavy loads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from titan_eval.errors import UsageError
from titan_eval.tasks.catalog import check_task_names
from titan_eval.tasks.generation_settings import check_gen_kwargs
from titan_eval.think_options import ThinkOptions

MODES = ("ll", "cot")


@dataclass(frozen=True)
class RunOptions:
    """Everything about a run that is not the model."""

    tasks: tuple[str, ...]
    modes: tuple[str, ...] = ("ll",)
    data_dir: str | None = None
    limit: int | None = None
    stratify: bool = False
    seed: int = 0
    batch_size: int = 8
    reuse_prefix: bool = True
    output_dir: str | None = None
    think: dict[str, Any] = field(default_factory=dict)  # ThinkOptions overrides for cot
    telemetry: bool = False  # extra mechanistic telemetry (titan_eval.telemetry.report) beside the results
    native: dict[str, Any] = field(default_factory=dict)  # options for native suites (suite/probes files, text)
    resume: bool = False  # continue the unfinished run in output_dir (also automatic when output_dir holds one)
    allow_invalid: bool = False  # score around documents with NaN/Inf log-likelihoods instead of failing (exit 3)
    deterministic: bool = False  # one request per model call: bits independent of batch_size (engine.invariance)
    include_path: str | None = None  # a user's task folder (its YAMLs may import Python from it)
    num_fewshot: int | None = None  # None: each task's own number (tasks.fewshot)
    fewshot_seed: int | None = None  # None: the run's seed
    gen_kwargs: str | None = None  # lm-eval's key=value list for generate_until tasks (tasks.generation_settings)
    system_instruction: str | None = None  # text before every lm-eval prompt, as lm-eval's --system_instruction
    apply_chat_template: bool = False  # lm-eval prompts rendered in the card's chat template (few-shot as turns)
    pass_k: tuple[int, ...] | None = None  # generate tasks with --samples K: the pass@k reported (default 1 and K)
    unsafe_code: bool = False  # code tasks: a plain rlimited subprocess instead of bubblewrap (titan_eval.code)
    code_workers: int | None = None  # code tasks: programs run at once (None: the cores); not a result's identity
    code_timeout: float | None = None  # code tasks: wall-clock seconds per program (None: code.limits.Limits')

    OPTIONAL_IDENTITY = ("deterministic", "include_path", "num_fewshot", "fewshot_seed", "gen_kwargs",
                         "system_instruction", "apply_chat_template", "pass_k", "unsafe_code", "code_timeout")
    """Named in `identity` only when set, so runs stored before these options existed still resume."""

    @property
    def engine_batch_size(self) -> int:
        """Rows per model call: `batch_size`, or 1 with `deterministic`."""
        return 1 if self.deterministic else self.batch_size

    @property
    def effective_fewshot_seed(self) -> int:
        """The sampler seed every lm-eval task gets: --fewshot-seed, else --seed."""
        return self.seed if self.fewshot_seed is None else self.fewshot_seed

    def identity(self) -> dict[str, Any]:
        """What a resumed run must share with the run it continues (everything that can change a result).
        OPTIONAL_IDENTITY fields are named only when set (on / not None)."""
        skip = {"output_dir", "resume", "allow_invalid", "code_workers"} | {
            name for name in self.OPTIONAL_IDENTITY if getattr(self, name) is None or getattr(self, name) is False}
        return {k: v for k, v in asdict(self).items() if k not in skip}

    def _check_strata(self, include: Path | None) -> None:
        """`--stratify` needs a documented stratum field for every lm-eval task it runs (`tasks.selection.STRATA`),
        or a group to stratify on its subtasks (`tasks.selection.group_selections`); refused now, before anything
        loads, naming the tasks without one."""
        from titan_eval.tasks.catalog import expand_names, group_members
        from titan_eval.tasks.task_names import NATIVE
        from titan_eval.tasks.selection import STRATA

        lacking = [n for n, source in expand_names(list(self.tasks), include, keep_groups=True).items()
                   if source != NATIVE and n not in STRATA and group_members(n, source, include) is None]
        if lacking:
            raise UsageError(f"--stratify: {', '.join(lacking)} has no documented stratum field (stratified tasks: "
                             f"{', '.join(sorted(STRATA))}; groups stratify on their subtasks); use --limit alone "
                             f"for the first N documents")

    def code_settings(self) -> Any:
        """The code tasks' `code.session.CodeSettings` from --unsafe-code, --code-workers, --code-timeout."""
        from titan_eval.code.limits import Limits
        from titan_eval.code.session import CodeSettings

        limits = Limits() if self.code_timeout is None else \
            Limits(wall_s=float(self.code_timeout), cpu_s=max(1, int(2 * self.code_timeout + 0.5)))
        return CodeSettings(unsafe=self.unsafe_code, workers=self.code_workers, limits=limits)

    def code_tasks(self) -> list[str]:
        """The tasks of this run that execute model-written code (`tasks.code_tasks`)."""
        from titan_eval.tasks.code_tasks import code_task_names

        include = Path(self.include_path) if self.include_path else None
        return code_task_names(list(self.tasks), include)

    def _check_code(self, include: Path | None) -> None:
        """Bad --code-workers / --code-timeout; and, when the run has code tasks, a sandbox that cannot run here
        (one line naming the package) — before the model loads."""
        if self.code_workers is not None and self.code_workers < 1:
            raise UsageError("--code-workers must be at least 1")
        if self.code_timeout is not None and not self.code_timeout > 0:
            raise UsageError("--code-timeout must be positive (seconds)")
        if self.code_tasks():
            from titan_eval.code.session import configure

            configure(self.code_settings())

    def validate(self) -> None:
        """`UsageError` for anything wrong that needs no model: task names, modes, sizes, think settings."""
        if not self.tasks:
            raise UsageError("name at least one task")
        if self.num_fewshot is not None and self.num_fewshot < 0:
            raise UsageError("--num-fewshot must be at least 0")
        include = Path(self.include_path) if self.include_path else None
        check_task_names(list(self.tasks), include)
        if self.gen_kwargs is not None:
            check_gen_kwargs(self.gen_kwargs)
        if self.stratify:
            self._check_strata(include)
        bad = [m for m in self.modes if m not in MODES]
        if bad or not self.modes:
            raise UsageError(f"unknown mode(s) {', '.join(bad) or '(none)'}; use ll and/or cot")
        if self.limit is not None and self.limit < 1:
            raise UsageError("--limit must be at least 1")
        k_samples = int(self.think.get("samples") or 1)
        if self.pass_k is not None and (not self.pass_k or min(self.pass_k) < 1 or max(self.pass_k) > k_samples):
            raise UsageError(f"--pass-k values must lie between 1 and --samples ({k_samples})")
        if self.apply_chat_template and "cot" in self.modes:
            raise UsageError("--apply-chat-template is for ll mode: --cot already puts every question in the card's "
                             "prompt template")
        if self.stratify and self.limit is None:
            raise UsageError("--stratify needs --limit N")
        if self.batch_size < 1:
            raise UsageError("--batch-size must be at least 1")
        self._check_code(include)
        known = {f for f in ThinkOptions.__dataclass_fields__}
        unknown = sorted(set(self.think) - known)
        if unknown:
            raise UsageError(f"unknown think option(s): {', '.join(unknown)}")
        ThinkOptions(**{k: v for k, v in self.think.items() if v is not None}).validate()
