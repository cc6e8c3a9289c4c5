"""JSON Schema files for every topic's events, generated from the pydantic models.

``sentinel schemas write`` regenerates ``schemas/json/``; a unit test fails when the checked-in
files drift from the models, so producers in other languages always have the current contract.
"""

from __future__ import annotations

import json
from pathlib import Path

from streams.settings import REPO_ROOT
from streams.topics import CATALOGUE

SCHEMA_DIR = REPO_ROOT / "schemas" / "json"


def render() -> dict[str, str]:
    """File name -> file text, one per catalogue topic that carries JSON events."""
    files = {}
    for topic in CATALOGUE:
        if topic.model is None:
            continue
        schema = topic.model.model_json_schema(mode="validation")
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"gate-sentinel/{topic.name}.schema.json",
            "description": f"Value of a record on topic {topic.name} (key: {topic.key}). "
            + (topic.model.__doc__ or "").strip().split("\n")[0],
            **schema,
        }
        files[f"{topic.name}.schema.json"] = (
            json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        )
    return files


def write(directory: Path = SCHEMA_DIR) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    rendered = render()
    for stale in directory.glob("*.schema.json"):
        if stale.name not in rendered:
            stale.unlink()
    for name, text in rendered.items():
        (directory / name).write_text(text, encoding="utf-8")
    return sorted(rendered)


def drift(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of the files that are missing, stale or different from the models."""
    rendered = render()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in directory.glob("*.schema.json")}
    return sorted(
        name for name in rendered.keys() | on_disk.keys() if rendered.get(name) != on_disk.get(name)
    )
