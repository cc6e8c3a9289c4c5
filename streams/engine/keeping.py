"""What a park keeps, pure: its entries and the indexes over them (by person, plate, gate), the
test results and visits taken there, exits whose entry is still to come, the ids of entries
forgotten; the clocks; which entities changed since the shell last wrote them (:attr:`dirty`);
and when each thing is forgotten (:meth:`Keeping.expire`). ``streams/engine/park.py`` builds the
park on it; ``streams/engine/records.py`` writes it to the changelog and reads it back.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from schemas import VehicleExit
from streams.engine.outputs import Late, Outputs
from streams.engine.shared import Shared
from streams.engine.tracing import Tracing
from streams.engine.tracked import EPOCH, FORGET_AFTER, Entity, Tracked, Visit
from streams.rules.kinds import Evidence
from streams.rules.ruleset import RuleSet
from streams.words import Language


class Keeping:
    def __init__(
        self,
        name: str,
        rules: Callable[[], RuleSet],
        shared: Shared,
        complete_feed: bool = True,
        language: Language = "en",
    ) -> None:
        self.name = name
        self.language = language  # of the alerts' summaries (streams/words.py)
        # Whether everything up to the watermark has been fed (a file, a test): then the park's
        # antigen results are read as far as its clock. A live worker cannot know that a gate's
        # antigen station is late; it goes by the results it has read.
        self.complete_feed = complete_feed
        self._rules = rules
        self.shared = shared
        self.entries: dict[str, Tracked] = {}
        self.by_person: dict[str, list[str]] = {}
        self.by_plate: dict[str, list[str]] = {}
        self.by_gate: dict[str, list[tuple[datetime, str]]] = {}  # in time order, for tracing
        self.tracing = Tracing(self)
        self.antigens: dict[str, list[Evidence]] = {}  # by person
        self.antigen_ids: dict[str, str] = {}  # event id -> person
        self.visits: dict[str, list[Visit]] = {}  # by person
        self.visit_ids: dict[str, Visit] = {}
        self.early_exits: dict[str, VehicleExit] = {}
        self.forgotten: dict[str, datetime] = {}  # entry id -> when it was forgotten
        self.forgotten_days: dict[str, set[str]] = {}  # a record each: the ids of a day
        self.clock = EPOCH
        self.antigen_clock = EPOCH
        self.watermark = EPOCH
        self.dirty: set[str] = set()
        self._heap: list[tuple[float, int, str]] = []  # (when, order, entry id)
        self._expiry: list[tuple[float, Entity, str]] = []  # (when, entity kind, id)
        self._antigen_waits: list[tuple[float, str]] = []
        self._seq = itertools.count()
        self._out = Outputs()
        self._learnt = EPOCH  # event time of the input being handled: alerts' detected_at

    @property
    def rules(self) -> RuleSet:
        return self._rules()

    def evidence_of(self, person: str) -> list[Evidence]:
        return [*self.antigens.get(person, ()), *self.shared.evidence_of(person, self.name)]

    def _begin(
        self,
        out: Outputs,
        at: datetime,
        read: tuple[Any, str] | None = None,
        move_clock: bool = True,
    ) -> None:
        """Start handling an input learnt at ``at``; ``read``: the event and the topic it was
        read from, kept aside as late when it is behind the watermark."""
        self._out = out
        self._learnt = at
        if read is not None and at < self.watermark:
            event, topic = read
            out.late.append(Late(topic, event.event_id, self.name, at, self.watermark, event))
        if move_clock and at > self.clock:
            self.clock = at
            self.dirty.add(Entity.CLOCKS.of())

    def _mark(self, tracked: Tracked) -> None:
        self.dirty.add(Entity.ENTRY.of(tracked.entry.event_id))

    def _forget(self, tracked: Tracked) -> None:
        entry = tracked.entry
        del self.entries[entry.event_id]
        for occupant in entry.occupants:
            _discard(self.by_person, occupant.person, entry.event_id)
        _discard(self.by_plate, entry.plate, entry.event_id)
        gate = self.by_gate.get(entry.gate, [])
        if (entry.event_time, entry.event_id) in gate:
            gate.remove((entry.event_time, entry.event_id))
        self.dirty.add(Entity.ENTRY.of(entry.event_id))
        self.forget_id(entry.event_id, tracked.anchor)

    def forget_id(self, ident: str, at: datetime) -> None:
        """Keep a forgotten entry's id until ``at`` plus :data:`FORGET_AFTER`, so that a replay
        of the entry changes nothing. The ids go to the changelog by day of ``at``, one record
        a day (a record an id took 50 bytes, more than a third of the state)."""
        self.forgotten[ident] = at
        day = forgotten_day(at)
        self.forgotten_days.setdefault(day, set()).add(ident)
        self.expire(Entity.FORGOTTEN, ident, at + FORGET_AFTER)
        self.dirty.add(Entity.FORGOTTEN.of(day))

    def expire(self, kind: Entity, ident: str, at: datetime) -> None:
        """Keep ``kind``:``ident`` until the watermark passes ``at``."""
        heapq.heappush(self._expiry, (at.timestamp(), kind, ident))

    def _prune(self) -> None:
        """Forget what the watermark has made useless: old test results and visits, exits whose
        entry never came, the ids of entries forgotten long ago."""
        until = self.watermark.timestamp()
        while self._expiry and self._expiry[0][0] <= until:
            _, kind, ident = heapq.heappop(self._expiry)
            if kind == Entity.ANTIGEN and (person := self.antigen_ids.pop(ident, None)) is not None:
                _replace(
                    self.antigens,
                    person,
                    [e for e in self.antigens[person] if e.ref.event_id != ident],
                )
            elif kind == Entity.VISIT and (visit := self.visit_ids.pop(ident, None)) is not None:
                _replace(
                    self.visits,
                    visit.person,
                    [v for v in self.visits[visit.person] if v.event_id != ident],
                )
            elif kind == Entity.FORGOTTEN:
                if (at := self.forgotten.pop(ident, None)) is None:
                    continue
                day = forgotten_day(at)
                ids = self.forgotten_days[day]
                ids.discard(ident)
                if not ids:
                    del self.forgotten_days[day]
                ident = day  # its day's record changes
            elif kind == Entity.EARLY_EXIT and self.early_exits.pop(ident, None) is None:
                continue
            self.dirty.add(kind.of(ident))

    def take_dirty(self) -> set[str]:
        dirty, self.dirty = self.dirty, set()
        return dirty


def _discard(index: dict[str, list[str]], key: str, value: str) -> None:
    values = index.get(key)
    if values is not None:
        if value in values:
            values.remove(value)
        if not values:
            del index[key]


def _replace(
    index: dict[str, list[Evidence]] | dict[str, list[Visit]], key: str, kept: Iterable[object]
) -> None:
    values = list(kept)
    if values:
        index[key] = values  # type: ignore[assignment]
    else:
        del index[key]


def forgotten_day(at: datetime) -> str:
    """The record of the ids forgotten at ``at``: ``d`` and the day's number since 1970 (UTC)."""
    return f"d{int(at.timestamp()) // 86_400}"


def day_end(day: str) -> datetime:
    """The last second of a :func:`forgotten_day`: an id read back from its day's record is kept
    until then plus :data:`FORGET_AFTER` (up to a day longer than its writer would have)."""
    return EPOCH + timedelta(days=int(day[1:]) + 1, seconds=-1)
