"""Logs written by the real Keras and Lightning, with a fault injected, get the right verdict.

A subset of bench/fault_logs.py (two libraries, three scenarios: a few seconds of training
each) so the path from a library's own file layout to the verdict stays covered.
"""

from __future__ import annotations

import importlib.util

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("keras", "lightning", "sklearn")),
    reason="keras, lightning and scikit-learn are needed to write the logs")]

from bench.fault_logs import LABEL_RULES, build  # noqa: E402

WANTED = dict(LABEL_RULES)
MAPPED = set(WANTED.values())


@pytest.mark.parametrize("lib", ["keras", "lightning"])
def test_fault_verdicts(lib, tmp_path):
    cases = build([lib], ["overfit_short", "diverge", "healthy_short"], tmp_path)
    for case in cases:
        assert case.dropped is None, f"{lib}/{case.scenario.name} no longer shows its fault: {case.dropped}"
        assert case.error is None, case.error
        want = WANTED.get(case.scenario.label or "")
        if want:
            assert want in case.fired, f"{lib}/{case.scenario.name}: {want} missed (fired {sorted(case.fired)})"
        assert not (case.fired - {want}) & MAPPED, f"{lib}/{case.scenario.name}: false alarm {sorted(case.fired)}"
