"""TFX's Evaluator executor, run with tfxkit's fix of TFMA's cross-slice validation.

TFMA's ``metrics_validator`` reports every cross-slice threshold missing (so a model whose
fairness gap is gated, ``eval.fairness.gate.*.max_gap``, is never blessed); the fix is
``tfxkit.pipelines.fairness.fix_cross_slice_validation``. Nothing applies it at import:
the factory gives the Evaluator this executor where a gap is gated, and it applies the fix
for its own run only (TFMA's function is back when the run ends).
"""
from __future__ import annotations

from typing import Any, Dict, List

from tfx.components.evaluator import executor as evaluator_executor


class Executor(evaluator_executor.Executor):
    """The stock Evaluator, with TFMA's cross-slice validation fixed while it runs."""

    def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
           exec_properties: Dict[str, Any]) -> None:
        from tfxkit.pipelines import fairness

        with fairness.fixed_cross_slice_validation():
            super().Do(input_dict, output_dict, exec_properties)


def executor_spec():
    """This executor as a BeamExecutorSpec (a component's ``executor_spec``)."""
    from tfx.dsl.components.base import executor_spec as spec

    return spec.BeamExecutorSpec(Executor)
