"""Model-written code and sampled-answer metrics: the pass@k estimator (`pass_at_k`)."""
