"""Which task a name means: the project's own (tasks/ YAMLs and native suites: they win a clash), a task folder
the user named with `--include-path`, or the installed lm-eval's catalogue (`catalogue_index`). Resolution reads
names only — no lm-eval import — so a bad name is refused before anything heavy loads.

Sources: "project" (a YAML directly in tasks/), "native" (a suite run by titan-eval's own runner), "include" (a YAML
under an --include-path folder), "catalogue" (lm-eval's bundled tasks, groups and tags).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Sequence

from titan_eval.errors import DataError, UsageError
from titan_eval.tasks.task_yaml import read_task_yaml

PROJECT, NATIVE, INCLUDE, CATALOGUE = "project", "native", "include", "catalogue"


def include_names(folder: Path) -> dict[str, Path]:
    """{task, group or tag name: YAML} for the task YAMLs under a user's folder (read as data: nothing imported).
    DataError for a folder that does not exist or a YAML that does not parse (file:line)."""
    if not folder.is_dir():
        raise DataError(f"--include-path {folder}: not a folder")
    found: dict[str, Path] = {}
    for path in sorted(folder.rglob("*.yaml")):
        cfg = read_task_yaml(path)
        for field in ("task", "group"):
            if isinstance(cfg.get(field), str):
                found.setdefault(cfg[field], path)
        tags = cfg.get("tag")
        for tag in ([tags] if isinstance(tags, str) else tags if isinstance(tags, list) else []):
            if isinstance(tag, str):
                found.setdefault(tag, path)
    return found


def include_group_members(folder: Path, name: str) -> list[str | dict[str, Any]] | None:
    """The `task:` list of the group YAML that defines `name` under a user's folder (names, or inline configs as
    mappings), or None when `name` is not a group there."""
    path = include_names(folder).get(name)
    if path is None:
        return None
    cfg = read_task_yaml(path)
    if cfg.get("group") != name:
        return None
    listed = cfg.get("task", [])
    members = listed if isinstance(listed, list) else [listed]
    return [m for m in members if isinstance(m, (str, dict))]


def _suggestions(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=4, cutoff=0.75)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def resolve(names: Sequence[str], include_path: Path | None, project: set[str], native: set[str]) -> dict[str, str]:
    """{name: source} for every name (module docstring), given the project's task and suite names. UsageError for
    a YAML path (task files are only read from the project, the --include-path folder and lm-eval's own package) or
    an unknown name, with the closest names."""
    included = include_names(include_path) if include_path is not None else {}
    out: dict[str, str] = {}
    pending: list[str] = []
    for name in names:
        if name.endswith((".yaml", ".yml")) or "/" in name:
            raise UsageError(f"{name!r}: a task is named, not given as a file; put your YAMLs in a folder and pass "
                             f"--include-path FOLDER")
        if name in project:
            out[name] = PROJECT
        elif name in native:
            out[name] = NATIVE
        elif name in included:
            out[name] = INCLUDE
        else:
            pending.append(name)
    if pending:
        from titan_eval.tasks.catalogue_index import catalogue

        index = catalogue()
        unknown = [n for n in pending if n not in index]
        if unknown:
            known = sorted(project | native | set(included) | set(index))
            hints = "; ".join(f"{n}{_suggestions(n, known)}" for n in unknown)
            raise UsageError(f"unknown task(s) {hints}; project tasks: {', '.join(sorted(project | native))}"
                             f"; `titan-eval tasks --all` lists lm-eval's catalogue")
        out.update({n: CATALOGUE for n in pending})
    return out


def catalogue_folders(names: Sequence[str]) -> list[Path]:
    """The folders of lm-eval's package that define `names` and everything they stand for (a group's subtasks, a
    tag's tasks), so lm-eval indexes only those folders instead of its whole catalogue."""
    from titan_eval.tasks.catalogue_index import catalogue

    index = catalogue()
    folders: dict[Path, None] = {}
    seen: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in seen or name not in index:
            continue
        seen.add(name)
        entry = index[name]
        if entry.yaml_path:
            folders.setdefault(Path(entry.yaml_path).parent, None)
        stack.extend(entry.members)
    return list(folders)
