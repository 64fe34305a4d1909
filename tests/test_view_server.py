"""The viewer's HTTP server: local by default (a warning line otherwise), read-only, serves only the found runs'
own files (no `..`, no other file of the folder, no path outside it), JSON errors, a strict Content-Security-Policy."""

from __future__ import annotations

import http.client
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from report_helpers import write_run
from view_helpers import serving


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """Two small synthetic runs (no model needed), a secret beside them and a file in a run folder not served."""
    root = tmp_path / "results"
    write_run(root / "a", {"t": {"acc": [1.0, 0.0, 1.0, 0.0]}})
    write_run(root / "deeper" / "b", {"t": {"acc": [0.0, 0.0, 1.0, 1.0]}})
    (tmp_path / "secret.json").write_text('{"secret": true}')
    (root / "a" / "notes.txt").write_text("not a run file")
    (root / "a" / "plot.png").write_bytes(b"\x89PNG fake")
    return root


def _get(server: Any, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request(method, path)  # sent as is: no client-side normalisation of `..`
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_serves_pages_documents_and_run_files(results: Path) -> None:
    with serving([results]) as server:
        assert server.server_address[0] == "127.0.0.1"
        status, headers, body = _get(server, "/")
        assert status == 200 and b"static/main.js" in body
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert _get(server, "/static/main.js")[0] == 200
        status, _, body = _get(server, "/api/runs")
        assert status == 200 and [r["id"] for r in json.loads(body)] == ["a", "deeper/b"]
        assert _get(server, "/api/run/deeper%2Fb")[0] == 200
        status, headers, body = _get(server, "/files/a/run.json")
        assert status == 200 and headers["content-type"].startswith("text/plain") and json.loads(body)
        assert _get(server, "/files/a/plot.png")[0] == 200
        assert _get(server, "/api/runs", method="HEAD")[0] == 200


@pytest.mark.parametrize("path", [
    "/files/a/../../secret.json", "/files/a/%2e%2e%2f%2e%2e%2fsecret.json", "/files/..%2F..%2Fsecret.json/x",
    "/static/../api.py", "/api/run/..%2F..", "/files/a/notes.txt", "/files/a/.lock", "/files/nope/run.json",
    "/files/a%2F..%2F..%2Fsecret.json/run.json", "/api/nothing", "/files/a/..", "/../secret.json",
    "/static/view_helpers.py", "/files/deeper/b/run.json",
])
def test_refuses_anything_but_the_runs_files(results: Path, path: str) -> None:
    with serving([results]) as server:
        status, headers, body = _get(server, path)
    assert status in (403, 404), (path, status)
    assert headers["content-type"] == "application/json" and "error" in json.loads(body)
    assert b"secret" not in body.replace(b"secret.json", b"")


def test_a_run_folder_symlinked_outside_is_not_followed(results: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write_run(outside / "c", {"t": {"acc": [1.0, 0.0]}})
    (results / "link").symlink_to(outside, target_is_directory=True)
    with serving([results]) as server:
        assert [r["id"] for r in json.loads(_get(server, "/api/runs")[2])] == ["a", "deeper/b"]


def test_only_get_and_head(results: Path) -> None:
    with serving([results]) as server:
        assert _get(server, "/api/runs", method="POST")[0] == 501


def test_cli_warns_when_host_is_not_local_and_prints_the_url(results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli_helpers import invoke
    from titan_eval.view import server as server_module

    served: list[str] = []
    monkeypatch.setattr(server_module.ViewerServer, "serve_forever", lambda self, *a, **k: served.append(self.url))
    local = invoke("view", str(results), "--port", "0")
    assert local.returncode == 0 and "warning" not in local.stderr
    assert "2 run(s) at http://127.0.0.1:" in local.stdout
    wide = invoke("view", str(results), "--port", "0", "--host", "0.0.0.0")
    assert wide.returncode == 0 and "warning" in wide.stderr and "0.0.0.0" in wide.stderr
    assert len(served) == 2


def test_cli_refuses_a_missing_folder(tmp_path: Path) -> None:
    from cli_helpers import invoke

    done = invoke("view", str(tmp_path / "nowhere"), "--port", "0")
    assert done.returncode == 2 and "not a directory" in done.stderr
    shutil.rmtree(tmp_path, ignore_errors=True)
