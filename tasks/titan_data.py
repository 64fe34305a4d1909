"""Glue for lm-eval's `!function` tags in this folder's YAMLs: the loaders live in `titan_eval.tasks.data`."""

from typing import Any

from titan_eval.tasks import data


def arc_easy(**kwargs: Any) -> Any:
    return data.load_arc("ARC-Easy", **kwargs)


def arc_challenge(**kwargs: Any) -> Any:
    return data.load_arc("ARC-Challenge", **kwargs)


def hellaswag(**kwargs: Any) -> Any:
    return data.load_hellaswag(**kwargs)


_PROCESSED: dict[str, Any] = {}


def hellaswag_process_docs(dataset: Any) -> Any:
    """lm-eval's own HellaSwag preprocessing (imported, not re-implemented), so prompts match exactly. lm-eval
    calls this on every access to the task's documents (five times per evaluation); a `datasets.Dataset` is
    immutable and its fingerprint names its content, so each distinct input is processed once per process."""
    from lm_eval.tasks.hellaswag.utils import process_docs

    key = getattr(dataset, "_fingerprint", None)
    if key is None:
        return process_docs(dataset)
    if key not in _PROCESSED:
        _PROCESSED[key] = process_docs(dataset)
    return _PROCESSED[key]


def titan_sample(**kwargs: Any) -> Any:
    return data.load_project_task("titan_sample")
