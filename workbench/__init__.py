"""The workbench around the product: a local Kafka and ClickHouse (``stack``), the 2022 story
(``simulator``), sending files of events (``playback``), history in a namespace of its own
(``replay``), the benchmarks (``bench``) and the demo. It depends on ``streams``; ``streams``
never on it."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The checkout the workbench runs in: its deploy/ files, its .local state."""
