"""Keeping lm-eval's and datasets' chatter off the terminal."""

from __future__ import annotations

import logging
import os


def quiet_libraries() -> None:
    """Keep lm-eval / datasets chatter off the terminal (warnings still reach the log)."""
    os.environ.setdefault("TQDM_DISABLE", "1")
    for name in ("lm-eval", "lm_eval", "lm_eval.api.task", "lm_eval.evaluator", "lm_eval.tasks"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
    except Exception:  # datasets is a dependency; this is only cosmetic
        pass
