"""`make bench` at any size: a measure takes what the bench's events hold and says so (the burst
asked for 5,000 entries of 20,000 events holding about 3,000, and waited for them in vain)."""

from __future__ import annotations

from workbench.bench import bench_records, first_entries


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
