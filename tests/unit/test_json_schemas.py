from __future__ import annotations

import json
from pathlib import Path

from workbench import schema_files as json_schemas


def test_checked_in_schemas_match_the_models() -> None:
    assert json_schemas.drift() == [], "run `sentinel schemas write` and commit schemas/json"


def test_drift_detects_an_edited_a_missing_and_a_stray_file(tmp_path: Path) -> None:
    json_schemas.write(tmp_path)
    assert json_schemas.drift(tmp_path) == []
    edited = tmp_path / "gate.entries.schema.json"
    edited.write_text(edited.read_text().replace('"plate"', '"licence"'))
    (tmp_path / "health.nat.schema.json").unlink()
    (tmp_path / "old.topic.schema.json").write_text("{}")
    assert json_schemas.drift(tmp_path) == [
        "gate.entries.schema.json",
        "health.nat.schema.json",
        "old.topic.schema.json",
    ]


def test_raw_entry_schema_requires_resident_ids() -> None:
    schema = json.loads((json_schemas.SCHEMA_DIR / "gate.entries.schema.json").read_text())
    occupant = schema["$defs"]["RawOccupant"]
    assert "id_number" in occupant["required"]
    assert schema["additionalProperties"] is False
