"""ISO 15118-3 sleep and wake-up tracking on a virtual clock."""

from __future__ import annotations

import pytest

from josev.slac.wakeup import SleepTracker, Wake


def toggles(t: SleepTracker, start: float, durations: list[float], gap: float = 0.3) -> float:
    """Drive B-C-B toggles with the given C durations; returns the time of the last B."""
    now = start
    for d in durations:
        assert t.cp("C1", now) is None
        now += d
        assert t.cp("B1", now) is None
        now += gap
    return now - gap


def test_one_toggle_wakes_once_the_sequence_is_over() -> None:
    t = SleepTracker()
    t.sleep(0.0)
    end = toggles(t, 10.0, [0.3])
    deadline = t.timer()
    assert deadline is not None and deadline > end
    assert t.handle_timer(deadline - 0.01) is None      # not yet: a second toggle may come
    assert t.handle_timer(deadline) == Wake("ev", 1)
    assert not t.asleep and t.timer() is None


def test_three_toggles_count_as_one_wake_up() -> None:
    t = SleepTracker()
    t.sleep(0.0)
    toggles(t, 5.0, [0.25, 0.3, 0.35])
    deadline = t.timer()
    assert deadline is not None
    assert t.handle_timer(deadline) == Wake("ev", 3)


def test_a_new_c_before_the_deadline_continues_the_sequence() -> None:
    t = SleepTracker()
    t.sleep(0.0)
    end = toggles(t, 1.0, [0.3])
    first_deadline = t.timer()
    assert first_deadline is not None
    t.cp("C1", end + 0.3)
    assert t.handle_timer(first_deadline) is None       # in C again: not over
    t.cp("B1", end + 0.6)
    deadline = t.timer()
    assert deadline is not None and t.handle_timer(deadline) == Wake("ev", 2)


@pytest.mark.parametrize("held", [0.05, 0.12, 0.5, 2.0])
def test_c_of_the_wrong_length_is_not_a_toggle(held: float) -> None:
    t = SleepTracker()
    t.sleep(0.0)
    toggles(t, 1.0, [held])
    assert t.timer() is None and t.asleep


def test_four_toggles_are_not_a_wake_up() -> None:
    t = SleepTracker()
    t.sleep(0.0)
    toggles(t, 1.0, [0.3, 0.3, 0.3, 0.3], gap=0.2)
    assert t.timer() is None and t.asleep


def test_toggles_while_awake_or_after_unplug_do_nothing() -> None:
    t = SleepTracker()
    toggles(t, 1.0, [0.3])
    assert t.timer() is None
    t.sleep(2.0)
    assert t.cp("A1", 2.5) is None
    assert not t.asleep
    toggles(t, 3.0, [0.3])
    assert t.timer() is None


def test_the_station_wakes_the_ev_only_from_sleep() -> None:
    t = SleepTracker()
    assert t.wake_from_station() is None
    t.sleep(0.0)
    assert t.wake_from_station() == Wake("station")
    assert t.wake_from_station() is None
