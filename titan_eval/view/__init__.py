"""`titan-eval view`: a read-only local web viewer for stored runs (docs/results-format.md).

The viewer is a few static pages (`static/`, vanilla JS, no build step, no network) that read JSON documents; the
documents are built here in Python with the same functions the CLI prints its tables with (`summary.markdown_summary`
for a run, `report.compare_runs` for a comparison), so the pages show the CLI's numbers.

    ViewerData(roots)            the documents: runs, run/<id>, samples/<id>, sample/<id>/<key>/<doc>, compare/<a>,<b>
    serve(data, host, port)      a stdlib HTTP server for them (`server.py`)
    export(data, out)            the same pages as static files, or one self-contained .html (`export.py`)

Glossary:
    run id     a found run's folder relative to the directory it was found under (`discover.py`), used in URLs
    document   one JSON answer of the viewer's API, named by its path (`api.py`); an export freezes them all
"""

from titan_eval.view.api import ViewerData
from titan_eval.view.discover import FoundRun, find_runs

__all__ = ["FoundRun", "ViewerData", "find_runs"]
