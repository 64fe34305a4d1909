"""The tasks titan-eval knows: lm-eval tasks defined by the YAMLs in the repo's `tasks/` folder, the project's
native suites (run by their own runners on the same engine), the installed lm-eval's own catalogue, and task YAMLs
in a folder the user names with `--include-path` (names: `task_names`).

Task YAMLs are code: lm-eval's loader resolves `!function module.name` by importing Python files next to the YAML.
So lm-eval reads the project's `tasks/` folder, the folders of its own installed package that define the requested
catalogue names (trusted like any installed package), and an --include-path folder the user vouched for (the CLI
says so in a notice). A task given as a YAML path is refused before lm-eval sees it (lm-eval itself would load it).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from titan_eval.errors import DataError, TitanEvalError, UsageError
from titan_eval.paths import TASKS_DIR
from titan_eval.tasks.quiet import quiet_libraries  # noqa: F401 (re-exported)
from titan_eval.tasks.task_yaml import read_task_yaml
from titan_eval.textfiles import one_line, read_text

if TYPE_CHECKING:
    from titan_eval.tasks.fewshot import FewShot

NATIVE_TASKS: dict[str, str] = {}
"""name → 'module:function' of native task runners (filled by the suites)."""
NATIVE_TASKS.update({
    "reasoning85": "titan_eval.suites.reasoning:run_reasoning85",
    "fact_margins": "titan_eval.suites.margins:run_fact_margins",
    "bpb": "titan_eval.suites.bpb:run_bpb",
})
SHARDED_NATIVE_TASKS: frozenset[str] = frozenset({"reasoning85", "fact_margins"})
"""Native tasks whose runner takes `(loaded, options, dist)` and shards its items across ranks; the others run
on rank 0 only in a distributed run."""


@lru_cache(maxsize=1)
def lm_eval_task_files() -> dict[str, Path]:
    """{task name: YAML file} for the lm-eval tasks directly in tasks/ (each YAML's `task:` line)."""
    found: dict[str, Path] = {}
    for path in sorted(TASKS_DIR.glob("*.yaml")):
        for line in read_text(path, "task YAML").splitlines():
            if line.startswith("task:"):
                found[line.split(":", 1)[1].strip()] = path
    return found


def lm_eval_task_names() -> tuple[str, ...]:
    """Names of the lm-eval tasks under tasks/."""
    return tuple(lm_eval_task_files())


def all_task_names() -> list[str]:
    """The project's own task names (tasks/ YAMLs and native suites)."""
    return sorted(set(lm_eval_task_names()) | set(NATIVE_TASKS))


SUPPORTED_OUTPUT_TYPES = frozenset({"multiple_choice", "loglikelihood", "loglikelihood_rolling", "generate_until"})
"""lm-eval output types `titan-eval run` scores and logs per sample (all four; in --cot mode multiple choice and
generate_until, `tasks.lm_eval_run.NO_COT_TYPES`)."""


def resolve_names(names: list[str], include_path: Path | None = None) -> dict[str, str]:
    """{name: source} (`task_names.resolve`) with the project's tasks and suites first."""
    from titan_eval.tasks.task_names import resolve

    return resolve(names, include_path, project=set(lm_eval_task_names()), native=set(NATIVE_TASKS))


def expand_names(names: list[str], include_path: Path | None = None) -> dict[str, str]:
    """{task name: source} to run for `names`: catalogue tags become their tasks (each resolved again, so a project
    task of the same name wins). UsageError for unknown names, catalogue groups (their aggregation is not run by
    `titan-eval run` yet) and output types it does not score yet."""
    from titan_eval.tasks.task_names import CATALOGUE

    resolved = resolve_names(names, include_path)
    out: dict[str, str] = {}
    for name, source in resolved.items():
        if source != CATALOGUE:
            out[name] = source
            continue
        from titan_eval.tasks.catalogue_index import catalogue

        entry = catalogue()[name]
        if entry.kind == "tag":
            out.update(expand_names(list(entry.members), include_path))
        elif entry.kind == "group":
            raise UsageError(f"{name} is an lm-eval group ({len(entry.members)} parts: {', '.join(entry.members[:4])}"
                             f"{', …' if len(entry.members) > 4 else ''}); `titan-eval run` does not aggregate groups "
                             f"yet: name its tasks, or run it with `lm_eval --model titan-eval`")
        elif entry.kind == "task" and entry.output_type not in SUPPORTED_OUTPUT_TYPES:
            raise UsageError(f"{name} is a {entry.output_type} task; `titan-eval run` scores "
                             f"{', '.join(sorted(SUPPORTED_OUTPUT_TYPES))} tasks so far: run it with "
                             f"`lm_eval --model titan-eval`")
        else:
            out[name] = source
    return out


def check_task_names(names: list[str], include_path: Path | None = None) -> None:
    """`UsageError` naming any unknown or unsupported task (with the closest names), before any heavy import."""
    expand_names(names, include_path)


def _manager(include: list[Path], data_dir: str | None) -> Any:
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=[str(p) for p in include], include_defaults=False,
                       metadata={"data_dir": data_dir} if data_dir else None)


