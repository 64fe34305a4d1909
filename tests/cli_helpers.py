"""Run the real console entry point in a subprocess (real exit codes, real stderr)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def titan_eval(*args: str, cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "titan_eval", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)
