"""The vehicle's papers and gate (DOMAIN rules 6-10), each a kind that asks whether something is
on the entry: ``pass_present``, ``appointment_present``, ``waybill_present``, ``escort_present``
and ``hazmat_gate``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from schemas import VehicleEntry
from streams.rules.kinds.base import Judging, Kind, Result, Rule, result


@dataclass(frozen=True, slots=True)
class _Presence:
    """A judge asking whether ``what`` is on the entry."""

    what: str
    present: Callable[[VehicleEntry], bool]

    def __call__(self, rule: Rule, j: Judging) -> Result:
        if self.present(j.entry):
            return result(rule, None, "pass", f"{self.what} present", [j.ref])
        return result(rule, None, "fail", f"no {self.what}", [j.ref])


def _gate(rule: Rule, j: Judging) -> Result:
    if j.entry.gate_class == "hazmat":
        return result(rule, None, "pass", "hazmat gate", [j.ref])
    return result(rule, None, "fail", f"hazmat truck at general gate {j.entry.gate}", [j.ref])


KINDS = (
    Kind("pass_present", "vehicle", judge=_Presence("pass", lambda e: bool(e.pass_id))),
    Kind(
        "appointment_present",
        "vehicle",
        judge=_Presence("appointment", lambda e: bool(e.appointment_id)),
    ),
    Kind(
        "waybill_present",
        "vehicle",
        judge=_Presence(
            "waybill with UN number and consignee",
            lambda e: bool(e.waybill_id and e.cargo and e.consignee),
        ),
    ),
    Kind(
        "escort_present",
        "vehicle",
        judge=_Presence("escort on board", lambda e: any(o.role == "escort" for o in e.occupants)),
    ),
    Kind("hazmat_gate", "vehicle", judge=_gate),
)
