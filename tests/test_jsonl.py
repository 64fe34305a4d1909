"""JSON-lines reading (`titan_eval.jsonl`, on the `jsonlines` library): line numbers, the parser's column, torn
tails and refusals, each as one `DataError` naming file and line."""

from pathlib import Path

import pytest

from titan_eval.errors import DataError
from titan_eval.jsonl import read_jsonl


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(data)
    return path


def test_rows_keep_their_line_numbers_across_blank_lines_and_crlf(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"a": 1}\r\n\n   \n{"b": [2]}\n')
    assert list(read_jsonl(path)) == [(1, {"a": 1}), (4, {"b": [2]})]


def test_a_torn_last_line_is_dropped_only_when_asked(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"a": 1}\n{"b": 2}\n{"c": ')
    assert list(read_jsonl(path, complete_lines_only=True)) == [(1, {"a": 1}), (2, {"b": 2})]
    with pytest.raises(DataError) as err:
        list(read_jsonl(path))
    assert str(err.value) == f"{path}:3: malformed JSON (Expecting value at column 7)"


@pytest.mark.parametrize(("data", "message"), [
    (b'{"a": 1}\n{"id": "x\tq"}\n', ":2: malformed JSON (Invalid control character at column 10)"),
    (b'{"id": "x", "question": \n', ":1: malformed JSON (Expecting value at column 25)"),
    (b'{"a": 1} {"b": 2}\n', ":1: malformed JSON (Extra data at column 10)"),
    (b'{"a": "\xff"}\n', ":1: not UTF-8 text (byte 0xff)"),
    (b'{"a": 1}\n[1, 2]\n', ":2: expected a JSON object"),
    (b"null\n", ":1: expected a JSON object"),
    (b"[" * 100000 + b"\n", ":1: JSON nested too deeply to read"),
])
def test_a_bad_line_is_named_with_line_and_column(tmp_path: Path, data: bytes, message: str) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(DataError) as err:
        list(read_jsonl(path))
    assert str(err.value) == f"{path}{message}"


def test_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.jsonl: cannot read \(No such file or directory\)"):
        list(read_jsonl(tmp_path / "nope.jsonl"))
