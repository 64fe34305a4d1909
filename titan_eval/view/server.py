"""The viewer's HTTP server (standard library `http.server`, one thread per request): read-only, GET/HEAD only.

    /                          index.html
    /static/<name>             the page's scripts and stylesheet (static_files.asset_names)
    /api/<document path>       a document as JSON (api.ViewerData.document); 404 {"error"} when there is none
    /files/<run id>/<name>     a file of a found run (api.ViewerData.file): run.json, samples.jsonl, plots

On start a daemon thread builds the runs list and every samples document (`ViewerData.warm`), so the first page
opened does not wait for the imports and the rows. Any path with a `.` or `..` segment (raw or percent-encoded) is refused with 403 before anything is looked up.
Responses carry a Content-Security-Policy that allows only the server's own scripts.
"""

from __future__ import annotations

import json
import mimetypes
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from titan_eval.errors import NotFoundError, TitanEvalError
from titan_eval.view import static_files
from titan_eval.view.api import ViewerData

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class ViewerHandler(BaseHTTPRequestHandler):
    """Answers the routes of the module docstring from `self.server.data`."""

    server_version = "titan-eval-view"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(send_body=False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    def _answer(self, send_body: bool) -> None:
        path = urlsplit(self.path).path
        raw = path.split("/")
        if any(seg in (".", "..") or unquote(seg) in (".", "..") or "/.." in unquote(seg) or "\\" in unquote(seg)
               for seg in raw[1:]):
            return self._send(HTTPStatus.FORBIDDEN, b'{"error": "path refused"}', "application/json", send_body)
        data: ViewerData = self.server.data  # type: ignore[attr-defined]
        try:
            if path in ("/", "/index.html"):
                body, kind = static_files.index_html().encode(), "text/html; charset=utf-8"
            elif path.startswith("/static/") and raw[2:] and len(raw) == 3 and raw[2] in static_files.asset_names():
                name = raw[2]
                body = static_files.read(name).encode()
                kind = static_files.ASSET_TYPES["." + name.rsplit(".", 1)[1]]
            elif path.startswith("/api/"):
                body, kind = data.document_text(path[len("/api/"):]).encode(), "application/json"
            elif path.startswith("/files/") and len(raw) == 4:
                target = data.file(unquote(raw[2]), unquote(raw[3]))
                body = target.read_bytes()
                kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
                if target.suffix in (".json", ".jsonl", ".md"):
                    kind = "text/plain; charset=utf-8"  # shown as text, never rendered
            else:
                raise NotFoundError(f"nothing at {path}")
        except NotFoundError as err:
            return self._send(HTTPStatus.NOT_FOUND, json.dumps({"error": str(err)}).encode(), "application/json",
                              send_body)
        except TitanEvalError as err:  # an unreadable run: say so on the page
            return self._send(HTTPStatus.UNPROCESSABLE_ENTITY, json.dumps({"error": str(err)}).encode(),
                              "application/json", send_body)
        self._send(HTTPStatus.OK, body, kind, send_body)

    def _send(self, status: HTTPStatus, body: bytes, kind: str, send_body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        if send_body:
            self.wfile.write(body)


class ViewerServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer holding the viewer's data; `url` is where it listens."""

    daemon_threads = True

    def __init__(self, data: ViewerData, host: str = "127.0.0.1", port: int = 0, verbose: bool = False) -> None:
        self.data = data
        self.verbose = verbose
        super().__init__((host, port), ViewerHandler)
        threading.Thread(target=data.warm, name="titan-view-warm", daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}/"
