"""Where the project's own files live, in a source checkout and in an installed wheel alike.

Model cards (`model/`) and task definitions with their data (`tasks/`) are kept at the top of the repository; the
wheel carries copies of both inside the package (`titan_eval/_bundled/`, written by `setup.py`'s build step).
`project_root()` picks the checkout when the package sits in one (an editable install or a plain clone), else the
bundled copy, located through `importlib.resources`. Run output goes to `./results` under the working directory
(lm-eval's `--output_path` convention), never into the package; `--output` overrides it.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_ROOT = PACKAGE_DIR.parent
BUNDLE_NAME = "_bundled"
PROJECT_FOLDERS = ("model", "tasks")
"""The top-level folders the wheel carries (cards; task YAMLs, their `!function` glue and the project's task data)."""


def _is_checkout(root: Path) -> bool:
    """True when `root` is the repository holding this package (its pyproject and project folders beside it)."""
    return (root / "pyproject.toml").is_file() and all((root / name).is_dir() for name in PROJECT_FOLDERS)


@lru_cache(maxsize=1)
def project_root() -> Path:
    """The folder holding `model/` and `tasks/`: the checkout, else the wheel's bundled copy."""
    if _is_checkout(CHECKOUT_ROOT):
        return CHECKOUT_ROOT
    return Path(str(resources.files("titan_eval").joinpath(BUNDLE_NAME)))


def installed_from_checkout() -> bool:
    """True for a source checkout / editable install, False for an installed wheel."""
    return project_root() == CHECKOUT_ROOT


REPO_ROOT = CHECKOUT_ROOT
"""The checkout root (meaningful only when `installed_from_checkout()`; provenance runs git there)."""
CARDS_DIR = project_root() / "model"
TASKS_DIR = project_root() / "tasks"


def results_dir() -> Path:
    """`./results` under the current working directory: where run and probe folders go without `--output`."""
    return Path.cwd() / "results"


def build_info() -> dict[str, Any]:
    """What the wheel's build step recorded about its source (git commit, dirty flag); {} in a checkout or when
    the wheel has no record."""
    path = project_root() / "build.json"
    if installed_from_checkout() or not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def shared_dir() -> Path | None:
    """`$TITAN_EVAL_SHARED`, else `../shared` beside the checkout; None when neither exists."""
    env = os.environ.get("TITAN_EVAL_SHARED")
    candidates = [Path(env)] if env else [CHECKOUT_ROOT.parent / "shared"]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    return None


def expand(path: str, base: Path | None = None) -> str:
    """Expand `${TITAN_EVAL_SHARED}`/`~`/env vars; relative paths are taken relative to `base` if it exists there."""
    shared = shared_dir()
    if shared is not None and "TITAN_EVAL_SHARED" not in os.environ:
        path = path.replace("${TITAN_EVAL_SHARED}", str(shared))
    out = os.path.expanduser(os.path.expandvars(path))
    if base is not None and not os.path.isabs(out) and (base / out).exists():
        return str((base / out).resolve())
    return out


def cache_dir() -> Path:
    """Where titan-eval keeps derived, rebuildable files: `$TITAN_EVAL_CACHE`, else `$XDG_CACHE_HOME/titan-eval`,
    else `~/.cache/titan-eval` (the catalogue index, checkpoint digests)."""
    if os.environ.get("TITAN_EVAL_CACHE"):
        return Path(os.environ["TITAN_EVAL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "titan-eval"
