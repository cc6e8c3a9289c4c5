"""The decide stage's local store: what a worker held when it stopped, kept on its own disk, so that
a restart reads from the changelog only what was written since (Kafka Streams' local store and
checkpoint file, without RocksDB: Faust's RocksDB store has open bugs, PITFALLS).

One SQLite file per changelog topic under ``<state_dir>/store/`` (workers on one host share it:
they hold different partitions). For each state partition it holds the partition's records as the
changelog would give them back (``park -> entity -> value``, :meth:`Processor.snapshot`), the
changelog's end offset when they were written, and the record just before that offset (its key
and a digest of its value), written at a clean stop (``streams/agents/decide.py``), once the last
batch's state records are delivered and nothing more is decided.

A snapshot is used only if that record is still there, the same, at that offset (it is not when
the topic was made again, or another worker wrote over it and compaction removed it), and it is
younger than the tombstones' retention less an hour (a tombstone written after it could be gone,
and its key would come back). Then the restore reads the changelog from that offset on: whatever
was written meanwhile, by any worker, lands on top. Otherwise, or with no file at all (a new host,
a lost disk), the partition is read from the changelog's start, as before this store.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from streams.settings import Settings
from streams.topics import TOMBSTONE_RETENTION_MS

log = logging.getLogger(__name__)
Grouped = dict[str, dict[str, bytes]]  # park -> entity -> value, as the changelog holds them

# A snapshot older than this is not used: a tombstone written after it may have been removed.
MAX_AGE_SECONDS = TOMBSTONE_RETENTION_MS / 1000 - 3600

FORMAT = 2  # of the file (SQLite's user_version): a file of another is emptied, it is a cache
_SCHEMA = """
DROP TABLE IF EXISTS snapshots;
DROP TABLE IF EXISTS records;
CREATE TABLE snapshots (
    topic TEXT NOT NULL, partition INTEGER NOT NULL,
    end_offset INTEGER NOT NULL, last_key BLOB NOT NULL, last_digest BLOB NOT NULL,
    written_at REAL NOT NULL,
    records BLOB NOT NULL,
    PRIMARY KEY (topic, partition)
);
"""


def digest(value: bytes | None) -> bytes:
    """What identifies a record's value (a tombstone's too)."""
    return b"-" if value is None else hashlib.blake2b(value, digest_size=16).digest()


@dataclass(frozen=True)
class Anchor:
    """The changelog's last record when a snapshot was written: where reading goes on."""

    offset: int  # the record's; the snapshot holds everything up to and with it
    key: bytes
    digest: bytes

    def matches(self, offset: int, key: bytes | None, value: bytes | None) -> bool:
        return offset == self.offset and key == self.key and digest(value) == self.digest


@dataclass
class Snapshot:
    anchor: Anchor
    written_at: float
    grouped: Grouped = field(default_factory=dict)


class LocalStore:
    """Snapshots of one changelog topic's partitions in a SQLite file. Blocking: call it from a
    thread (``asyncio.to_thread``)."""

    def __init__(self, path: Path, topic: str) -> None:
        self.path = path
        self.topic = topic

    @classmethod
    def of(cls, settings: Settings) -> LocalStore:
        """The decide stage's: ``<state_dir>/store/<changelog topic>.sqlite``."""
        topic = settings.topic("sentinel.decide-state")
        return cls(settings.state_dir / "store" / f"{topic}.sqlite", topic)

    def _connect(self) -> sqlite3.Connection:
        """The file, made if need be; one that is not a SQLite database (a torn write, a disk
        error) is removed and made again: it only ever holds a cache of the changelog."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._open()
        except sqlite3.DatabaseError as exc:
            log.warning("the local store %s is unreadable (%s); starting it again", self.path, exc)
            self.remove()
            return self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            self.path.chmod(0o600)  # pseudonyms only, but health data all the same
            db.execute("PRAGMA journal_mode=WAL")
            if db.execute("PRAGMA user_version").fetchone()[0] != FORMAT:
                with db:
                    db.executescript(_SCHEMA + f"PRAGMA user_version = {FORMAT};")
        except BaseException:
            db.close()
            raise
        return db

    def save(self, partition: int, anchor: Anchor, grouped: Grouped) -> None:
        """Replace the partition's snapshot. Its records go in one JSON document (a row each
        took ~10 us to read back, 2 s for the rollup facts of a busy partition)."""
        document = json.dumps(
            {
                park: {e: v.decode() for e, v in entities.items()}
                for park, entities in grouped.items()
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        db = self._connect()
        try:
            with db:
                db.execute(
                    "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        self.topic,
                        partition,
                        anchor.offset,
                        anchor.key,
                        anchor.digest,
                        time.time(),
                        document,
                    ),
                )
        finally:
            db.close()

    def load(self, partition: int) -> Snapshot | None:
        """The partition's snapshot, if there is one young enough to be used."""
        return self.load_all([partition]).get(partition)

    def load_all(self, partitions: Iterable[int]) -> dict[int, Snapshot]:
        """The snapshots of these partitions young enough to be used."""
        if not self.path.exists():
            return {}
        found: dict[int, Snapshot] = {}
        db = self._connect()
        try:
            for partition in partitions:
                row = db.execute(
                    "SELECT end_offset, last_key, last_digest, written_at, records FROM snapshots"
                    " WHERE topic = ? AND partition = ?",
                    (self.topic, partition),
                ).fetchone()
                if row is None or time.time() - row[3] > MAX_AGE_SECONDS:
                    continue
                try:
                    grouped = {
                        park: {e: v.encode() for e, v in entities.items()}
                        for park, entities in json.loads(row[4]).items()
                    }
                except (ValueError, AttributeError) as exc:
                    log.warning("partition %d's local snapshot is unreadable (%s)", partition, exc)
                    continue
                anchor = Anchor(row[0], bytes(row[1]), bytes(row[2]))
                found[partition] = Snapshot(anchor, row[3], grouped)
            return found
        finally:
            db.close()

    def remove(self) -> None:
        """The file gone (and SQLite's journal beside it): as on a host that lost its disk."""
        for suffix in ("", "-wal", "-shm"):
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)

    def partitions(self) -> list[int]:
        if not self.path.exists():
            return []
        db = self._connect()
        try:
            rows: Iterable[tuple[int]] = db.execute(
                "SELECT partition FROM snapshots WHERE topic = ? ORDER BY partition",
                (self.topic,),
            )
            return [p for (p,) in rows]
        finally:
            db.close()