def load_lm_eval_tasks(names: list[str], data_dir: str | None, include_path: Path | None = None,
                       fewshot: "FewShot | None" = None, gen_kwargs: str | None = None) -> dict[str, Any]:
    """lm-eval Task objects {name: Task} for `names` (project tasks, --include-path tasks and lm-eval's catalogue;
    see the module docstring), each read from the local release files or the Hub mirror under `data_dir` when
    present (`hub_mirror`), with the run's few-shot settings applied (`tasks.fewshot`; default: each task's own
    number, sampler seeded 0) and `--gen-kwargs` on generate_until tasks (`tasks.generation_settings`). `UsageError` for a name none of them has; `DataError` for a task YAML that does not
    parse (file:line) or that lm-eval cannot build a task from."""
    from titan_eval.tasks.fewshot import FewShot, apply_fewshot
    from titan_eval.tasks.generation_settings import apply_gen_kwargs

    from titan_eval.tasks.hub_mirror import serving
    from titan_eval.tasks.task_names import CATALOGUE, INCLUDE, NATIVE, PROJECT, catalogue_folders

    sources = expand_names(names, include_path)
    native = [n for n, s in sources.items() if s == NATIVE]
    if native:
        raise UsageError(f"{', '.join(native)}: native suites, not lm-eval tasks")
    files = lm_eval_task_files()
    for name, source in sources.items():
        if source == PROJECT:
            check_task_yaml(files[name])
    quiet_libraries()
    plan = [(PROJECT, [TASKS_DIR]), (INCLUDE, [include_path] if include_path else []),
            (CATALOGUE, catalogue_folders([n for n, s in sources.items() if s == CATALOGUE]))]
    built: dict[str, Any] = {}
    with serving(data_dir):
        for source, folders in plan:
            wanted = [n for n, s in sources.items() if s == source]
            if not wanted:
                continue
            try:
                built.update(_manager(folders, data_dir).load(wanted)["tasks"])  # TaskManager.load: lm-eval 0.4.13
            except TitanEvalError:
                raise
            except Exception as err:  # lm-eval's config errors have no common type; the YAML or its data is at fault
                where = ", ".join(str(files[n]) for n in wanted) if source == PROJECT else \
                    ", ".join(map(str, folders))
                raise DataError(f"lm-eval cannot build {', '.join(wanted)} from {where} "
                                f"({type(err).__name__}: {one_line(err)[:300]})") from err
    missing = [n for n in sources if n not in built]
    if missing:
        raise DataError(f"lm-eval built no task named {', '.join(missing)} from its definition")
    tasks = {n: built[n] for n in sources}
    apply_fewshot(tasks, fewshot or FewShot(None, 0))
    apply_gen_kwargs(tasks, gen_kwargs)
    return tasks


def check_task_yaml(path: Path) -> None:
    """Parse a project task YAML so a defect is a `DataError` naming the file and line; lm-eval's index would skip
    the file silently."""
    if not isinstance(read_task_yaml(path).get("task"), str):
        raise DataError(f"{path}: a task YAML must be a mapping with a `task:` name")
