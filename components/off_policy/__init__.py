"""Off-policy evaluation of bandit policies from logged feedback (issue 16): IPS, SNIPS and
doubly robust estimates with bootstrap intervals. Plain numpy; see README.md."""
from .estimators import (ESTIMATORS, Estimate, action_indices, bootstrap_interval,
                         check_propensity, doubly_robust, effective_sample_size, ips,
                         ope_compare, ope_report, snips)

__all__ = ["ESTIMATORS", "Estimate", "action_indices", "bootstrap_interval",
           "check_propensity", "doubly_robust", "effective_sample_size", "ips", "ope_compare",
           "ope_report", "snips"]
