"""Hypothesis strategies for the fuzz tests: valid files mutated (fields replaced by arbitrary values, deleted,
extra keys) or garbled (bytes flipped, inserted, deleted, truncated), hand-picked nasty inputs, and the property
check itself."""

from __future__ import annotations

import copy
import json
import os
from typing import Any, Callable

import yaml
from hypothesis import HealthCheck, event, example, settings
from hypothesis import strategies as st

from titan_eval.errors import TitanEvalError

# 40 examples per target keeps the file well under 40 s on one core; TITAN_FUZZ_EXAMPLES=1000 for a deeper local run.
FUZZ = settings(max_examples=int(os.environ.get("TITAN_FUZZ_EXAMPLES", "40")), deadline=None, derandomize=True,
                database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

SCALARS = (st.none() | st.booleans() | st.integers() | st.just(10**400) | st.just(-(10**400))
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
           | st.sampled_from(["", " ", "..", "/etc/passwd", "acc"]))
KEYS = st.text(max_size=6) | st.sampled_from(["text", "label", "source", "metric"])
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
                      max_leaves=8)


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path into nested dicts/lists (the root included)."""
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


@st.composite
def mutated(draw: Callable, seed: Any, keys: st.SearchStrategy = st.integers() | st.none() | st.booleans()) -> Any:
    """`seed` with 1–3 nodes replaced by an arbitrary value, deleted, or given an extra key (YAML can have non-str
    keys, so `keys` may add ints/None/bools)."""
    obj = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(obj)))
        if not path:
            return draw(VALUES)
        parent = obj
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(VALUES)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(keys | st.text(max_size=6))] = draw(VALUES)
    return obj


@st.composite
def garbled(draw: Callable, data: bytes) -> bytes:
    """`data` with 1–4 byte edits (flip, insert incl. invalid UTF-8, delete a span) and maybe truncated."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(0, len(out) - 1)))
        op = draw(st.sampled_from(["flip", "insert", "delete"]))
        if op == "flip" and out:
            out[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            out[at:at] = draw(st.binary(max_size=4) | st.sampled_from([b"\xff\xfe", b"\x00", b"{", b"[", b":", b"- "]))
        else:
            del out[at: at + draw(st.integers(1, 16))]
    if draw(st.booleans()):
        out = out[: draw(st.integers(0, len(out)))]
    return bytes(out)


def jsonl_files(lines: list[str]) -> st.SearchStrategy[bytes]:
    """A JSONL file from valid `lines` with one record mutated, or the whole file garbled."""
    rows = [json.loads(ln) for ln in lines]

    @st.composite
    def one_row_mutated(draw: Callable) -> bytes:
        k = draw(st.integers(0, len(rows) - 1))
        new = list(rows)
        new[k] = draw(mutated(rows[k], st.nothing()))
        return "".join(json.dumps(r) + "\n" for r in new).encode()

    return one_row_mutated() | garbled("".join(ln + "\n" for ln in lines).encode())


def yaml_files(doc: Any) -> st.SearchStrategy[bytes]:
    """A YAML file from a valid `doc` with nodes mutated (non-str keys allowed), or its text garbled."""
    dump = lambda d: yaml.safe_dump(d, allow_unicode=True, sort_keys=False).encode()  # noqa: E731
    return mutated(doc).map(dump) | garbled(dump(doc))


def only_titan_errors(call: Callable[[], Any]) -> None:
    """Run `call`; a TitanEvalError is a fine answer, any other exception fails the example."""
    try:
        call()
    except TitanEvalError as err:
        event(f"refused: {type(err).__name__}")
    else:
        event("accepted")


NASTY_YAML = [b"!!python/object/apply:os.system ['echo pwned']\n", b"[" * 5000, b"a: &a [*a, *a]\nb: *a\n",
              b"- \xff\xfe\n", b"{? [1]: 2}\n", b"key: !function os.getcwd\n", b"name: 2020-13-45\n",
              b"x: " + b"1" * 5000 + b"\n", b"\x00\x01\x02", b"", b"--- a\n--- b\n"]
NASTY_JSON = [b"[" * 5000 + b"\n", b"\xff\xfe{}\n", b'{"a": ' + b"1" * 5000 + b"}\n", b"\xef\xbb\xbf{}\n"]


def nasty(blobs: list[bytes]) -> Callable:
    """Add every blob in `blobs` as an explicit example (run before the generated ones)."""
    def add(test: Callable) -> Callable:
        for blob in blobs:
            test = example(data=blob)(test)
        return test
    return add
