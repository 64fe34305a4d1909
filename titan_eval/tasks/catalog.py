"""The tasks titan-eval knows: lm-eval tasks defined by the YAMLs in the repo's `tasks/` folder, the project's
native suites (run by their own runners on the same engine), the installed lm-eval's own catalogue, and task YAMLs
in a folder the user names with `--include-path` (names: `task_names`).

Task YAMLs are code: lm-eval's loader resolves `!function module.name` by importing Python files next to the YAML.
So lm-eval reads the project's `tasks/` folder, the folders of its own installed package that define the requested
catalogue names (trusted like any installed package), and an --include-path folder the user vouched for (the CLI
says so in a notice). A task given as a YAML path is refused before lm-eval sees it (lm-eval itself would load it).

Groups (lm-eval's, e.g. mmlu, or a group YAML under --include-path whose `task:` list may name catalogue or project
tasks) are built by lm-eval's TaskManager with their leaf tasks (`load_lm_eval_suite`); the runner runs the leaves
as tasks and aggregates the groups (`tasks.group_results`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

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


def expand_names(names: list[str], include_path: Path | None = None,
                 keep_groups: bool = False) -> dict[str, str]:
    """{task name: source} to run for `names`: catalogue tags become their tasks (each resolved again, so a project
    task of the same name wins); groups (lm-eval's catalogue groups and group YAMLs under --include-path) become
    their leaf tasks, or, with `keep_groups`, stay as themselves (their leaves checked all the same). UsageError
    for unknown names and output types `titan-eval run` does not score yet."""
    from titan_eval.tasks.task_names import CATALOGUE

    resolved = resolve_names(names, include_path)
    out: dict[str, str] = {}
    for name, source in resolved.items():
        members = group_members(name, source, include_path)
        if members is not None:
            leaves = _member_leaves(members, source, include_path)
            out.update({name: source} if keep_groups else leaves)
            continue
        if source != CATALOGUE:
            out[name] = source
            continue
        from titan_eval.tasks.catalogue_index import catalogue

        entry = catalogue()[name]
        if entry.kind == "tag":
            out.update(expand_names(list(entry.members), include_path, keep_groups))
        elif entry.kind == "task" and entry.output_type not in SUPPORTED_OUTPUT_TYPES:
            raise UsageError(f"{name} is a {entry.output_type} task; `titan-eval run` scores "
                             f"{', '.join(sorted(SUPPORTED_OUTPUT_TYPES))} tasks so far: run it with "
                             f"`lm_eval --model titan-eval`")
        else:
            out[name] = source
    return out


def group_members(name: str, source: str, include_path: Path | None) -> list[str | dict[str, Any]] | None:
    """A group's `task:` list (names, or inline configs as mappings): a catalogue group's from the index, an
    --include-path group's from its YAML; None when `name` is not a group."""
    from titan_eval.tasks.task_names import CATALOGUE, INCLUDE, include_group_members

    if source == CATALOGUE:
        from titan_eval.tasks.catalogue_index import catalogue

        entry = catalogue()[name]
        return list(entry.members) if entry.kind == "group" else None
    if source == INCLUDE and include_path is not None:
        return include_group_members(include_path, name)
    return None


def _member_leaves(members: list[str | dict[str, Any]], source: str, include_path: Path | None) -> dict[str, str]:
    """{leaf task: source} of a group's members: names resolved like any name (tags and nested groups expanded);
    an inline config's `task` name when it is known, else as a task the group itself defines (`source`); an inline
    group's own members."""
    out: dict[str, str] = {}
    for member in members:
        if isinstance(member, dict) and isinstance(member.get("group"), str):
            listed = member.get("task", [])
            out.update(_member_leaves(listed if isinstance(listed, list) else [listed], source, include_path))
            continue
        name = member.get("task") if isinstance(member, dict) else member
        if not isinstance(name, str):
            continue
        try:
            out.update(expand_names([name], include_path))
        except UsageError as err:
            if "unknown task" not in str(err):
                raise
            out[name] = source  # defined inline by the group (lm-eval builds it from the group's YAML)
    return out


def check_task_names(names: list[str], include_path: Path | None = None) -> None:
    """`UsageError` naming any unknown or unsupported task (with the closest names), before any heavy import."""
    expand_names(names, include_path)


@dataclass(frozen=True)
class LmEvalSuite:
    """What a run's lm-eval names stand for: `tasks` {leaf task name: lm-eval Task} in run order (a group's leaves
    in lm-eval's order), `groups` {group name: lm-eval Group} for every group named and every group inside one,
    and `requested_groups`, the group names the run was given (in order)."""

    tasks: Mapping[str, Any]
    groups: Mapping[str, Any] = field(default_factory=dict)
    requested_groups: tuple[str, ...] = ()

    def leaves(self, group: str) -> list[str]:
        """The leaf task names under `group`, nested groups included, in lm-eval's order."""
        return [t.task_name for t in self.groups[group].get_all_tasks()]


def _manager(include: list[Path], data_dir: str | None) -> Any:
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=[str(p) for p in include], include_defaults=False,
                       metadata={"data_dir": data_dir} if data_dir else None)


