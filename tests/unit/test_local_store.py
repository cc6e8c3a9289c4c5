"""The decide stage's local store (``streams/agents/local.py``): a partition's snapshot comes back
as it was saved, replaces the one before, and is not used once a tombstone written after it may
be gone."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from streams.agents import local
from streams.agents.local import Anchor, LocalStore, digest

ANCHOR = Anchor(41, b"park-1\x1fc:", digest(b"[1,2,3]"))


def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store" / "state.sqlite", "p.sentinel.decide-state")


def test_a_snapshot_comes_back_as_it_was_saved_for_its_partition_only(tmp_path: Path) -> None:
    saved = store(tmp_path)
    grouped = {"park-1": {"c:": b"[1,2,3]", "e:x": b"{}"}, "\x1drollups": {"k": b"{}"}}
    saved.save(3, ANCHOR, grouped)
    loaded = store(tmp_path).load(3)
    assert loaded is not None
    assert loaded.anchor == ANCHOR and loaded.grouped == grouped
    assert store(tmp_path).load(4) is None
    assert LocalStore(saved.path, "another.topic").load(3) is None
    assert saved.path.stat().st_mode & 0o777 == 0o600


def test_a_new_snapshot_replaces_the_partition_s_last(tmp_path: Path) -> None:
    saved = store(tmp_path)
    saved.save(3, ANCHOR, {"park-1": {"c:": b"1", "e:x": b"{}"}})
    later = Anchor(90, b"park-1\x1fe:x", digest(None))
    saved.save(3, later, {"park-1": {"c:": b"2"}})
    loaded = saved.load(3)
    assert loaded is not None
    assert loaded.anchor == later and loaded.grouped == {"park-1": {"c:": b"2"}}
    assert saved.partitions() == [3]


def test_a_snapshot_older_than_the_tombstones_retention_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = store(tmp_path)
    saved.save(3, ANCHOR, {"park-1": {"c:": b"1"}})
    now = time.time()
    monkeypatch.setattr(local.time, "time", lambda: now + local.MAX_AGE_SECONDS - 60)
    assert saved.load(3) is not None
    monkeypatch.setattr(local.time, "time", lambda: now + local.MAX_AGE_SECONDS + 60)
    assert saved.load(3) is None


def test_the_anchor_matches_only_its_record() -> None:
    assert ANCHOR.matches(41, b"park-1\x1fc:", b"[1,2,3]")
    assert not ANCHOR.matches(42, b"park-1\x1fc:", b"[1,2,3]")
    assert not ANCHOR.matches(41, b"park-1\x1fe:x", b"[1,2,3]")
    assert not ANCHOR.matches(41, b"park-1\x1fc:", b"[1,2,4]")
    assert not ANCHOR.matches(41, b"park-1\x1fc:", None)
    assert Anchor(7, b"k", digest(None)).matches(7, b"k", None)


def test_a_file_of_another_format_is_emptied_not_misread(tmp_path: Path) -> None:
    saved = store(tmp_path)
    saved.path.parent.mkdir(parents=True)
    with sqlite3.connect(saved.path) as db:  # as an earlier version wrote it: a row per record
        db.execute("CREATE TABLE records (topic TEXT, partition INTEGER, value BLOB)")
        db.execute("CREATE TABLE snapshots (topic TEXT, partition INTEGER, end_offset INTEGER)")
        db.execute("INSERT INTO snapshots VALUES (?, 3, 41)", (saved.topic,))
    assert saved.load(3) is None
    saved.save(3, ANCHOR, {"park-1": {"c:": b"1"}})
    loaded = saved.load(3)
    assert loaded is not None and loaded.grouped == {"park-1": {"c:": b"1"}}


def test_a_torn_file_is_no_snapshot_and_is_made_again(tmp_path: Path) -> None:
    saved = store(tmp_path)
    saved.save(3, ANCHOR, {"park-1": {"c:": b"1"}})
    saved.path.write_bytes(b"not a database " * 100)  # a disk error, a torn write
    assert saved.load(3) is None
    saved.save(3, ANCHOR, {"park-1": {"c:": b"2"}})
    loaded = saved.load(3)
    assert loaded is not None and loaded.grouped == {"park-1": {"c:": b"2"}}


def test_an_unreadable_snapshot_is_none_and_the_others_are_read(tmp_path: Path) -> None:
    saved = store(tmp_path)
    saved.save(3, ANCHOR, {"park-1": {"c:": b"1"}})
    saved.save(4, ANCHOR, {"park-2": {"c:": b"1"}})
    with sqlite3.connect(saved.path) as db:
        db.execute("UPDATE snapshots SET records = x'7b7b' WHERE partition = 3")
    assert saved.load_all([3, 4]).keys() == {4}
