"""A park's state as records for its changelog (``sentinel.decide-state``), and back.

One record per entity, keyed ``<park>\\x1f<kind>:<id>`` (:class:`~streams.engine.tracked.Entity`):
an entry the park keeps (``e:``), an antigen result (``a:``), a health visit (``v:``), an exit
read before its entry (``x:``), the ids of the entries forgotten on a day (``f:d<day>``), and the
park's clocks (``c:``). A kind this version does not know is left alone (written by a later one).
A record that is gone is a tombstone (value None), so compaction keeps the changelog the size of
the live state. Values are compact JSON in UTF-8 (an entry's own JSON within its record, not
escaped in a string); nothing in them is personal data (pseudonyms only). Records an earlier
version wrote (an entry's JSON as a string, a forgotten id a record of its own) are read, and
written anew in this version's form.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from schemas import Alert, VehicleEntry, VehicleExit
from schemas.decision import ResolutionRef
from streams.engine.keeping import day_end, forgotten_day
from streams.engine.park import Park
from streams.engine.tracked import (
    EARLY_EXIT_RETENTION,
    VISIT_RETENTION,
    Entity,
    Tracked,
    Visit,
    retention,
)
from streams.rules.kinds import Evidence, Ref
from streams.rules.kinds.visits import Obligation

SEP = "\x1f"
ENTRY_TOPIC = "canonical.entries"  # where an entry's ref points, unless it says otherwise


def key_of(park: str, entity: str) -> bytes:
    return f"{park}{SEP}{entity}".encode()


def split_key(key: bytes) -> tuple[str, str]:
    park, _, entity = key.decode().partition(SEP)
    return park, entity


def dump(park: Park, entity: str) -> bytes | None:
    """The record of ``entity`` as the park holds it now; None: it is gone (a tombstone)."""
    kind, _, ident = entity.partition(":")
    value: Any = None
    if kind == Entity.CLOCKS:
        value = [_t(park.clock), _t(park.antigen_clock), _t(park.watermark)]
    elif kind == Entity.ENTRY and (tracked := park.entries.get(ident)) is not None:
        return _entry(tracked)
    elif kind == Entity.ANTIGEN and (person := park.antigen_ids.get(ident)) is not None:
        e = next(e for e in park.antigens[person] if e.ref.event_id == ident)
        value = [person, _t(e.time), e.result, list(e.ref), _t(e.reported)]
    elif kind == Entity.VISIT and (visit := park.visit_ids.get(ident)) is not None:
        value = [visit.person, _t(visit.time), visit.entry_id, visit.served]
    elif kind == Entity.EARLY_EXIT and (exit_ := park.early_exits.get(ident)) is not None:
        return exit_.model_dump_json().encode()
    elif kind == Entity.FORGOTTEN and ident in park.forgotten_days:
        value = sorted(park.forgotten_days[ident])
    return None if value is None else _json(value)


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def write_order(park: Park, changed: Iterable[str]) -> list[str]:
    """The order in which a batch's records of ``park`` go out, so that a kill after any prefix
    of them leaves a state that the inputs read again (their offsets were not committed) make
    whole: the entries first (what evidence did to them), then the other records kept (evidence,
    early exits, forgotten ids), then the clocks, then what is gone. So an antigen or a visit is
    never kept without the entry it changed ("read again" skips it), an early exit never leaves
    before the entry that took it in (a false overdue stay), and a clock never runs ahead of the
    results it counts (an antigen clock past a test not kept held entries for a missing test)."""
    held: dict[str, Any] = {
        Entity.ENTRY: park.entries,
        Entity.ANTIGEN: park.antigen_ids,
        Entity.VISIT: park.visit_ids,
        Entity.EARLY_EXIT: park.early_exits,
        Entity.FORGOTTEN: park.forgotten_days,
    }

    def rank(entity: str) -> tuple[int, str]:
        kind, _, ident = entity.partition(":")
        if kind == Entity.CLOCKS:
            return 2, entity
        if ident not in held.get(kind, ()):
            return 3, entity  # gone: a tombstone
        return (0 if kind == Entity.ENTRY else 1), entity

    return sorted(changed, key=rank)


def entities(park: Park) -> list[str]:
    """Every entity the park holds: what its changelog keeps."""
    return [
        "c:",
        *(Entity.ENTRY.of(i) for i in park.entries),
        *(Entity.ANTIGEN.of(i) for i in park.antigen_ids),
        *(Entity.VISIT.of(i) for i in park.visit_ids),
        *(Entity.EARLY_EXIT.of(i) for i in park.early_exits),
        *(Entity.FORGOTTEN.of(day) for day in park.forgotten_days),
    ]


def load(park: Park, records: dict[str, bytes]) -> None:
    """Rebuild ``park`` from its records (entity -> value), then its indexes and deadlines."""
    migrated: set[str] = set()
    for entity, raw in records.items():
        kind, _, ident = entity.partition(":")
        if kind == Entity.EARLY_EXIT:
            exit_ = park.early_exits[ident] = VehicleExit.model_validate_json(raw)
            park.expire(Entity.EARLY_EXIT, ident, exit_.event_time + EARLY_EXIT_RETENTION)
            continue
        value = json.loads(raw)
        if kind == Entity.CLOCKS:
            park.clock, park.antigen_clock, park.watermark = map(_d, value)
        elif kind == Entity.ENTRY:
            tracked = _tracked(value)
            park.entries[ident] = tracked
            for occupant in tracked.entry.occupants:
                park.by_person.setdefault(occupant.person, []).append(ident)
            park.by_plate.setdefault(tracked.entry.plate, []).append(ident)
            park.by_gate.setdefault(tracked.entry.gate, []).append(
                (tracked.entry.event_time, ident)
            )
        elif kind == Entity.ANTIGEN:
            person, time, result, ref, reported = value
            evidence = Evidence("antigen", _d(time), result, Ref(*ref), _d(reported), park.name)
            park.antigens.setdefault(person, []).append(evidence)
            park.antigen_ids[ident] = person
            park.expire(Entity.ANTIGEN, ident, evidence.time + retention(result))
        elif kind == Entity.VISIT:
            person, time, entry_id, served = value
            visit = Visit(ident, person, _d(time), entry_id, served)
            park.visits.setdefault(person, []).append(visit)
            park.visit_ids[ident] = visit
            park.expire(Entity.VISIT, ident, visit.time + VISIT_RETENTION)
        elif kind == Entity.FORGOTTEN:
            if isinstance(value, list):  # a day's ids
                for entry_id in value:
                    park.forget_id(entry_id, day_end(ident))
            else:  # an earlier version's record of one id, with its time: now in its day's
                park.forget_id(ident, _d(value))
                migrated |= {entity, Entity.FORGOTTEN.of(forgotten_day(_d(value)))}
    for index in (park.by_person, park.by_plate):
        for ids in index.values():
            ids.sort(key=lambda i: park.entries[i].entry.event_time)
    for passages in park.by_gate.values():
        passages.sort()
    park.schedule_all()
    park.take_dirty()  # what was just read is what the changelog holds,
    park.dirty |= migrated  # but for records of an earlier version: written anew


def _entry(t: Tracked) -> bytes:
    """The entry as JSON within the record (not a string of it: no escaped quotes), its ref
    without the entry's id and topic, its anchor only when it is not the entry's time."""
    ref = list(t.ref)
    value: dict[str, Any] = {
        "ref": ref[2:] if ref[:2] == [t.entry.event_id, ENTRY_TOPIC] else ref,
        "revision": t.revision,
        "fingerprint": t.fingerprint,
        "outcome": t.outcome,
    }
    if t.late:
        value["late"] = True
    if t.waiting:
        value["waiting"] = True
    if t.released:
        value["released"] = True
    if t.exited is not None:
        value["exited"] = _t(t.exited)
    if t.alerts:
        value["alerts"] = [a.model_dump(mode="json") for a in t.alerts.values()]
    if (ob := t.obligation) is not None:
        value["obligation"] = [
            ob.person,
            ob.enterprise,
            _t(ob.due),
            ob.required,
            ob.visits,
            ob.state,
        ]
    if t.resolution is not None:
        value["resolution"] = t.resolution.model_dump(mode="json")
    if t.not_passed:
        value["not_passed"] = list(t.not_passed)
    if t.anchor != t.entry.event_time:
        value["anchor"] = _t(t.anchor)
    return b'{"entry":' + t.entry_json().encode() + b"," + _json(value)[1:]


def _tracked(value: dict[str, Any]) -> Tracked:
    written = value["entry"]
    if isinstance(written, str):  # by an earlier version: the entry's JSON as a string
        entry = VehicleEntry.model_validate_json(written)
    else:
        entry = VehicleEntry.model_validate(written)
    ref = value["ref"]
    tracked = Tracked(
        entry=entry,
        ref=Ref(*ref) if len(ref) == 4 else Ref(entry.event_id, ENTRY_TOPIC, *ref),
        anchor=_d(value["anchor"]) if "anchor" in value else entry.event_time,
        late=value.get("late", False),
        waiting=value.get("waiting", False),
        revision=value["revision"],
        fingerprint=value["fingerprint"],
        outcome=value["outcome"],
        released=value.get("released", False),
        exited=_d(value["exited"]) if "exited" in value else None,
        not_passed=tuple(value.get("not_passed", ()))
        # written by an earlier version: "<rule>: <why>" of each rule that did not pass
        or tuple(reason.split(":", 1)[0] for reason in value.get("reasons", ())),
    )
    if isinstance(written, str):
        tracked.json = written
    for alert in value.get("alerts", ()):
        tracked.alerts[alert["dedup_key"]] = Alert.model_validate(alert)
    if (ob := value.get("obligation")) is not None:
        person, enterprise, due, required, visits, state = ob
        tracked.obligation = Obligation(person, enterprise, _d(due), required, visits, state)
    if (resolution := value.get("resolution")) is not None:
        tracked.resolution = ResolutionRef.model_validate(resolution)
    return tracked


def _t(time: datetime) -> str:
    return time.isoformat()


def _d(text: str) -> datetime:
    return datetime.fromisoformat(text)
