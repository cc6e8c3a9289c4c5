"""`sentinel demo` itself, what `make demo` runs, against the test stack in a namespace of its
own: it starts its worker, sends six hazmat entries and their crews' antigens, and prints each
decision. Its sample is built to be decided one way each (workbench/demo.py): entries 1 and 4
present a NAT sampled 60 h before (held, then released on a negative antigen), entries 2 and 5
carry a positive escort (denied), the others are released."""

from __future__ import annotations

import re

from streams.settings import Settings
from tests.integration.test_clickhouse_story import sentinel
from workbench.detach import worker_name
from workbench.stack import Stack

ROW = re.compile(r"^(demo-\w+-(\d+)) +(\S+) +(release|hold|deny|\(none\)) +(\d+)? *(.*)$")


def test_the_demo_prints_each_entrys_decision_as_its_sample_was_built(fresh: Settings) -> None:
    try:
        done = sentinel(fresh.model_copy(update={"http_port": 0}), "demo", "--entries", "6")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        rows = {int(m[2]): m for line in done.stdout.splitlines() if (m := ROW.match(line))}
        assert sorted(rows) == list(range(6)), done.stdout
        outcomes = [rows[i][4] for i in range(6)]
        assert outcomes == ["release", "release", "deny", "release", "release", "deny"]
        for i in (2, 5):  # the positive escort's reason is printed
            assert "no_positive: positive antigen" in rows[i][6], rows[i][0]
        for i in (1, 4):  # held on its old NAT first, then released: a second revision
            assert int(rows[i][5]) >= 1 and "nat_48h" in rows[i][6]
        written = re.search(r"decisions: (\d+) rows \(one per revision\)", done.stdout)
        assert written is not None
        assert int(written[1]) == sum(int(rows[i][5]) + 1 for i in range(6))
        assert "The live gate board: http://127.0.0.1:" in done.stdout
    finally:
        Stack(fresh).worker(worker_name(fresh)).stop()
