"""One model for the whole sweep: the first checkpoint is loaded by `loading.load` (a model build); every later
one whose config and shapes fit is copied into the same module's tensors, so only the weights change between steps.

`ModelSlot.builds` counts the models built (`loading.load` calls): a sweep that adds one checkpoint to a model it
already holds builds none; a fresh sweep process builds one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from titan_eval.checkpoints import load_strict, locate, read_file
from titan_eval.loading import LoadedModel, load, resolve_card
from titan_eval.models.registry import get_architecture


@dataclass
class LoadSettings:
    """How every checkpoint of the sweep is loaded (the `run` command's model options)."""

    card: Any
    tokenizer: str | None = None
    device: str | None = None
    dtype: str | None = None
    trust: bool = False
    kernels: str = "auto"


@dataclass
class ModelSlot:
    """The sweep's model: `loaded` is None until the first checkpoint; `builds` counts `loading.load` calls."""

    settings: LoadSettings
    loaded: LoadedModel | None = None
    builds: int = 0

    def load(self, checkpoint: Path) -> LoadedModel:
        """The model holding `checkpoint`'s weights: copied into the held module when its config is the same and
        every key and shape fits (`checkpoints.check_fits`: a `CheckpointError` naming them otherwise, as a fresh
        load would), else built anew."""
        if self.loaded is None or not self._same_config(checkpoint):
            s = self.settings
            self.loaded = load(s.card, checkpoint, s.tokenizer, s.device, s.dtype, s.trust, s.kernels)
            self.builds += 1
            return self.loaded
        return self._copy_in(checkpoint)

    def _same_config(self, checkpoint: Path) -> bool:
        assert self.loaded is not None
        files = locate(checkpoint)
        if files.config is None or self.loaded.card.config:
            return True  # the card's own config, the same for every step
        return files.config == locate(self.loaded.card.checkpoint).config

    def _copy_in(self, checkpoint: Path) -> LoadedModel:
        """Read `checkpoint` (memory-mapped), check it fits, copy each tensor into the module (converted to the
        module's dtype and device), and point the provenance at it."""
        assert self.loaded is not None
        loaded = self.loaded
        s = self.settings
        card = resolve_card(s.card, checkpoint, s.tokenizer)
        cls = get_architecture(card.arch)
        files = locate(checkpoint)
        objects = [read_file(w, trust=s.trust, safe_globals=cls.safe_globals) for w in files.weights]
        raw: Any = objects[0] if len(objects) == 1 else {k: v for part in objects for k, v in part.items()}
        state_dict = cls.state_dict_from_checkpoint(raw)
        load_strict(loaded.model, state_dict, source=str(checkpoint))  # keys and shapes checked before any copy
        self.loaded = replace(loaded, card=replace(loaded.card, checkpoint=card.checkpoint),
                              checkpoint_sha256=files.sha256)
        return self.loaded
