"""What the demo says of the board (issue 20's finding: with port 9464 taken the demo printed the
board's URL from an older run's log line)."""

from __future__ import annotations

from workbench.demo import announced_board

EARLIER = "[2026-12-01 10:00:00,000] [111] [INFO] gate board on http://127.0.0.1:9464/ (metrics)"
TAKEN = (
    "[2026-12-02 10:00:00,000] [222] [ERROR] gate board: cannot listen on 127.0.0.1:9464 "
    "(address already in use): no gate board and no /metrics until it is free; set ..."
)
BOUND = "[2026-12-02 10:00:30,000] [222] [INFO] gate board on http://127.0.0.1:9464/ (metrics)"


def test_the_url_is_the_running_workers_not_an_earlier_runs() -> None:
    log = f"{EARLIER}\n{TAKEN}\n"
    said = announced_board(log, 222)
    assert said is not None and said.startswith("not served: 127.0.0.1:9464 is taken")
    assert "SENTINEL_HTTP_PORT" in said
    assert announced_board(f"{log}{BOUND}\n", 222) == "http://127.0.0.1:9464/"  # tried again
    assert announced_board(EARLIER, 222) is None  # nothing from this run yet
    assert announced_board(EARLIER, 111) == "http://127.0.0.1:9464/"
