"""The Python mirror of the ledger's reward rule (the chain-side agreement is in test_ledger_properties)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incentive.rewards import MAX_ABS_SCORE, MAX_BUDGET, dropped_bitmap, split_rewards

scores_strategy = st.lists(
    st.one_of(st.integers(-(10**6), 10**6), st.integers(-MAX_ABS_SCORE, MAX_ABS_SCORE)), min_size=1, max_size=40
)


def test_rewards_are_proportional_to_positive_scores_rounded_down():
    split = split_rewards(100, [1, 1, 1, -4, 0])

    assert split.rewards == (33, 33, 33, 0, 0)
    assert (split.positive_sum, split.dust, split.paid) == (3, 1, 99)


def test_dropouts_earn_nothing_and_do_not_count():
    split = split_rewards(90, [1, 2, 1000], dropped=[False, False, True])

    assert split.rewards == (30, 60, 0) and split.dust == 0 and split.positive_sum == 3


def test_no_positive_score_leaves_the_whole_budget_as_dust():
    assert split_rewards(7, [0, -1]).dust == 7
    assert split_rewards(7, []).rewards == ()


@pytest.mark.parametrize(
    ("budget", "scores", "dropped"),
    [(-1, [1], None), (MAX_BUDGET + 1, [1], None), (1, [MAX_ABS_SCORE + 1], None), (1, [0.5], None), (1, [1, 2], [True])],
)
def test_out_of_range_input_is_refused(budget, scores, dropped):
    with pytest.raises(ValueError):
        split_rewards(budget, scores, dropped)


@given(st.integers(0, MAX_BUDGET), scores_strategy, st.data())
def test_conservation_and_proportionality(budget, scores, data):
    dropped = data.draw(st.lists(st.booleans(), min_size=len(scores), max_size=len(scores)))

    split = split_rewards(budget, scores, dropped)

    assert sum(split.rewards) + split.dust == budget
    assert 0 <= split.dust <= max(budget, 0)
    eligible = [i for i, (s, d) in enumerate(zip(scores, dropped)) if s > 0 and not d]
    if eligible:
        assert split.dust < len(eligible)  # each floor loses less than one unit
    for i, reward in enumerate(split.rewards):
        if i not in eligible:
            assert reward == 0
        else:  # floor(budget * s / sum) exactly
            assert reward * split.positive_sum <= budget * scores[i] < (reward + 1) * split.positive_sum
    for i in eligible:
        for j in eligible:
            if scores[i] >= scores[j]:
                assert split.rewards[i] >= split.rewards[j]


@given(st.lists(st.booleans(), max_size=700))
def test_dropped_bitmap_round_trips(flags):
    words = dropped_bitmap(flags)

    decoded = [bool(words[i // 256] >> (i % 256) & 1) if i // 256 < len(words) else False for i in range(len(flags))]
    assert decoded == flags
    assert not words or words[-1] != 0
