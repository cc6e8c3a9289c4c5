"""The pid-file process manager, with real processes (sleep) and no network."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.stack._process import ManagedProcess, StackError, alive, wait_until


def managed(tmp_path: Path, marker: str = "sleep") -> ManagedProcess:
    return ManagedProcess("svc", tmp_path / "run", tmp_path / "logs" / "svc.log", marker)


def test_start_then_stop(tmp_path: Path) -> None:
    process = managed(tmp_path)
    pid = process.start(["sleep", "60"])
    assert process.pid() == pid and alive(pid)
    assert process.stop(timeout=5) is True
    assert not alive(pid)
    assert not process.pid_file.exists()
    assert process.stop() is False  # nothing left to stop


def test_a_process_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    process = managed(tmp_path, marker="ignores-term")
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    pid = process.start([sys.executable, "-c", code, "ignores-term"])
    wait_until(
        lambda: "ignores-term" in Path(f"/proc/{pid}/cmdline").read_text(),
        what="start",
        timeout=5,
        process=process,
    )
    assert process.stop(timeout=0.5) is True
    assert not alive(pid)


def test_a_process_that_died_says_why_until_it_is_stopped(tmp_path: Path) -> None:
    # `stack status` said only "stopped" of a worker that had stopped on an error.
    process = managed(tmp_path, marker="dies-saying")
    code = (
        "import sys; print('[2026-12-02 08:00:00,000] [1] [ERROR] noise Faust lives with'); "
        "print('[2026-12-02 08:00:01,000] [1] [CRITICAL] the sink stops: fix the password'); "
        "sys.exit(1)"
    )
    pid = process.start([sys.executable, "-c", code, "dies-saying"])
    os.waitpid(pid, 0)  # our child: its end
    assert process.pid() is None and process.pid_file.exists()
    assert process.last_words() == "the sink stops: fix the password"
    assert process.stop() is False
    assert not process.pid_file.exists()


def test_a_recycled_pid_is_never_signalled(tmp_path: Path) -> None:
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        process = managed(tmp_path, marker="kafka.Kafka")
        process.run_dir.mkdir(parents=True)
        process.pid_file.write_text(f"{stranger.pid}\n")  # a pid file left from another life
        assert process.pid() is None
        assert process.stop() is False
        assert alive(stranger.pid)
        assert not process.pid_file.exists(), "a stale pid file is cleaned up by stop"
    finally:
        stranger.kill()
        stranger.wait()


def test_wait_until_reports_a_crash_with_the_log(tmp_path: Path) -> None:
    process = managed(tmp_path, marker="crashes")
    process.start(
        [sys.executable, "-c", "import sys; print('boom: bad config'); sys.exit(3)", "crashes"]
    )
    with pytest.raises(StackError, match="exited while starting(.|\n)*boom: bad config"):
        wait_until(lambda: False, what="svc", timeout=10, process=process)


def test_a_kafka_cluster_id_never_looks_like_an_option() -> None:
    # One in 64 random ids started with "-", and the storage tool took it for an option.
    from workbench.stack.kafka import new_cluster_id

    ids = [new_cluster_id() for _ in range(5000)]
    assert not [i for i in ids if i.startswith("-")]
    assert {len(i) for i in ids} == {22}
    assert len(set(ids)) == len(ids)
