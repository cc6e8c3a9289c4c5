"""Publishing a rule set changes decisions on the running worker, without a restart; the
published set and the bundled one are archived in ClickHouse ``rulesets`` with their text and
hash, and every decision's ``ruleset_hash`` names one of them."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from streams.progress import wait_while_moving
from streams.rules import DEFAULT_RULESET
from streams.settings import Settings
from tests.integration import story
from tests.integration.helpers import STALL, Tail, Worker, poll_query, query, settings_env
from tests.integration.test_rules_story import decided, send


def test_a_24h_nat_window_applies_without_a_restart(
    settings: Settings, worker: Worker, tmp_path: Path
) -> None:
    decisions = Tail(settings, "sentinel.decisions")
    try:
        driver = story.people(1)[0]
        send(settings, story.entry("before", [driver], nat_ages=[30], hazmat=False))
        before = decided(decisions, "before")
        assert (before.outcome, before.ruleset_version) == ("release", "jinshan-2022.2")

        strict = tmp_path / "strict.yaml"
        strict.write_text(
            DEFAULT_RULESET.read_text()
            .replace("window: 48h", "window: 24h")
            .replace('version: "jinshan-2022.2"', 'version: "strict-24h"')
        )
        published = subprocess.run(
            [sys.executable, "-m", "streams.cli", "rules", "publish", str(strict)],
            env=settings_env(settings, kafka_user="worker"),
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        assert "published rule set strict-24h" in published.stdout
        wait_while_moving(
            lambda: "rule set strict-24h in force" in worker.log(),
            worker.signs,
            what="the new rule set in force",
            stall=STALL,
            interval=0.2,
        )

        at = story.T0 + timedelta(hours=1)
        other = story.people(1)[0]
        send(
            settings,
            story.entry("after", [other], at=at, nat_ages=[30], hazmat=False, plate="沪C24680"),
        )
        after = decided(decisions, "after")
        assert (after.outcome, after.ruleset_version) == ("hold", "strict-24h")
        nat = next(r for r in after.rules if r.rule == "nat_48h")
        assert "within 24 h" in nat.reason
        assert worker.process.poll() is None, "the same worker process, never restarted"
    finally:
        decisions.close()
    archived = poll_query(
        settings,
        "SELECT version, content_hash, text FROM rulesets FINAL "
        "WHERE version IN ('jinshan-2022.2', 'strict-24h') ORDER BY version",
        {},
        rows=2,
    )
    assert [row[0] for row in archived] == ["jinshan-2022.2", "strict-24h"]
    bundled, published = archived
    assert bundled[2] == DEFAULT_RULESET.read_text() and published[2] == strict.read_text()
    for _, content_hash, text in archived:  # the hash is the text's SHA-256 (its first 16)
        assert content_hash == hashlib.sha256(text.encode()).hexdigest()[:16]
    assert (before.ruleset_hash, after.ruleset_hash) == (bundled[1], published[1])
    poll_query(  # both decisions written
        settings,
        "SELECT entry_id FROM decisions FINAL WHERE entry_id IN ('before', 'after')",
        {},
        rows=2,
    )
    unresolved = query(
        settings,
        "SELECT count() FROM decisions FINAL WHERE (ruleset_version, ruleset_hash) NOT IN "
        "(SELECT version, content_hash FROM rulesets)",
    )
    assert unresolved == [(0,)], "a decision names a rule set the archive does not hold"
