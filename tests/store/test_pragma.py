"""store.pragma_while: a connection's PRAGMA for the length of a block, its own value back after, also on failure."""
from __future__ import annotations

import sqlite3

import pytest

from leadctl.store import pragma_while


def test_a_pragma_holds_inside_the_block_and_comes_back_after_it_even_when_it_fails():
    con = sqlite3.connect(":memory:")
    con.execute("PRAGMA cache_size = -4096")
    with pragma_while(con, "cache_size", lambda own: own * 2):
        assert con.execute("PRAGMA cache_size").fetchone()[0] == -8192
    assert con.execute("PRAGMA cache_size").fetchone()[0] == -4096
    with pytest.raises(RuntimeError):
        with pragma_while(con, "cache_size", lambda own: -1024):
            raise RuntimeError("disk full")
    assert con.execute("PRAGMA cache_size").fetchone()[0] == -4096
