"""Glue for lm-eval's `!function` tags in this folder's YAMLs: the loaders live in `titan_eval.tasks.data`."""

from typing import Any

from titan_eval.tasks import data


def arc_easy(**kwargs: Any) -> Any:
    return data.load_arc("ARC-Easy", **kwargs)


def arc_challenge(**kwargs: Any) -> Any:
    return data.load_arc("ARC-Challenge", **kwargs)


def hellaswag(**kwargs: Any) -> Any:
    return data.load_hellaswag(**kwargs)


def hellaswag_process_docs(dataset: Any) -> Any:
    """lm-eval's own HellaSwag preprocessing (imported, not re-implemented), so prompts match exactly."""
    from lm_eval.tasks.hellaswag.utils import process_docs

    return process_docs(dataset)


def titan_sample(**kwargs: Any) -> Any:
    return data.load_project_task("titan_sample")
