"""Which Python objects a pickle would import, read from its opcodes (`pickletools`, nothing is executed).

Used to name what a refused checkpoint asked for when torch's weights-only unpickler does not say (it stops at
the first opcode it does not support, e.g. the FRAME of a protocol-4 pickle, before reaching any global).
"""

from __future__ import annotations

import io
import pickletools
import zipfile
from pathlib import Path

_STRING_PUSHES = ("UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "STRING", "BINSTRING",
                  "SHORT_BINSTRING")
_MEMO_GETS = ("GET", "BINGET", "LONG_BINGET")
_MEMO_PUTS = ("PUT", "BINPUT", "LONG_BINPUT")


def pickle_bytes(path: Path) -> bytes:
    """The pickle stream of a checkpoint file: a torch zip archive's `data.pkl`, else the file itself (a raw
    pickle, or torch's legacy format: several pickles in a row). Empty when the file cannot be read."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                name = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
                return archive.read(name) if name else b""
        return path.read_bytes()
    except (OSError, zipfile.BadZipFile):
        return b""


def imported_globals(data: bytes) -> list[str]:
    """`module.name` of every global the pickle(s) in `data` reference (GLOBAL, INST, STACK_GLOBAL), in order,
    without repeats. STACK_GLOBAL takes its two names from the strings pushed (or fetched from the memo) before
    it. Stops quietly at the first byte that is not a pickle (a legacy file's raw tensor data)."""
    found: list[str] = []
    strings: list[str] = []
    memo: dict[int, str | None] = {}
    last: str | None = None  # the string the previous opcode put on the stack, if any
    stream = io.BytesIO(data)
    try:
        while stream.tell() < len(data):
            for op, arg, _ in pickletools.genops(stream):
                if op.name in _MEMO_PUTS or op.name == "MEMOIZE":  # stores the stack's top, leaves the stack
                    memo[len(memo) if op.name == "MEMOIZE" else int(arg)] = last
                    continue
                pushed: str | None = None
                if op.name in ("GLOBAL", "INST"):
                    found.append(str(arg).replace(" ", "."))
                elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.append(".".join(strings[-2:]))
                elif op.name in _STRING_PUSHES:
                    pushed = arg if isinstance(arg, str) else bytes(arg).decode("latin-1")
                elif op.name in _MEMO_GETS:
                    pushed = memo.get(int(arg))
                if pushed is not None:
                    strings.append(pushed)
                last = pushed
    except Exception:  # noqa: BLE001 — not (or no longer) a pickle: report what was found so far
        pass
    return list(dict.fromkeys(found))
