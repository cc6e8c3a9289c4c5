"""``sentinel schemas write|check``: the JSON Schema files of the repository (``schemas/json``),
rendered from the models by ``streams/json_schemas.py``."""

from __future__ import annotations

from pathlib import Path

from streams.json_schemas import render

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas" / "json"


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
