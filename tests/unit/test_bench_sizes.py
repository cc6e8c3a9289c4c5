"""`make bench` at any size: a measure takes what the bench's events hold and says so (the burst
asked for 5,000 entries of 20,000 events holding about 3,000, and waited for them in vain); and
how the restart's readiness is timed."""

from __future__ import annotations

from streams.worker import READY_MARKER
from workbench.bench import bench_records, first_entries, logged_to_ready


def test_a_burst_of_more_entries_than_the_bench_holds_takes_all_it_holds() -> None:
    records = bench_records(20_000)
    held = sum(r["topic"] == "gate.entries" for r in records)
    assert held < 5_000  # the case of the finding
    taken, counted = first_entries(records, 5_000)
    assert (len(taken), counted) == (len(records), held)


def test_a_burst_stops_at_its_last_entry() -> None:
    records = bench_records(2_000)
    taken, counted = first_entries(records, 100)
    assert counted == 100
    assert sum(r["topic"] == "gate.entries" for r in taken) == 100
    assert taken[-1]["topic"] == "gate.entries"
    assert taken == records[: len(taken)]


def test_ready_is_timed_from_the_worker_s_first_log_line() -> None:
    log = (
        "[2026-12-08 00:46:34,558] [4607] [INFO] [^Worker]: Starting... \n"
        "| a table Faust prints |\n"
        "[2026-12-08 00:46:35,999] [4607] [INFO] partition 10 restored\n"
        f"[2026-12-08 00:46:36,497] [4607] [INFO] {READY_MARKER}: 225 partitions assigned\n"
        f"[2026-12-08 00:47:00,000] [4607] [INFO] {READY_MARKER}: after a rebalance\n"
    )
    assert logged_to_ready(log) == 1.939
