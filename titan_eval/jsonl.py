"""Reading JSON-lines files with errors that name the file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from titan_eval.errors import DataError


def read_jsonl(path: Path, complete_lines_only: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; `DataError` for an unreadable file, a line that is not
    UTF-8, malformed or too deeply nested JSON (file:line and the parser's message), or a line that is not a JSON
    object. With `complete_lines_only`, a last line without its newline (a write a kill interrupted) is skipped."""
    try:
        handle = open(path, "rb")
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from err
    with handle:
        for number, raw in enumerate(handle, start=1):
            if complete_lines_only and not raw.endswith(b"\n"):
                break
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DataError(f"{path}:{number}: not UTF-8 text (byte 0x{raw[err.start]:02x})") from err
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{number}: malformed JSON ({err.msg})") from err
            except ValueError as err:  # e.g. an integer literal beyond Python's digit limit
                raise DataError(f"{path}:{number}: malformed JSON ({str(err).split(';')[0]})") from err
            except RecursionError as err:
                raise DataError(f"{path}:{number}: JSON nested too deeply to read") from err
            if not isinstance(obj, dict):
                raise DataError(f"{path}:{number}: expected a JSON object")
            yield number, obj
