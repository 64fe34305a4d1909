"""Reading JSON-lines files with errors that name the file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from titan_eval.errors import DataError


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; `DataError` for an unreadable file, malformed JSON
    (file:line and the parser's message), or a line that is not a JSON object."""
    try:
        handle = open(path, encoding="utf-8")
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from err
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{number}: malformed JSON ({err.msg})") from err
            if not isinstance(obj, dict):
                raise DataError(f"{path}:{number}: expected a JSON object")
            yield number, obj
