"""Coalition sums built from the previous coalition's equal the from-scratch sums, bit for bit."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fl_node.hfl.coalition_sums import CoalitionSums, exact_quanta

MEMBERS = [f"0x{k:040x}" for k in range(12)]


def _quanta(seed: int, size: int = 257) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {m: rng.integers(-(2**20), 2**20, size, dtype=np.int64) for m in MEMBERS}


def _from_scratch(quanta, members):
    return np.sum([quanta[m] for m in sorted(members)], axis=0, dtype=np.int64)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), walks=st.lists(st.permutations(range(len(MEMBERS))), min_size=1, max_size=4))
def test_sums_along_permutation_walks_equal_the_from_scratch_sums(seed, walks):
    quanta = _quanta(seed)
    sums = CoalitionSums(quanta)
    for order in walks:
        prefix: set[str] = set()
        for k in order:
            prefix.add(MEMBERS[k])
            got = sums(frozenset(prefix))
            assert got.dtype == np.int64 and np.array_equal(got, _from_scratch(quanta, prefix))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), coalitions=st.lists(st.sets(st.sampled_from(MEMBERS), min_size=1), min_size=1, max_size=12))
def test_sums_of_any_sequence_of_coalitions_equal_the_from_scratch_sums(seed, coalitions):
    quanta = _quanta(seed)
    sums = CoalitionSums(quanta)
    returned = []
    for members in coalitions:
        returned.append(sums(frozenset(members)))
    # every answer is its own array: later requests leave earlier answers as they were
    for members, got in zip(coalitions, returned):
        assert np.array_equal(got, _from_scratch(quanta, members))


def test_covers_only_members_with_quanta_and_refuses_the_empty_coalition():
    quanta = _quanta(0)
    sums = CoalitionSums({m: quanta[m] for m in MEMBERS[:3]})
    assert sums.covers(frozenset(MEMBERS[:3])) and not sums.covers(frozenset(MEMBERS[2:4]))
    with pytest.raises(ValueError, match="at least one member"):
        sums(frozenset())


def test_exact_quanta_keep_only_values_that_their_integers_give_back():
    scale = 256.0
    exact = np.array([1.5, -0.25, 3.0])
    inexact = np.nextafter(exact, np.inf)
    quanta = exact_quanta({"a": exact, "b": inexact}, scale)
    assert list(quanta) == ["a"] and np.array_equal(quanta["a"], [384, -64, 768])
