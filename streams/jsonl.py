"""Events as JSON lines, the format ``sentinel backtest`` and ``sentinel produce`` read and the
simulator writes:

    {"topic": "gate.entries", "value": {...the event...}}          # "key" is optional

A line's Kafka key comes from the catalogue (the park, a lab's ID number, the region) unless the
line gives one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from streams.progress import ProgressBar
from streams.topics import CATALOGUE, spec

# The field each raw topic's key is taken from (the catalogue says which key a topic takes).
KEY_FIELDS = {"park": "park", "person": "id_number", "region": "region"}


class JsonlError(Exception):
    """A file is not events as JSON lines; the message names the file and the line."""


def envelope(topic: str, event: BaseModel) -> dict[str, Any]:
    return {"topic": topic, "value": event.model_dump(mode="json", exclude_none=True)}


def write_jsonl(events: Iterable[tuple[str, BaseModel]], path: Path, total: int) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    bar = ProgressBar(total, f"writing {path.name}")
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for topic, event in events:
            out.write(json.dumps(envelope(topic, event), ensure_ascii=False) + "\n")
            count += 1
            bar.advance()
    bar.close()
    return count


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, envelope) for each non-blank line; a malformed line is a clear error."""
    known = {t.name for t in CATALOGUE}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise JsonlError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(record, dict) or "topic" not in record or "value" not in record:
                raise JsonlError(f'{path}:{number}: expected {{"topic": ..., "value": ...}}')
            if record["topic"] not in known:
                raise JsonlError(
                    f"{path}:{number}: unknown topic {record['topic']!r}; "
                    f"known: {', '.join(sorted(known))}"
                )
            yield number, record


def key_for(record: dict[str, Any]) -> bytes | None:
    if "key" in record:
        return None if record["key"] is None else str(record["key"]).encode()
    field = KEY_FIELDS.get(spec(record["topic"]).key)
    value = record["value"].get(field) if field and isinstance(record["value"], dict) else None
    return None if value is None else str(value).encode()
