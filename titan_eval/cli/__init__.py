"""The `titan-eval` command line: the only place that prints for humans or picks exit codes."""
