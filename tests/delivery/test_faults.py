"""The faults benchmark's counting (benchmarks/tally.py): lost and duplicated notices and answers from a made-up
transcript. The benchmark itself (`python -m benchmarks faults --quick`) takes minutes, too long for the suite."""

from __future__ import annotations

from benchmarks.faults import Result
from benchmarks.tally import Expected, Seen, Tally, marker, tally

ALICE, BOB, CAROL = 101, 102, 103


def _expected() -> Expected:
    expected = Expected()
    for n in (1, 2, 3):
        expected.queue(marker(n), at=10.0)
    expected.ask(ALICE, 10.0)
    expected.ask(ALICE, 11.0)
    expected.ask(BOB, 10.5)
    return expected


def test_faults_tally_counts_nothing_wrong_when_everything_arrived_once() -> None:
    seen = [Seen(900, f"🎉 You are now a volunteer in {marker(n)}.", 10.5 + n) for n in (1, 2, 3)]
    seen += [Seen(ALICE, "help", 10.2), Seen(ALICE, "help", 12.0), Seen(BOB, "help", 11.0)]
    t = tally(_expected(), seen)
    assert (t.notices, t.updates, t.lost, t.duplicated) == (3, 3, 0, 0)
    assert t.max_delay == 3.5  # notice 3: queued at 10.0, seen at 13.5


def test_faults_tally_finds_a_lost_notice_and_an_unanswered_message() -> None:
    seen = [Seen(900, marker(1), 11.0), Seen(901, marker(3), 11.0), Seen(ALICE, "help", 10.2)]
    t = tally(_expected(), seen)
    assert (t.notices_lost, t.updates_lost, t.duplicated) == (1, 2, 0)  # notice 2; Alice's second, Bob's


def test_faults_tally_counts_every_extra_copy_and_extra_answer() -> None:
    seen = [Seen(900, marker(n), 11.0) for n in (1, 2, 3)] + [Seen(901, marker(2), 12.0), Seen(902, marker(2), 13.0)]
    seen += [Seen(ALICE, "help", 10.2), Seen(ALICE, "help", 11.5), Seen(BOB, "help", 11.0), Seen(BOB, "help", 11.1)]
    t = tally(_expected(), seen)
    assert (t.notices_duplicated, t.updates_duplicated, t.lost) == (2, 1, 0)


def test_faults_tally_a_notice_in_a_writers_chat_is_not_an_answer() -> None:
    expected = Expected()
    expected.queue(marker(7), at=1.0)
    expected.ask(CAROL, 1.0)
    t = tally(expected, [Seen(CAROL, f"in {marker(7)}", 2.0)])
    assert (t.notices_lost, t.updates_lost) == (0, 1)


def test_faults_verdict_allows_duplicates_only_for_accepted_then_failed_calls() -> None:
    twice = Tally(notices=10, notices_duplicated=3)
    assert Result("r", twice, accepted_then_failed=1, unrecorded_at_kill=2).verdict == "ok"
    assert Result("r", twice, accepted_then_failed=2).verdict == "DUPLICATED"
    assert Result("r", Tally(notices=10, notices_lost=1), accepted_then_failed=0).verdict == "LOST"
