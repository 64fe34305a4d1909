"""Reading the project's text inputs (cards, literature files, probe YAML, run.json) so that every defect is one
`DataError` line naming the file and, where the parser knows it, the line: unreadable, not UTF-8, malformed,
nested too deeply. YAML is only ever read with the safe loader (plain data; no tags that build Python objects)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from titan_eval.errors import DataError


def one_line(text: object) -> str:
    """`text` with runs of whitespace (newlines included) collapsed, for one-line error messages."""
    return " ".join(str(text).split())


def read_text(path: Path, what: str = "file") -> str:
    """The file's text as UTF-8; `DataError` for an unreadable file or bytes that are not UTF-8 (with the line)."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot read {what} ({err.strerror or err})") from err
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: {what} is not UTF-8 text (byte 0x{data[err.start]:02x})") from err


def load_yaml(path: Path, what: str = "YAML file", loader: type | None = None) -> Any:
    """`yaml.safe_load` of the file (or `yaml.load` with `loader`, a `yaml.SafeLoader` subclass); `DataError` as
    `path:line: malformed YAML (problem)`."""
    import yaml

    if loader is not None and not issubclass(loader, yaml.SafeLoader):
        raise TypeError("load_yaml only takes SafeLoader subclasses")
    text = read_text(path, what)
    try:
        return yaml.load(text, Loader=loader or yaml.SafeLoader)  # noqa: S506 (a SafeLoader, checked above)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or err
        raise DataError(f"{path}{where}: malformed YAML ({one_line(problem)})") from err
    except RecursionError as err:
        raise DataError(f"{path}: YAML nested too deeply to read") from err
    except (ValueError, TypeError, OverflowError) as err:  # a plain value the constructor rejects: 2020-13-45
        raise DataError(f"{path}: malformed YAML value ({one_line(str(err).split(';')[0])})") from err