def load_lm_eval_tasks(names: list[str], data_dir: str | None, include_path: Path | None = None,
                       fewshot: "FewShot | None" = None, gen_kwargs: str | None = None) -> dict[str, Any]:
    """lm-eval Task objects {name: Task} of the leaf tasks `names` stand for (`load_lm_eval_suite`)."""
    return dict(load_lm_eval_suite(names, data_dir, include_path, fewshot, gen_kwargs).tasks)


def load_lm_eval_suite(names: list[str], data_dir: str | None, include_path: Path | None = None,
                       fewshot: "FewShot | None" = None, gen_kwargs: str | None = None) -> LmEvalSuite:
    """lm-eval's Tasks and Groups for `names` (project tasks, --include-path tasks and groups, lm-eval's
    catalogue; see the module docstring), each task read from the local release files or the Hub mirror under
    `data_dir` when present (`hub_mirror`), with the run's few-shot settings applied (`tasks.fewshot`; default:
    each task's own number, sampler seeded 0) and `--gen-kwargs` on generate_until tasks
    (`tasks.generation_settings`). Groups are built by lm-eval's `TaskManager.load` (its `groups`), so their
    leaves carry any override the group's YAML gives them. `UsageError` for a name none of them has; `DataError`
    for a task YAML that does not parse (file:line) or that lm-eval cannot build a task from."""
    from titan_eval.tasks.fewshot import FewShot, apply_fewshot
    from titan_eval.tasks.generation_settings import apply_gen_kwargs
    from titan_eval.tasks.hub_mirror import serving
    from titan_eval.tasks.task_names import NATIVE, PROJECT

    sources = expand_names(names, include_path, keep_groups=True)
    native = [n for n, s in sources.items() if s == NATIVE]
    if native:
        raise UsageError(f"{', '.join(native)}: native suites, not lm-eval tasks")
    files = lm_eval_task_files()
    for name, source in sources.items():
        if source == PROJECT:
            check_task_yaml(files[name])
    quiet_libraries()
    built: dict[str, Any] = {}
    groups: dict[str, Any] = {}
    with serving(data_dir):
        for source, folders in _source_folders(sources, include_path):
            wanted = [n for n, s in sources.items() if s == source]
            if not wanted:
                continue
            try:
                loaded = _manager(folders, data_dir).load(wanted)  # TaskManager.load: lm-eval 0.4.13
            except TitanEvalError:
                raise
            except Exception as err:  # lm-eval's config errors have no common type; the YAML or its data is at fault
                where = ", ".join(str(files[n]) for n in wanted) if source == PROJECT else \
                    ", ".join(map(str, folders))
                raise DataError(f"lm-eval cannot build {', '.join(wanted)} from {where} "
                                f"({type(err).__name__}: {one_line(err)[:300]})") from err
            built.update(loaded["tasks"])
            groups.update(loaded.get("groups") or {})
    missing = [n for n in sources if n not in built and n not in groups]
    if missing:
        raise DataError(f"lm-eval built no task named {', '.join(missing)} from its definition")
    order = [leaf for n in sources for leaf in ([t.task_name for t in groups[n].get_all_tasks()] if n in groups
                                                 else [n])]
    tasks = {n: built[n] for n in dict.fromkeys(order)}
    apply_fewshot(tasks, fewshot or FewShot(None, 0))
    apply_gen_kwargs(tasks, gen_kwargs)
    return LmEvalSuite(tasks, groups, tuple(n for n in sources if n in groups))


def _source_folders(sources: Mapping[str, str], include_path: Path | None) -> list[tuple[str, list[Path]]]:
    """(source, folders lm-eval indexes for it): the project's tasks/; the --include-path folder after the
    catalogue folders and tasks/ its groups name tasks from (later folders win a name); the catalogue folders
    that define the catalogue names."""
    from titan_eval.tasks.task_names import CATALOGUE, INCLUDE, PROJECT, catalogue_folders

    include: list[Path] = []
    if include_path is not None:
        referenced: dict[str, str] = {}
        for name in (n for n, s in sources.items() if s == INCLUDE):
            members = group_members(name, INCLUDE, include_path) or []
            referenced.update(_member_leaves(members, INCLUDE, include_path))
            referenced.update({m: "" for m in members if isinstance(m, str)})
        include = catalogue_folders(list(referenced)) + \
            ([TASKS_DIR] if PROJECT in referenced.values() else []) + [include_path]
    return [(PROJECT, [TASKS_DIR]), (INCLUDE, include),
            (CATALOGUE, catalogue_folders([n for n, s in sources.items() if s == CATALOGUE]))]


def check_task_yaml(path: Path) -> None:
    """Parse a project task YAML so a defect is a `DataError` naming the file and line; lm-eval's index would skip
    the file silently."""
    if not isinstance(read_task_yaml(path).get("task"), str):
        raise DataError(f"{path}: a task YAML must be a mapping with a `task:` name")
