"""`sentinel worker --detach` and the demo wait for a starting worker as long as it makes
progress (a restore after the story took ~110 s, and a fixed 90 s wait called it a failure), and
fail only when it stalls or exits, saying which. A child process plays the worker."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from streams.worker import READY_MARKER, NotReady, wait_for_ready

STALL = 3.0  # the tests' stall: the slow child below moves ten times as often


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "worker.log"


@contextmanager
def child(script: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", script, str(log), READY_MARKER])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_a_start_longer_than_the_stall_is_waited_for_while_it_makes_progress(log: Path) -> None:
    # Restoring: a log line every 0.3 s for four stalls' time, then ready.
    script = (
        "import sys, time\n"
        "with open(sys.argv[1], 'a') as log:\n"
        f"    for i in range({int(4 * STALL / 0.3)}):\n"
        "        print('restored a partition', i, file=log, flush=True); time.sleep(0.3)\n"
        "    print(sys.argv[2], file=log, flush=True)\n"
        "    time.sleep(60)\n"
    )
    with child(script, log) as process:
        wait_for_ready(log, 0, process.pid, lambda: process.poll() is None, stall=STALL)
        assert READY_MARKER in log.read_text()


def test_a_start_that_stalls_fails_saying_so(log: Path) -> None:
    script = "import sys, time\nopen(sys.argv[1], 'a').write('starting\\n')\ntime.sleep(60)\n"
    stalled = pytest.raises(NotReady, match="no progress towards ready for 3 s")
    with child(script, log) as process, stalled:
        wait_for_ready(log, 0, process.pid, lambda: process.poll() is None, stall=STALL)


def test_a_worker_that_exits_while_starting_fails_at_once(log: Path) -> None:
    with child("import sys\nsys.exit(3)\n", log) as process:
        process.wait()
        with pytest.raises(NotReady, match="exited while starting"):
            wait_for_ready(log, 0, process.pid, lambda: process.poll() is None, stall=600)
