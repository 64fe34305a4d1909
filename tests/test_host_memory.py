"""Freed host memory goes back to the OS between scoring batches (glibc), and the call is a no-op elsewhere."""

import platform
import sys

import pytest

from titan_eval.engine import host_memory


def test_trim_is_found_on_glibc_linux() -> None:
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is a glibc function; this interpreter is not linked against glibc")
    import ctypes

    host_memory._malloc_trim.cache_clear()
    trim = host_memory._malloc_trim()
    address = ctypes.cast(ctypes.CDLL(None).malloc_trim, ctypes.c_void_p).value  # the process's own libc
    assert trim.__name__ == "malloc_trim" and ctypes.cast(trim, ctypes.c_void_p).value == address
    assert trim(0) in (0, 1)  # 1: memory was released, 0: none to release
    host_memory.release_free_host_memory()


def test_release_is_a_no_op_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    host_memory._malloc_trim.cache_clear()
    try:
        assert host_memory._malloc_trim() is None
        host_memory.release_free_host_memory()
    finally:
        monkeypatch.undo()
        host_memory._malloc_trim.cache_clear()
