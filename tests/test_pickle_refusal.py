"""A checkpoint whose unpickling would write a file is refused (library: CheckpointError; CLI: exit 3) with a
message naming --trust-checkpoint, and the file is never written; safetensors load without any unpickling and
win over a pickle in the same checkpoint folder."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

import titan_eval
from cli_helpers import titan_eval as cli
from titan_eval.checkpoints import read_file
from titan_eval.errors import CheckpointError


class _WritesAFile:
    """Unpickling this calls Path.write_text(marker, ...): what an attacker's checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.write_text, (self.marker, "written by unpickling"))


def _evil(tmp_path: Path, fmt: str) -> tuple[Path, Path]:
    marker = tmp_path / f"pwned-{fmt}"
    payload = {"model": {"w": torch.ones(2)}, "extra": _WritesAFile(marker)}
    path = tmp_path / f"evil-{fmt}.pt"
    if fmt == "zip":
        torch.save(payload, path)
    elif fmt == "legacy":
        torch.save(payload, path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    assert not marker.exists()
    return path, marker


@pytest.mark.parametrize("fmt", ["zip", "legacy", "raw-pickle"])
def test_read_file_refuses_and_writes_nothing(tmp_path: Path, fmt: str) -> None:
    path, marker = _evil(tmp_path, fmt)
    with pytest.raises(CheckpointError) as err:
        read_file(path)
    assert "--trust-checkpoint" in str(err.value) and str(path) in str(err.value)
    assert not marker.exists()


def test_the_payload_is_live_so_the_refusal_is_what_protects(tmp_path: Path) -> None:
    path, marker = _evil(tmp_path, "zip")
    read_file(path, trust=True)
    assert marker.read_text() == "written by unpickling"


def test_load_model_and_the_architectures_safe_globals_refuse_too(tmp_path: Path) -> None:
    path, marker = _evil(tmp_path, "zip")
    for card in ("mamba-tiny", "helix-tiny"):
        with pytest.raises(CheckpointError, match="--trust-checkpoint"):
            titan_eval.load_model(card, checkpoint=path)
    assert not marker.exists()


def test_cli_run_refuses_with_exit_3_and_one_line(tmp_path: Path) -> None:
    path, marker = _evil(tmp_path, "zip")
    proc = cli("run", "titan_sample", "--model", "mamba-tiny", "--checkpoint", str(path), "--output",
               str(tmp_path / "run"))
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "--trust-checkpoint" in errors[0], proc.stderr
    assert not marker.exists() and not (tmp_path / "run" / "run.json").exists()


def _safetensors(model: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))


def test_safetensors_load_without_unpickling(tmp_path: Path, monkeypatch) -> None:
    reference = titan_eval.load_model("mamba-tiny")
    _safetensors(reference, tmp_path / "w.safetensors")

    def no_unpickling(*args, **kwargs):
        raise AssertionError("a safetensors checkpoint went through the unpickler")

    monkeypatch.setattr(torch, "load", no_unpickling)
    monkeypatch.setattr(pickle, "Unpickler", no_unpickling)
    monkeypatch.setattr(pickle, "load", no_unpickling)
    loaded = titan_eval.load_model("mamba-tiny", checkpoint=tmp_path / "w.safetensors")
    ids = torch.randint(0, 259, (1, 16))
    with torch.no_grad():
        assert torch.equal(loaded(ids), reference(ids))


def test_safetensors_preferred_over_a_pickle_in_the_same_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    folder.mkdir()
    _safetensors(titan_eval.load_model("mamba-tiny"), folder / "model.safetensors")
    evil, marker = _evil(tmp_path, "zip")
    (folder / "pytorch_model.bin").write_bytes(evil.read_bytes())
    titan_eval.load_model("mamba-tiny", checkpoint=folder)
    assert not marker.exists()


def test_a_pickle_named_safetensors_is_not_unpickled(tmp_path: Path) -> None:
    evil, marker = _evil(tmp_path, "zip")
    disguised = tmp_path / "model.safetensors"
    disguised.write_bytes(evil.read_bytes())
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        read_file(disguised)
    assert not marker.exists()


class _RunsACommand:
    """Unpickling this calls os.system (pickled as `posix.system`) to touch a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        import os

        return (os.system, (f"touch '{self.marker}'",))


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_read_file_names_the_global_it_refused(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"w": [1.0, 2.0], "x": _RunsACommand(marker)}, protocol=protocol))
    with pytest.raises(CheckpointError) as err:
        read_file(path)
    assert str(err.value).startswith(f"{path}: refusing to unpickle posix.system (")
    assert str(err.value).endswith("; pass --trust-checkpoint only if you trust where this file came from")
    assert not marker.exists()


def test_cli_refusal_comes_first_and_alone_even_without_a_config(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"  # a plain pickle (protocol 5): torch's unpickler stops at its FRAME and warns
    path.write_bytes(pickle.dumps({"x": _RunsACommand(marker)}, protocol=5))
    proc = cli("run", "titan_sample", "--model", "mamba", "--checkpoint", str(path), "--output", str(tmp_path / "r"))
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.splitlines() == [
        f"error: {path}: refusing to unpickle posix.system (a checkpoint read without trust may hold tensors and "
        "plain data only); pass --trust-checkpoint only if you trust where this file came from"], proc.stderr
    assert not marker.exists()
