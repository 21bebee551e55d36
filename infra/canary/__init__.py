"""Canary rollout of newly pushed model versions, in plain Python (no server, no
TensorFlow): the policy that decides from both versions' live signals (``policy``) and the
log of every decision with its evidence (``decision_log``). The controller that applies
them to a running server is ``infra/serving``'s online service."""
