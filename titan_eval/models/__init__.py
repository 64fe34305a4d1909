"""Architectures behind one small protocol (see `base.LanguageModel`)."""

from titan_eval.models.base import Capabilities, LanguageModel, RecurrentState
from titan_eval.models.registry import ARCHITECTURES, build_model, get_architecture

__all__ = [
    "ARCHITECTURES",
    "Capabilities",
    "LanguageModel",
    "RecurrentState",
    "build_model",
    "get_architecture",
]
