"""Regression floor on the labelled corpus of real logs (../shared/corpus, issue 11).

Scored in-process with score.py's own logic (bench/corpus.py loads it): about 5-10 s
instead of a minute for 63 CLI subprocesses. Fails when files read or macro-F1 drop
below what issue 11 reached, minus a small margin (one file, 0.03).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import corpus  # noqa: E402

REACHED_READ = 63  # of 63 files
REACHED_MACRO_F1 = 0.91
REACHED_HEALTHY_ALARMS = 1  # of 28 healthy files
MARGIN_F1 = 0.03

pytestmark = [pytest.mark.skipif(not (corpus.CORPUS / "score.py").is_file(),
                                 reason=f"labelled corpus not found at {corpus.CORPUS}"),
              pytest.mark.slow]  # every corpus file diagnosed


@pytest.fixture(scope="module")
def score() -> corpus.Score:
    return corpus.run_tool(corpus.traindoc_findings)


def test_every_corpus_file_is_read(score: corpus.Score) -> None:
    assert score.read >= REACHED_READ - 1, score.unreadable


def test_macro_f1_holds(score: corpus.Score) -> None:
    assert score.macro_f1 is not None and score.macro_f1 >= REACHED_MACRO_F1 - MARGIN_F1, corpus.report(score, True)


def test_healthy_false_alarms_do_not_grow(score: corpus.Score) -> None:
    assert len(score.alarms) <= REACHED_HEALTHY_ALARMS + 1, score.alarms
