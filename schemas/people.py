"""Person identifiers: resident ID numbers and phone numbers (personal data), and pseudonyms.

Raw events carry ID numbers; ingestion replaces them by pseudonyms (a keyed hash) and drops phone
numbers, so nothing downstream holds either in clear. Error messages never echo the value.
"""

from __future__ import annotations

import operator
import re
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, Field, WithJsonSchema

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")
_PHONE = re.compile(r"^1[3-9]\d{9}$")


def id_check_char(first17: str) -> str:
    """The GB 11643-1999 check character for the first 17 digits of a resident ID number."""
    return _CHECK_CHARS[sum(map(operator.mul, map(int, first17), _WEIGHTS)) % 11]


def _resident_id(value: str) -> str:
    value = value.strip().upper()
    if not _ID_SHAPE.match(value):
        raise ValueError("not a resident ID number: expected 17 digits and a check digit or X")
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValueError("resident ID number has an impossible birth date") from None
    if id_check_char(value[:17]) != value[17]:
        raise ValueError("resident ID number fails its GB 11643 checksum")
    return value


def _phone(value: str) -> str:
    digits = re.sub(r"[\s\-]", "", value.removeprefix("+86"))
    if not _PHONE.match(digits):
        raise ValueError("not a mainland mobile number: expected 11 digits starting 13-19")
    return digits


ResidentId = Annotated[
    str,
    AfterValidator(_resident_id),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{6}(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}[\dXx]$",
            "description": "resident ID number (GB 11643-1999): 17 digits (region, birth date, "
            "serial) and a check character, 0-9 or X, computed as ISO 7064 MOD 11-2 over the "
            "17 digits with weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 (sum mod 11 indexes "
            "'10X98765432'). A wrong check character or an impossible birth date is refused.",
        }
    ),
]
"""An 18-character resident ID number with a valid GB 11643 checksum (personal data)."""

Phone = Annotated[
    str,
    AfterValidator(_phone),
    WithJsonSchema(
        {
            "type": "string",
            "description": "mainland mobile number, 11 digits starting 13-19; +86, spaces "
            "and dashes allowed. Dropped at ingestion: no rule needs it.",
        }
    ),
]
"""A mainland mobile number, normalised to 11 digits (personal data)."""

Pseudonym = Annotated[str, Field(pattern=r"^p_[0-9a-f]{32}$")]
"""A keyed hash of a resident ID number: stable per person and key, not reversible."""
