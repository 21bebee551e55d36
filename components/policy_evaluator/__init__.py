"""PolicyEvaluator: a bandit policy's off-policy evaluation gate (issue 16)."""
