"""Build step: the wheel carries the project's top-level `model/` (cards) and `tasks/` (task YAMLs, their glue and
data) inside the package as `titan_eval/_bundled/`, plus `build.json` (the source's git commit), so a plain
`pip install` finds them (`titan_eval.paths`). Editable installs read the checkout's folders directly."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
PROJECT_FOLDERS = ("model", "tasks")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


class BuildWithProjectFiles(build_py):
    """`build_py`, then the project folders and the build record copied into the package's build folder."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        bundle = Path(self.build_lib) / "titan_eval" / "_bundled"
        if bundle.exists():
            shutil.rmtree(bundle)
        for name in PROJECT_FOLDERS:
            shutil.copytree(ROOT / name, bundle / name, ignore=SKIP)
        status = _git("status", "--porcelain", "--untracked-files=no")
        record = {"commit": _git("rev-parse", "HEAD"), "dirty": None if status is None else bool(status)}
        (bundle / "build.json").write_text(json.dumps(record) + "\n", encoding="utf-8")


setup(cmdclass={"build_py": BuildWithProjectFiles})
