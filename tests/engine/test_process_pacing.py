"""A run spaces the cyclic garbage collector's young collections out while it works and gives the
threshold back when it ends, whether it succeeds or fails."""
from __future__ import annotations

import gc
from datetime import datetime

import pytest

from leadctl.engine import process
from leadctl.engine.process import process_leads
from leadctl.engine.routing import RoutingStep

from conftest import add_leads

NOW = datetime(2026, 12, 1, 10, 0)


class _Seen(RoutingStep):
    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.thresholds: list[tuple[int, int, int]] = []
        self.fail = fail

    def chunk(self, ctx, leads):
        self.thresholds.append(gc.get_threshold())
        if self.fail:
            raise RuntimeError("disk full")
        super().chunk(ctx, leads)


@pytest.fixture
def threshold():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_a_run_collects_young_garbage_less_often_and_restores_the_threshold(store, rules, threshold):
    add_leads(store, 3, country="US")
    step = _Seen()
    process_leads(store, rules, now=NOW, steps=[step])
    assert step.thresholds == [(process.GC_GEN0, 10, 10)]
    assert gc.get_threshold() == (700, 10, 10)


def test_a_failed_run_restores_the_threshold_too(store, rules, threshold):
    add_leads(store, 3, country="US")
    with pytest.raises(RuntimeError):
        process_leads(store, rules, now=NOW, steps=[_Seen(fail=True)])
    assert gc.get_threshold() == (700, 10, 10)


def test_a_higher_threshold_set_by_the_caller_is_kept(store, rules, threshold):
    gc.set_threshold(10 * process.GC_GEN0, 10, 10)
    add_leads(store, 3, country="US")
    step = _Seen()
    process_leads(store, rules, now=NOW, steps=[step])
    assert step.thresholds == [(10 * process.GC_GEN0, 10, 10)]
    assert gc.get_threshold() == (10 * process.GC_GEN0, 10, 10)
