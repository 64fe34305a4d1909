"""Architecture names → classes, imported lazily so optional heavy code loads only when used."""

from __future__ import annotations

import importlib
from typing import Any, Mapping

from titan_eval.architectures import ARCHITECTURES
from titan_eval.errors import UsageError
from titan_eval.models.base import LanguageModel


def get_architecture(name: str) -> type[LanguageModel]:
    """The class registered as `name`; `UsageError` if unknown."""
    target = ARCHITECTURES.get(name)
    if target is None:
        raise UsageError(f"unknown architecture {name!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    module_name, cls_name = target.split(":")
    return getattr(importlib.import_module(module_name), cls_name)


def build_model(arch: str, config: Mapping[str, Any]) -> LanguageModel:
    """Instantiate architecture `arch` from its config mapping (weights as the class initialises them)."""
    return get_architecture(arch).from_config(config)
