"""store.IdSet: the ids an import or activity import hands to `process`, as a bitmap; it answers as a set does."""
from __future__ import annotations

from hypothesis import given, strategies as st

from leadctl.store import IdSet


class _Small(IdSet):
    """The same, with a bitmap of 64 ids: the ids past it (kept in a set) come up often."""

    BITMAP_IDS = 64


# Ids in the bitmap, around its end and past it, and negative ones.
_ids = st.one_of(st.integers(0, 70), st.integers(-3, -1))


@given(first=st.lists(_ids, max_size=40), then=st.lists(_ids, max_size=40), probe=_ids)
def test_an_idset_holds_what_a_set_holds_in_ascending_order(first, then, probe):
    ids, ref = _Small(first), set(first)
    ids.update(then)
    ref.update(then)
    for i in then[:3]:
        ids.add(i)
    assert list(ids) == sorted(ref)
    assert len(ids) == len(ref) and bool(ids) == bool(ref)
    assert ids == ref and ids == _Small(ref) and ids == IdSet(ref) and (probe in ids) == (probe in ref)
    assert (ids == ref | {probe}) == (probe in ref)
    ids.clear()
    assert not ids and list(ids) == [] and ids == set()


def test_a_million_ids_take_a_bit_each():
    ids = IdSet(range(1, 1_000_001))
    assert len(ids) == 1_000_000 and 1_000_000 in ids and 0 not in ids and 1_000_001 not in ids
    assert len(ids._bits) < 300_000  # bytes, where a set of these ints takes ~60 MB
