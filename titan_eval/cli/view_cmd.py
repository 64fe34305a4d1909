"""`titan-eval view`: serve the local web viewer for stored runs, or `--export` it as static files
(`titan_eval.view`); imported lazily so `titan-eval --help` stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from titan_eval.cli.errors import exits_on_error, err_console
from titan_eval.errors import UsageError

if TYPE_CHECKING:
    from titan_eval.view import ViewerData

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT_PORT = 8765

DirsArg = Annotated[Optional[list[Path]], typer.Argument(
    help="Results folders (searched recursively) or run folders; default: results/.", show_default=False)]


def view(
    dirs: DirsArg = None,
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = DEFAULT_PORT,
    host: Annotated[str, typer.Option(help="Address to bind; anything but 127.0.0.1 exposes the runs.")] = "127.0.0.1",
    open_browser: Annotated[bool, typer.Option("--open", help="Open the viewer in a web browser.")] = False,
    export: Annotated[Optional[Path], typer.Option(
        "--export", help="Write the viewer as static files to this folder (or one file, if it ends in .html) "
                         "instead of serving it.", show_default=False)] = None,
) -> None:
    """Read-only web viewer of runs, samples, think traces and paired comparisons (127.0.0.1 by default)."""
    from titan_eval.view import ViewerData

    roots = dirs or [Path("results")]
    data = ViewerData(roots)
    if export is not None:
        from titan_eval.view.export import export as write_export

        written = write_export(data, export)
        typer.echo(f"exported {len(data.run_ids())} run(s) to {written}")
        return
    _serve(data, host, port, open_browser)


def _serve(data: "ViewerData", host: str, port: int, open_browser: bool) -> None:
    from titan_eval.view.server import ViewerServer

    if host not in LOCAL_HOSTS:
        err_console.print(f"[bold yellow]warning:[/] serving on {host}: every machine that can reach it can read "
                          "these runs (the viewer has no login)", highlight=False)
    try:
        server = ViewerServer(data, host, port)
    except OSError as err:
        raise UsageError(f"cannot listen on {host}:{port}: {err.strerror or err}; pick another --port") from err
    n = len(data.run_ids())
    typer.echo(f"titan-eval view: {n} run(s) at {server.url}  (Ctrl-C stops)")
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def register(app: typer.Typer) -> None:
    """Add `view` to the app."""
    app.command("view")(exits_on_error(view))
