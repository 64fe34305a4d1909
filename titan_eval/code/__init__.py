"""Model-written code, run offline in a sandbox: the pass@k estimator (`pass_at_k`), per-program limits
(`Limits`), the executor (`Executor`: bubblewrap or, with --unsafe-code, a plain subprocess) and the run's session
the code tasks use (`session`)."""

from titan_eval.code.executor import Executor
from titan_eval.code.limits import Limits
from titan_eval.code.outcome import OUTCOMES, ProgramResult
from titan_eval.code.pass_at_k import mean_pass_at_k, pass_at_k, pass_at_k_per_problem

__all__ = ["Executor", "Limits", "OUTCOMES", "ProgramResult", "mean_pass_at_k", "pass_at_k", "pass_at_k_per_problem"]
