"""A run uses a smaller SQLite page cache than the store's connections (it reads and writes leads in id
order), and gives each connection its own size back when it ends, whether it succeeds or fails."""
from __future__ import annotations

from datetime import datetime

import pytest

from leadctl.engine import process
from leadctl.engine.process import process_leads
from leadctl.engine.routing import RoutingStep

from conftest import add_leads, sqlite_only

NOW = datetime(2026, 12, 1, 10, 0)


class _Sizes(RoutingStep):
    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.sizes: list[int] = []
        self.fail = fail

    def chunk(self, ctx, leads):
        self.sizes.append(ctx.conn.exec_driver_sql("PRAGMA cache_size").scalar())
        if self.fail:
            raise RuntimeError("disk full")
        super().chunk(ctx, leads)


def _size(store) -> int:
    with store.connect() as conn:
        return conn.exec_driver_sql("PRAGMA cache_size").scalar()


@sqlite_only
@pytest.mark.parametrize("fail", [False, True])
def test_a_run_pages_in_a_small_cache_and_gives_the_size_back(store, rules, monkeypatch, fail):
    monkeypatch.setattr(process, "CHUNK", 3)
    add_leads(store, 7)
    before = _size(store)
    step = _Sizes(fail)
    if fail:
        with pytest.raises(RuntimeError):
            process_leads(store, rules, now=NOW, steps=[step])
    else:
        process_leads(store, rules, now=NOW, steps=[step])
    assert step.sizes and set(step.sizes) == {-process.RUN_CACHE_KIB}
    assert before == -65536
    assert _size(store) == before
