"""Make `lm_eval --model titan-eval` work: lm-eval 0.4.13 has no plugin entry points, so a one-line `.pth` file
in site-packages installs an import hook that, the moment `lm_eval.api.registry` is imported, registers
`titan-eval` as a lazy placeholder ("titan_eval.adapter:TitanEvalLM"). Nothing else is imported at start-up.

    python -m titan_eval.lm_eval_hook --install     # writes titan_eval_lm_eval.pth (the Makefile does this)
    python -m titan_eval.lm_eval_hook --uninstall
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import sysconfig
from pathlib import Path
from types import ModuleType

TARGET = "lm_eval.api.registry"
PLACEHOLDER = "titan_eval.adapter:TitanEvalLM"
PTH_NAME = "titan_eval_lm_eval.pth"


def register_placeholder(registry_module: ModuleType) -> None:
    """Register the adapter under its names without importing it (lm-eval materialises it on first use)."""
    registry = registry_module.model_registry
    for alias in ("titan-eval", "titan_eval"):
        if alias not in registry:
            registry.register(alias, target=PLACEHOLDER)


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader) -> None:
        self.inner = inner

    def create_module(self, spec):  # type: ignore[no-untyped-def]
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        register_placeholder(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
        if fullname != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


def activate() -> None:
    """Called from the .pth file at interpreter start-up."""
    if TARGET in sys.modules:
        register_placeholder(sys.modules[TARGET])
    elif not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def main(argv: list[str]) -> int:
    pth = Path(sysconfig.get_paths()["purelib"]) / PTH_NAME
    if argv == ["--install"]:
        pth.write_text("import titan_eval.lm_eval_hook as _h; _h.activate()\n")
        print(f"installed {pth}")
        return 0
    if argv == ["--uninstall"]:
        pth.unlink(missing_ok=True)
        print(f"removed {pth}")
        return 0
    print("usage: python -m titan_eval.lm_eval_hook --install | --uninstall", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
