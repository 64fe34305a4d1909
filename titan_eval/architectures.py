"""Architecture names → where their classes live (`module:Class`). Kept outside `titan_eval.models`, whose
package imports torch, so that checking a name (a card lookup, `--model mamba`) stays cheap; the classes are
imported by `titan_eval.models.registry.get_architecture`."""

from __future__ import annotations

ARCHITECTURES: dict[str, str] = {
    "mamba": "titan_eval.models.mamba:MambaLM",
    "titan": "titan_eval.models.titan:TitanLM",
    "helix": "titan_eval.models.helix:HelixLM",
    "h64lm": "titan_eval.models.h64lm:H64LM",
}
