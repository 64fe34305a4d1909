"""The page's own files (`static/`): the index template and the scripts and stylesheet it names, read from the
installed package."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources

INDEX = "index.html"
DATA_SLOT = "<!--DATA-->"
ASSET_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
SCRIPT_TAG = re.compile(r'<script src="static/([a-z_]+\.js)"></script>')
STYLE_TAG = re.compile(r'<link rel="stylesheet" href="static/([a-z_]+\.css)">')


def asset_names() -> list[str]:
    """Names of the static files besides index.html (the only ones the server hands out under /static/)."""
    folder = resources.files("titan_eval.view") / "static"
    return sorted(p.name for p in folder.iterdir() if p.name != INDEX and p.name.endswith(tuple(ASSET_TYPES)))


def read(name: str) -> str:
    """A static file's text."""
    return (resources.files("titan_eval.view") / "static" / name).read_text(encoding="utf-8")


def index_html(data_tag: str = "") -> str:
    """index.html with `data_tag` (an export's data script, or nothing for the server) in its data slot."""
    return read(INDEX).replace(DATA_SLOT, data_tag)


INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
INLINE_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


def inline_html(data_script: str) -> str:
    """index.html with its stylesheet, its scripts and `data_script` (JavaScript) inlined: one self-contained file,
    with a Content-Security-Policy that lets only those exact scripts and styles run (by their sha256)."""
    page = index_html(f"<script>{data_script}</script>")
    page = STYLE_TAG.sub(lambda m: f"<style>\n{read(m.group(1))}</style>", page)
    page = SCRIPT_TAG.sub(lambda m: f"<script>\n{_script_safe(read(m.group(1)))}</script>", page)
    return page.replace("<head>", f'<head>\n<meta http-equiv="Content-Security-Policy" content="{_csp(page)}">', 1)


def _csp(page: str) -> str:
    """A policy allowing the page's own inline scripts and styles (by hash), data: images, nothing else."""
    def hashes(pattern: re.Pattern[str]) -> str:
        return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(m.group(1).encode()).digest()).decode()}'"
                        for m in pattern.finditer(page))

    return (f"default-src 'none'; script-src {hashes(INLINE_SCRIPT)}; style-src {hashes(INLINE_STYLE)}; "
            "img-src data:; base-uri 'none'; form-action 'none'")


def _script_safe(source: str) -> str:
    if "</script" in source.lower():
        raise ValueError("a static script contains '</script'")  # our own files: a bug, not an input error
    return source
