"""A positive at one park, and contact tracing (DOMAIN rule 15), pure: the positive's own page,
a page per entry that let the person in, and the trace of everyone who shared a vehicle with the
person and every vehicle through the same gate around the same time, over the look-back.

It reads what the park keeps (:class:`Kept`) and returns what to send; the park raises the pages
on its entries (so that each is sent once) and sends the rest.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Literal, Protocol

from schemas import Alert, VehicleEntry
from schemas.trace import Contact, ContactTrace
from streams.engine.outputs import new_alert
from streams.engine.tracked import Tracked
from streams.parktime import park_time
from streams.rules.kinds import Evidence
from streams.rules.ruleset import RuleSet
from streams.words import Language, say


class Kept(Protocol):
    """What tracing reads of a park."""

    name: str
    language: Language
    entries: dict[str, Tracked]
    by_person: dict[str, list[str]]
    by_gate: dict[str, list[tuple[datetime, str]]]

    @property
    def rules(self) -> RuleSet: ...

    def evidence_of(self, person: str) -> list[Evidence]: ...


def positive_rule(rules: RuleSet) -> str:
    """The id a positive's pages carry: the set's no_positive rule's."""
    rule = next(iter(rules.of_kind("no_positive")), None)
    return rule.id if rule else "no_positive"


class Tracing:
    def __init__(self, park: Kept) -> None:
        self.park = park
        self._sent: dict[str, tuple[int, int]] = {}  # trace key -> (entries, contacts) sent

    def positive_page(
        self, person: str, evidence: Evidence, site: str, detected_at: datetime
    ) -> Alert:
        """The page of a positive taken at this park: critical, naming the person's vehicles of
        the look-back (five at most)."""
        park, language = self.park, self.park.language
        start = evidence.time - park.rules.tracing.lookback
        on = [
            f"{t.entry.event_id} ({t.entry.plate})"
            for i in park.by_person.get(person, ())
            if (t := park.entries[i]).entry.event_time >= start
        ]
        vehicles = say(language, "alert.positive.vehicles", vehicles=", ".join(on[:5]))
        key = f"positive:{evidence.ref.event_id}"
        message = say(
            language,
            "alert.positive",
            test=say(language, f"test.{evidence.kind}"),
            site=site,
            vehicles=vehicles if on else "",
        )
        return new_alert(
            key,
            evidence.reported,
            "critical",
            positive_rule(park.rules),
            person,
            park.name,
            message,
            detected_at=detected_at,
            gate=site,
        )

    def release_pages(self, person: str, evidence: Evidence) -> Iterator[tuple[Tracked, str, str]]:
        """Every entry of this park that let the person in over the look-back, with its page's
        key and message: its gate, plate, and whether the vehicle is inside now (a lab's
        positive names no park; this is the park's own page)."""
        park, language = self.park, self.park.language
        start = evidence.time - park.rules.tracing.lookback
        for entry_id in list(park.by_person.get(person, ())):
            tracked = park.entries[entry_id]
            entry = tracked.entry
            if not tracked.released or entry.event_time < start:
                continue
            left = tracked.exited
            where = (
                say(language, "alert.positive_released.left", left=park_time(left))
                if left is not None and left <= evidence.reported
                else say(language, "alert.positive_released.inside")
            )
            message = say(
                language,
                "alert.positive_released",
                test=say(language, f"test.{evidence.kind}"),
                plate=entry.plate,
                gate=entry.gate,
                entry=entry_id,
                entered=park_time(entry.event_time),
                where=where,
            )
            yield tracked, f"positive-release:{evidence.ref.event_id}:{entry_id}", message

    def trace(
        self, person: str, evidence: Evidence, detected_at: datetime
    ) -> tuple[ContactTrace, Alert] | None:
        """The trace and its page; None when there is nothing new to send. Sent again, whole,
        when an entry read later adds to it: an entry of the person or contacts (the trace does
        not depend on arrival order)."""
        park, language = self.park, self.park.language
        tracing = park.rules.tracing
        start = evidence.time - tracing.lookback
        own = [
            park.entries[i]
            for i in park.by_person.get(person, ())
            if park.entries[i].entry.event_time >= start
        ]
        if not own:
            return None
        contacts: list[Contact] = []
        for tracked in own:
            entry = tracked.entry
            for occupant in entry.occupants:
                if occupant.person != person:
                    contacts.append(_contact("co-occupant", entry, entry, occupant.person))
            for other in self.near(entry.gate, entry.event_time, tracing.same_gate):
                if other is not tracked:
                    contacts.append(_contact("same-gate", other.entry, entry, None))
        key = f"trace:{evidence.ref.event_id}:{park.name}"
        if self._sent.get(key) == (len(own), len(contacts)):
            return None  # nothing new
        self._sent[key] = (len(own), len(contacts))
        released = [t for t in own if t.released]
        trace = ContactTrace.model_construct(
            schema_version=1,
            event_id=key,
            event_time=evidence.reported,
            park=park.name,
            person=person,
            positive_event_id=evidence.ref.event_id,
            entries=tuple(t.entry.event_id for t in own),
            contacts=tuple(contacts),
        )
        vehicles = {c.entry_id for c in contacts if c.kind == "same-gate"}
        people = {c.person for c in contacts if c.kind == "co-occupant"}
        let_in = say(language, "alert.trace.let_in", released=len(released))
        message = say(
            language,
            "alert.trace",
            test=say(language, f"test.{evidence.kind}"),
            entries=len(own),
            let_in=let_in if released else "",
            people=len(people),
            vehicles=len(vehicles),
            key=key,
        )
        page = new_alert(
            key,
            evidence.reported,
            "warning",
            "contact_trace",
            person,
            park.name,
            message[:1000],
            detected_at=detected_at,
        )
        return trace, page

    def around(
        self, tracked: Tracked, ever_positive: Callable[[str], bool], detected_at: datetime
    ) -> Iterator[tuple[ContactTrace, Alert]]:
        """A new entry may be a contact of a positive already known: its occupants', or those
        of the vehicles through its gate around its time (``ever_positive``: a positive of the
        person is on record, here or elsewhere)."""
        park = self.park
        lookback = park.rules.tracing.lookback
        near = [
            tracked,
            *self.near(tracked.entry.gate, tracked.entry.event_time, park.rules.tracing.same_gate),
        ]
        for other in near:
            for occupant in other.entry.occupants:
                if not ever_positive(occupant.person):
                    continue
                for evidence in park.evidence_of(occupant.person):
                    if evidence.result == "positive" and (
                        other.entry.event_time >= evidence.time - lookback
                    ):
                        found = self.trace(occupant.person, evidence, detected_at)
                        if found is not None:
                            yield found

    def near(self, gate: str, at: datetime, window: timedelta) -> list[Tracked]:
        """The kept entries through ``gate`` within ``window`` of ``at``."""
        park = self.park
        times = park.by_gate.get(gate, [])
        low = bisect.bisect_left(times, (at - window, ""))
        high = bisect.bisect_right(times, (at + window, "\uffff"))
        return [park.entries[i] for _, i in times[low:high] if i in park.entries]


def _contact(
    kind: Literal["co-occupant", "same-gate"],
    entry: VehicleEntry,
    via: VehicleEntry,
    person: str | None,
) -> Contact:
    return Contact.model_construct(
        kind=kind,
        entry_id=entry.event_id,
        plate=entry.plate,
        gate=entry.gate,
        time=entry.event_time,
        person=person,
        via=via.event_id,
    )
