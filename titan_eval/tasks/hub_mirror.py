"""A local mirror of Hub datasets for air-gapped machines: `--data-dir DIR` serves any lm-eval task whose dataset
is laid out as

    DIR/<dataset_path>/<dataset_name or "default">/<split>.jsonl      (or <split>.parquet; one format per folder)

e.g. `DIR/openai/gsm8k/main/test.jsonl`, `DIR/EleutherAI/lambada_openai/default/test.jsonl`, with the dataset's own
columns. When the folder exists, lm-eval's call `datasets.load_dataset(path, name, …)` reads those files instead of
the Hub (`serving`); when it does not, the call goes to the Hub (or the datasets cache) as usual. Which files a
task reads is decided here from the task's config alone (`mirror_files`), so provenance can name and hash them
without any state kept about the load.

Making a mirror on a machine with the Hub (README, "Offline mirrors"):

    from datasets import load_dataset
    ds = load_dataset("openai/gsm8k", "main")
    for split, rows in ds.items():
        rows.to_json(f"DIR/openai/gsm8k/main/{split}.jsonl")
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from titan_eval.errors import DataError

FORMATS = {".jsonl": "json", ".parquet": "parquet"}
DEFAULT_CONFIG = "default"


def mirror_folder(data_dir: Path, dataset_path: str, dataset_name: str | None) -> Path:
    """DIR/<dataset_path>/<dataset_name or default>."""
    return data_dir / dataset_path / (dataset_name or DEFAULT_CONFIG)


def mirror_files(data_dir: Path | None, dataset_path: Any, dataset_name: Any) -> dict[str, Path]:
    """{split: file} of the mirror for this dataset ({} when there is none). DataError when the folder mixes
    formats or holds a split twice."""
    if data_dir is None or not isinstance(dataset_path, str) or not dataset_path:
        return {}
    folder = mirror_folder(Path(data_dir), dataset_path, dataset_name if isinstance(dataset_name, str) else None)
    if not folder.is_dir():
        return {}
    files = sorted(p for p in folder.iterdir() if p.suffix in FORMATS and p.is_file())
    formats = {p.suffix for p in files}
    if len(formats) > 1:
        raise DataError(f"{folder}: mirror folder mixes {' and '.join(sorted(formats))} files; keep one format")
    out: dict[str, Path] = {}
    for path in files:
        out[path.stem] = path
    if not out:
        raise DataError(f"{folder}: mirror folder has no <split>.jsonl or <split>.parquet file")
    return out


def _mirrored_load(data_dir: Path, original: Any) -> Any:
    """A stand-in for `datasets.load_dataset` that serves mirrored datasets from files."""

    def load_dataset(path: Any = None, name: Any = None, *args: Any, **kwargs: Any) -> Any:
        files = mirror_files(data_dir, path, name)
        if not files:
            return original(path, name, *args, **kwargs)
        builder = FORMATS[next(iter(files.values())).suffix]
        split = kwargs.get("split")
        if split is not None and split not in files:
            raise DataError(f"{mirror_folder(data_dir, path, name)}: no {split} split in the mirror "
                            f"(has {', '.join(files)})")
        try:
            return original(builder, data_files={s: str(p) for s, p in files.items()}, split=split)
        except Exception as err:  # the datasets reader's errors have no common type
            raise DataError(f"{mirror_folder(data_dir, path, name)}: cannot read the mirror "
                            f"({type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''})") from err

    return load_dataset


@contextmanager
def serving(data_dir: str | Path | None) -> Iterator[None]:
    """While active, `datasets.load_dataset` reads mirrored datasets from `data_dir` (no-op without one)."""
    if data_dir is None:
        yield
        return
    import datasets

    original = datasets.load_dataset
    datasets.load_dataset = _mirrored_load(Path(data_dir), original)
    try:
        yield
    finally:
        datasets.load_dataset = original
