"""Task definitions: lm-eval YAMLs in the repo's `tasks/` folder (hellaswag, arc_*, the project's sample task),
offline data loaders for the original release files, doc selection (first-N / stratified), and the native suites."""
