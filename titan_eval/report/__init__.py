"""Reports over stored runs: reading them, paired statistics, the comparison table and the CI gate.

Public API:
    load_run(path) -> StoredRun                                  (a run dir or its run.json; docs/results-format.md)
    compare_runs(runs, baseline=None, literature=(), config) -> Comparison   (.to_markdown/.to_csv/.to_json)
    evaluate_gate(baseline, candidate, config) -> GateVerdict    (.passed, .to_markdown)
    load_literature(path_or_card) -> Literature                  (docs/literature-format.md)
"""

from titan_eval.report.compare import CompareConfig, Comparison, compare_runs
from titan_eval.report.gate import GateConfig, GateVerdict, evaluate_gate
from titan_eval.report.literature import Literature, load_literature
from titan_eval.report.runs import StoredRun, load_run

__all__ = [
    "CompareConfig",
    "Comparison",
    "GateConfig",
    "GateVerdict",
    "Literature",
    "StoredRun",
    "compare_runs",
    "evaluate_gate",
    "load_literature",
    "load_run",
]
