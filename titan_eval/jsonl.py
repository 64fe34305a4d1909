"""Reading JSON-lines files (through the `jsonlines` library) with errors that name the file, line and column."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any, Iterator

import jsonlines

from titan_eval.errors import DataError


def describe_json_error(err: json.JSONDecodeError) -> str:
    """The decoder's complaint with its column, e.g. `Invalid control character at column 26` (`err.msg` alone
    stops at `…at`, and `str(err)` counts lines and characters from the start of the text it was given)."""
    return f"{err.msg.removesuffix(' at')} at column {err.colno}"


class _NumberedLines:
    """A binary file's lines for `jsonlines.Reader`, remembering the number of the last line handed out (the line
    the reader just decoded). With `complete_lines_only`, stops before a last line without its newline."""

    def __init__(self, handle: IO[bytes], complete_lines_only: bool) -> None:
        self.handle, self.complete_lines_only, self.number = handle, complete_lines_only, 0

    def __iter__(self) -> Iterator[bytes]:
        for self.number, raw in enumerate(self.handle, start=1):
            if self.complete_lines_only and not raw.endswith(b"\n"):
                return
            yield raw.rstrip(b"\r\n")  # the decoder's column then counts within this line


def _line_error(path: Path, err: jsonlines.InvalidLineError) -> DataError:
    """`path:line: …` for a line the reader refused: not UTF-8, malformed JSON, or not a JSON object."""
    where, cause = f"{path}:{err.lineno}", err.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return DataError(f"{where}: not UTF-8 text (byte 0x{cause.object[cause.start]:02x})")
    if isinstance(cause, json.JSONDecodeError):
        return DataError(f"{where}: malformed JSON ({describe_json_error(cause)})")
    if isinstance(cause, ValueError):  # e.g. an integer literal beyond Python's digit limit
        return DataError(f"{where}: malformed JSON ({str(cause).split(';')[0]})")
    return DataError(f"{where}: expected a JSON object")  # null, a list, a number …


def read_jsonl(path: Path, complete_lines_only: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; `DataError` for an unreadable file, a line that is not
    UTF-8, malformed or too deeply nested JSON (file:line, the parser's message and column), or a line that is
    not a JSON object. With `complete_lines_only`, a last line without its newline (a write a kill interrupted)
    is skipped."""
    try:
        handle = open(path, "rb")
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from err
    with handle:
        lines = _NumberedLines(handle, complete_lines_only)
        reader = jsonlines.Reader(lines)
        while True:
            try:
                obj = reader.read(type=dict, skip_empty=True)
            except EOFError:
                return
            except jsonlines.InvalidLineError as err:
                raise _line_error(path, err) from err
            except RecursionError as err:
                raise DataError(f"{path}:{lines.number}: JSON nested too deeply to read") from err
            yield lines.number, obj
