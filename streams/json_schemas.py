"""JSON Schema files for every topic's events, generated from the pydantic models.

``sentinel schemas write`` (the workbench) regenerates ``schemas/json/`` in the repository; a unit
test fails when the checked-in files drift from the models, so producers in other languages always
have the current contract.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from schemas.notice import Notice
from streams.topics import CATALOGUE, KEY_DOCS


def render() -> dict[str, str]:
    """File name -> file text, one per catalogue topic that carries JSON events."""
    files = {}
    for topic in CATALOGUE:
        if topic.model is None:
            continue
        model: Any = Notice if topic.name == "sentinel.evidence" else topic.model
        schema = TypeAdapter(model).json_schema(mode="validation")
        doc = (getattr(model, "__doc__", None) or "").strip().split("\n")[0]
        if topic.name == "sentinel.evidence":
            doc = "A positive found at a park, or a plate stopped or let go at a gate."
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"gate-sentinel/{topic.name}.schema.json",
            "description": f"Value of a record on topic {topic.name}; its key: "
            f"{KEY_DOCS[topic.key]}. {doc}",
            "x-kafka-key": topic.key,
            **schema,
        }
        files[f"{topic.name}.schema.json"] = (
            json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        )
    return files
