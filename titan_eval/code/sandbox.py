"""Where a program runs: under bubblewrap (`bwrap`, Debian/Ubuntu package `bubblewrap`) or, with --unsafe-code,
as a plain subprocess. Both run a Python interpreter in isolated mode (`-I -S`: the standard library only, no site
packages) with the bootstrap (`code.bootstrap`) setting the same rlimits, and never as root: run by root, the harness
starts bwrap (or the plain interpreter) as uid/gid 65534 (nobody) with no supplementary groups (`code.executor`),
since the kernel does not apply RLIMIT_NPROC to root.

The bubblewrap sandbox (`bwrap_argv`), started by an unprivileged user:
    namespaces   a new user namespace (the program is uid/gid 65534 inside, with no capabilities, and may not make
                 further user namespaces), and new pid, network (loopback only: nothing outside the sandbox is
                 reachable, the host's 127.0.0.1 included), ipc, uts and cgroup namespaces, and a new mount
                 namespace
    processes    RLIMIT_NPROC counts the processes of the sandbox's own user namespace (each sandbox has its own
                 budget, whatever its neighbours do); `prlimit` caps bwrap's whole user (outside) as well, at what
                 it runs now plus every worker's budget and some slack, and that cap bounds every sandbox it starts
    files        /usr (with the /bin, /lib, /lib64, /sbin links) and the interpreter's installation read-only;
                 a private empty /tmp (tmpfs of `Limits.tmp_bytes`) as the working directory and $HOME; a fresh
                 /proc and minimal /dev; the rest of the root read-only and empty. No /etc, no /home or /root
                 (except the interpreter's own folder when it lives there), no results folder, no working
                 directory of the harness.
    environment  cleared: PATH, HOME, TMPDIR and LC_ALL only
    lifetime     the sandbox dies with its bwrap process (`--die-with-parent`); killing bwrap's process group
                 tears the pid namespace down with every process in it.

The interpreter is the one running titan-eval (its base installation, not the virtual environment) when the
programs' user can reach it; run by root with an interpreter under a folder only root may enter (e.g. pyenv under
/root), it is the system's `/usr/bin/python3` (`program_interpreter`; run.json records which).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from titan_eval.code.bootstrap import BOOTSTRAP
from titan_eval.errors import UsageError

SANDBOX_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LC_ALL": "C.UTF-8"}
"""The whole environment a sandboxed program sees."""
ROOT_LINKS = ("bin", "lib", "lib64", "lib32", "libx32", "sbin")
NOBODY = 65534
INSTALL_HINT = "install the `bubblewrap` package (apt-get install bubblewrap)"


@dataclass(frozen=True)
class Interpreter:
    """The Python that runs programs: `executable` and the folder it is installed in (`prefix`)."""

    executable: str
    prefix: str


@lru_cache(maxsize=1)
def interpreter() -> Interpreter:
    """This process's base interpreter (a venv's `bin/python` links to it) and its installation prefix."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return Interpreter(os.path.realpath(base), os.path.realpath(sys.base_prefix))


SYSTEM_PYTHON = "/usr/bin/python3"


def program_interpreter(as_root: bool) -> Interpreter:
    """The interpreter programs run with (module docstring); UsageError when, run by root, no interpreter is
    reachable by an unprivileged user."""
    own = interpreter()
    if not as_root or (world_readable(own.prefix) and world_readable(os.path.dirname(own.executable))):
        return own
    if os.path.exists(SYSTEM_PYTHON) and world_readable("/usr"):
        system = os.path.realpath(SYSTEM_PYTHON)
        return Interpreter(system, "/usr")
    raise UsageError(f"code programs run as an unprivileged user (uid {NOBODY}), who cannot reach this "
                     f"interpreter's installation {own.prefix}, and there is no {SYSTEM_PYTHON}: run titan-eval as "
                     f"a normal user or install python3")


def program_argv(interp: Interpreter, setup_json: str) -> list[str]:
    """The interpreter command that runs the bootstrap (the program comes on stdin)."""
    return [interp.executable, "-I", "-S", "-c", BOOTSTRAP, setup_json]


def bwrap_path() -> str | None:
    """The bwrap executable on PATH, or None."""
    return shutil.which("bwrap")


def _system_binds() -> list[str]:
    """/usr read-only, and the top-level links into it (/bin → usr/bin …) or, where they are real folders, those
    folders read-only."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ROOT_LINKS:
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def _interpreter_binds(interp: Interpreter) -> list[str]:
    """The interpreter's installation read-only where /usr does not already hold it (e.g. ~/.pyenv/versions/X), and
    its executable's folder when that lies outside the prefix; the folders above them are made world-traversable
    (mode 0755) so the program's user reaches them."""
    folders: list[str] = []
    for folder in dict.fromkeys([interp.prefix, os.path.dirname(interp.executable)]):
        if folder == "/usr" or folder.startswith("/usr/") or any(folder.startswith(f + "/") for f in folders):
            continue
        folders.append(folder)
    args: list[str] = []
    made: set[str] = set()
    for folder in folders:
        for parent in reversed(Path(folder).parents[:-1]):  # /root, /root/.pyenv, … (not / itself)
            if str(parent) not in made:
                made.add(str(parent))
                args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", folder, folder]
    return args


def world_readable(folder: str) -> bool:
    """Whether any user can reach `folder` (every folder above it searchable by others) and read it."""
    path = Path(folder)
    for part in [*reversed(path.parents), path]:
        try:
            mode = part.stat().st_mode
        except OSError:
            return False
        if not mode & 0o001:
            return False
    return bool(path.stat().st_mode & 0o004)


def bwrap_argv(bwrap: str, interp: Interpreter, setup_json: str, tmp_bytes: int,
               outer_processes: int | None) -> list[str]:
    """The full command line for one program (module docstring): `prlimit --nproc=outer_processes` (when prlimit is
    installed and a cap is given) around bwrap, which must be started by an unprivileged user."""
    env: list[str] = ["--clearenv"]
    for key, value in SANDBOX_ENV.items():
        env += ["--setenv", key, value]
    prlimit = shutil.which("prlimit")
    cap = [prlimit, f"--nproc={int(outer_processes)}", "--"] if prlimit and outer_processes else []
    return [*cap, bwrap, "--unshare-user", "--disable-userns", "--uid", str(NOBODY), "--gid", str(NOBODY),
            "--cap-drop", "ALL", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--hostname", "sandbox", "--die-with-parent", "--new-session",
            *_system_binds(), *_interpreter_binds(interp),
            "--perms", "1777", "--size", str(int(tmp_bytes)), "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev",
            "--remount-ro", "/", "--chdir", "/tmp", *env, "--", *program_argv(interp, setup_json)]
