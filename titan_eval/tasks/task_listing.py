"""`titan-eval tasks --all`: the project's tasks and lm-eval's catalogue as aligned lines (name, kind, output type,
where it comes from), the project's first; a name the project defines hides the catalogue's entry."""

from __future__ import annotations

import fnmatch


def matches(name: str, pattern: str | None) -> bool:
    """True without a pattern; a glob when it has *, ? or [; otherwise a case-insensitive substring."""
    if pattern is None:
        return True
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern.lower() in name.lower()


def catalogue_lines(pattern: str | None) -> list[str]:
    """One line per matching name: `name  kind  output_type  source`."""
    from titan_eval.tasks.catalog import NATIVE_TASKS, lm_eval_task_files
    from titan_eval.tasks.task_yaml import read_task_yaml
    from titan_eval.tasks.catalogue_index import DEFAULT_OUTPUT_TYPE, catalogue

    rows: list[tuple[str, str, str, str]] = []
    project = lm_eval_task_files()
    for name in sorted(project):
        rows.append((name, "task", str(read_task_yaml(project[name]).get("output_type", DEFAULT_OUTPUT_TYPE)),
                     "titan-eval"))
    for name in sorted(NATIVE_TASKS):
        rows.append((name, "suite", "native", "titan-eval"))
    hidden = set(project) | set(NATIVE_TASKS)
    for name, entry in sorted(catalogue().items()):
        if name not in hidden:
            rows.append((name, entry.kind, entry.output_type or "-", "lm-eval"))
    rows = [r for r in rows if matches(r[0], pattern)]
    width = min(40, max((len(r[0]) for r in rows), default=0))  # a few very long names overflow their column
    return [f"{n:<{width}}  {k:<11}  {o:<21}  {s}" for n, k, o, s in rows]
