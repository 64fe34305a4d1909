"""The output folder is checked before a model loads (creatable, writable, free space), and names derived from
input never leave the folder they are joined to."""

from __future__ import annotations

import os
import shutil
from collections import namedtuple
from pathlib import Path

import pytest

from titan_eval.errors import UsageError
from titan_eval.output_dir import prepare_output_dir, safe_child, safe_name, sanitise_name
from titan_eval.store import make_run_id

Usage = namedtuple("Usage", "total used free")


def test_creates_nested_folder_and_leaves_no_probe_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "run"
    assert prepare_output_dir(target) == target.resolve()
    assert target.is_dir() and list(target.iterdir()) == []


def test_existing_folder_is_accepted_and_kept(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    prepare_output_dir(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_path_below_a_regular_file_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(UsageError, match="cannot create output directory .*file/sub"):
        prepare_output_dir(tmp_path / "file" / "sub")


def test_existing_file_as_output_is_refused(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text("{}")
    with pytest.raises(UsageError, match="is an existing file"):
        prepare_output_dir(tmp_path / "run.json")


def test_unwritable_folder_is_refused_and_created_folders_removed(tmp_path: Path, monkeypatch) -> None:
    """Tests run as root, where chmod does not stop writes: make the probe write fail instead."""
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse)
    with pytest.raises(UsageError, match="is not writable: Permission denied"):
        prepare_output_dir(tmp_path / "new" / "run")
    assert not (tmp_path / "new").exists()


def test_full_disk_is_refused_before_anything_runs(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(10 * 2**30, 10 * 2**30 - 2**20, 2**20))
    with pytest.raises(UsageError, match=r"has 1\.0 MiB free, below the 64\.0 MiB"):
        prepare_output_dir(tmp_path / "run")
    assert not (tmp_path / "run").exists()
    assert prepare_output_dir(tmp_path / "run", expected_bytes=2**19) == (tmp_path / "run").resolve()


@pytest.mark.parametrize("name", ["..", "../x", "a/../../x", "/etc/passwd", "\\\\server\\share", "C:\\x", "C:x",
                                  "", "a\0b", "..\\x"])
def test_safe_child_refuses_escaping_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError):
        safe_child(tmp_path, name)


def test_safe_child_allows_plain_and_nested_names(tmp_path: Path) -> None:
    assert safe_child(tmp_path, "run.json") == tmp_path / "run.json"
    assert safe_child(tmp_path, "plots/routing_0.png") == tmp_path / "plots" / "routing_0.png"
    assert safe_child(tmp_path, "..hidden") == tmp_path / "..hidden"


def test_safe_child_refuses_a_symlink_leading_out(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    os.symlink(tmp_path, base / "up")
    with pytest.raises(UsageError, match="symlink"):
        safe_child(base, "up/x")


@pytest.mark.parametrize("name", ["..", ".", "a/b", "a\\b", "", "C:evil"])
def test_safe_name_takes_one_plain_component(name: str) -> None:
    with pytest.raises(UsageError):
        safe_name(name, "run id")
    assert safe_name("20260101-000000-titan-tiny-s0") == "20260101-000000-titan-tiny-s0"


@pytest.mark.parametrize("text", ["../../etc", "..", "/abs/path", "a\\..\\b", "", "名前"])
def test_sanitised_names_are_safe_children(tmp_path: Path, text: str) -> None:
    name = sanitise_name(text)
    assert safe_child(tmp_path, safe_name(name)).parent == tmp_path


@pytest.mark.parametrize("card", ["../../etc", "..", "/abs", "a/b\\c"])
def test_run_ids_from_hostile_card_names_stay_one_component(tmp_path: Path, card: str) -> None:
    run_id = make_run_id(card, 0)
    assert safe_child(tmp_path, safe_name(run_id, "run id")).parent == tmp_path


@pytest.mark.parametrize("name", ["../../outside", "/abs", "a/b", "..", "x" * 101, "tab\there"])
def test_explicit_card_names_must_be_plain_file_names(name: str) -> None:
    """A card's name becomes part of run and probe folder names (results/<stamp>-<name>-s0)."""
    from titan_eval.cards import load_card

    with pytest.raises(UsageError, match="card name"):
        load_card({"arch": "mamba", "name": name})


def test_a_card_name_taken_from_the_file_stem_is_sanitised(tmp_path: Path) -> None:
    from titan_eval.cards import load_card

    card = tmp_path / "my card (v2).yaml"
    card.write_text("arch: mamba\n")
    assert load_card(str(card)).name == "my_card_v2_"
