"""What SCRAM-SHA-512 over TLS costs against PLAINTEXT: the same events produced to, and read
raw (as (a) reads them) from, the stack's secured broker and a plaintext broker started for the
measure beside it (its own ports and state under ``<state_dir>/bench/plaintext``, the stack's
jars; stopped and deleted afterwards). Same machine, same run, same events."""

from __future__ import annotations

import shutil
import socket
import statistics
import time
from typing import Any

from streams.settings import Settings
from workbench.playback import produce
from workbench.stack._process import absolute
from workbench.stack.kafka import KafkaBroker
from workbench.stack.ports import StackPorts


def transport_cost(bench: Any, raw_read: Any) -> None:
    """Figures ``produce_*`` (the bench's events to topics of their own, as gates and labs send)
    and ``a_raw_aiokafka_*`` (read as (a) reads), each ``_secured`` and ``_plaintext``, their
    runs taken in turn so that the machine's drift falls on both; ratios in ``tls_scram_cost``."""
    from streams.topics import create_topics

    secured: Settings = bench.settings
    plain = _plaintext_broker(secured)
    broker = KafkaBroker(plain, stack_ports=StackPorts(kafka_controller_port=_free_port()))
    try:
        bench.progress(broker.up(bench.progress))
        create_topics(plain)
        _send_all(plain, bench)  # what (a) reads there
        sides = {"secured": secured, "plaintext": plain}
        for settings in sides.values():
            create_topics(_beside(settings, "tx."))
        runs: dict[str, list[float]] = {}
        for run in range(bench.runs):
            for side, settings in sides.items():
                started = time.perf_counter()
                produce(_beside(settings, "tx."), bench.records, bench.events, label=side)
                sent = bench.events / (time.perf_counter() - started)
                runs.setdefault(f"produce_{side}", []).append(sent)
                read = raw_read(_with(bench, settings))
                runs.setdefault(f"a_raw_aiokafka_{side}", []).append(read)
                bench.progress(f"run {run + 1}, {side}: produce {sent:,.0f}/s, read {read:,.0f}/s")
        median = {name: statistics.median(values) for name, values in runs.items()}
        for name, values in runs.items():
            bench.figures[name] = {"median": median[name], "runs": values}
        bench.figures["tls_scram_cost"] = {
            what: median[f"{what}_secured"] / median[f"{what}_plaintext"]
            for what in ("produce", "a_raw_aiokafka")
        }
    finally:
        broker.down()
        shutil.rmtree(plain.state_dir, ignore_errors=True)


def _send_all(settings: Settings, bench: Any) -> None:
    """The bench's events to a broker just started, which may refuse a few sends while its new
    partitions settle (NotLeaderForPartition): sent again then; a raw read counts them all."""
    from workbench.playback import ProduceError

    for attempt in range(3):
        try:
            produce(settings, bench.records, bench.events, label="preloading the plaintext broker")
            return
        except ProduceError as exc:
            if attempt == 2:
                raise
            bench.progress(f"{exc}; again")


def _plaintext_broker(secured: Settings) -> Settings:
    state = absolute(secured).state_dir
    plain = secured.model_copy(
        update={
            "state_dir": state / "bench" / "plaintext",
            "kafka_security": "plaintext",
            "kafka_bootstrap": f"127.0.0.1:{_free_port()}",
        }
    )
    libs = KafkaBroker(plain).libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    if not libs.exists():
        libs.symlink_to(KafkaBroker(secured).libs)  # the stack's jars, resolved once
    return plain


def _beside(settings: Settings, prefix: str) -> Settings:
    """Topics of their own beside the bench's (deleted with them: same run prefix)."""
    return settings.model_copy(update={"topic_prefix": settings.topic_prefix + prefix})


def _with(bench: Any, settings: Settings) -> Any:
    """The bench, reading ``settings``' broker."""
    from dataclasses import replace

    return replace(bench, settings=settings)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
