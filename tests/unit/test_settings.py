from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from streams.settings import ConfigError, Settings, load_settings


def test_defaults_point_at_the_local_stack() -> None:
    settings = load_settings({})
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.kafka_port == 9092
    assert settings.clickhouse_port == 9000
    assert settings.clickhouse_database == "sentinel"
    assert settings.topic("gate.entries") == "gate.entries"


def test_reads_only_the_mapping_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_APP_ID", "from-process-env")
    assert load_settings({}).app_id == "gate-sentinel"


def test_environment_overrides() -> None:
    settings = load_settings(
        {
            "SENTINEL_KAFKA_BOOTSTRAP": "127.0.0.1:19092,127.0.0.1:19093",
            "SENTINEL_CLICKHOUSE_URL": "clickhouse://default@127.0.0.1:19000/park_a",
            "SENTINEL_TOPIC_PREFIX": "test.",
            "SENTINEL_STATE_DIR": "/tmp/sentinel-state",
            "SENTINEL_SINK_BATCH_ROWS": "100",
            "UNRELATED": "ignored",
        }
    )
    assert settings.kafka_port == 19092
    assert settings.clickhouse_port == 19000
    assert settings.clickhouse_database == "park_a"
    assert settings.topic("gate.entries") == "test.gate.entries"
    assert settings.state_dir == Path("/tmp/sentinel-state")
    assert settings.sink_batch_rows == 100


def test_settings_are_frozen() -> None:
    settings = load_settings({})
    with pytest.raises(ValidationError):
        settings.app_id = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("SENTINEL_KAFKA_BOOTSTRAP", "localhost", "is not host:port"),
        ("SENTINEL_CLICKHOUSE_URL", "http://127.0.0.1:8123", "expected clickhouse://"),
        ("SENTINEL_CLICKHOUSE_URL", "clickhouse://127.0.0.1:9000/", "database name"),
        ("SENTINEL_CLICKHOUSE_URL", "clickhouse://127.0.0.1:99999/db", "bad port"),
        ("SENTINEL_LOG_LEVEL", "loud", "crit, error, warn, info or debug"),
        ("SENTINEL_SINK_BATCH_ROWS", "0", "greater than or equal to 1"),
        ("SENTINEL_TOPIC_PREFIX", "has space", "should match pattern"),
    ],
)
def test_bad_values_name_the_variable_and_the_fix(variable: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({variable: value})
    message = str(caught.value)
    assert variable in message
    assert expected in message


def test_a_misspelt_variable_is_an_error_not_ignored() -> None:
    with pytest.raises(ConfigError, match="unknown setting SENTINEL_KAFKA_BOOTSRAP"):
        load_settings({"SENTINEL_KAFKA_BOOTSRAP": "127.0.0.1:9092"})


def test_the_pseudonym_key_is_not_printed() -> None:
    settings = load_settings({"SENTINEL_PSEUDONYM_KEY": "s3cret-key"})
    assert "s3cret-key" not in repr(settings)
    assert settings.pseudonym_key.get_secret_value() == "s3cret-key"


def test_settings_class_refuses_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({"kafka_bootsrap": "x:1"})


def test_replicas_are_settings_and_a_quorum_larger_than_the_copies_is_refused() -> None:
    three = load_settings({"SENTINEL_REPLICATION_FACTOR": "3", "SENTINEL_MIN_INSYNC_REPLICAS": "2"})
    assert (three.replication_factor, three.min_insync_replicas) == (3, 2)
    with pytest.raises(ConfigError, match="SENTINEL_MIN_INSYNC_REPLICAS=2 is more than"):
        load_settings({"SENTINEL_MIN_INSYNC_REPLICAS": "2"})
    from streams.topics import CATALOGUE

    assert all(t.configs(three)["min.insync.replicas"] == "2" for t in CATALOGUE)


def test_the_one_broker_stack_refuses_a_replication_factor_it_cannot_give(tmp_path: Path) -> None:
    from workbench.stack import Stack, StackError

    settings = load_settings(
        {"SENTINEL_REPLICATION_FACTOR": "3", "SENTINEL_STATE_DIR": str(tmp_path)}
    )
    with pytest.raises(StackError, match="needs as many brokers, and this stack runs 1"):
        Stack(settings).up(progress=lambda _: None)
    assert not any(tmp_path.iterdir())  # nothing made, nothing started


CLUSTER = {
    "SENTINEL_KAFKA_BOOTSTRAP": "127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292",
    "SENTINEL_REPLICATION_FACTOR": "3",
    "SENTINEL_MIN_INSYNC_REPLICAS": "2",
    "SENTINEL_CLICKHOUSE_CLUSTER": "sentinel",
}


@pytest.mark.parametrize(
    ("change", "shape", "refusal"),
    [
        (
            {"SENTINEL_REPLICATION_FACTOR": "1", "SENTINEL_MIN_INSYNC_REPLICAS": "1"},
            (3, 2),
            "a broker lost would take its partitions with it",
        ),
        (
            {"SENTINEL_KAFKA_BOOTSTRAP": "127.0.0.1:9092"},
            (3, 2),
            "should name every broker.*127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292",
        ),
        ({"SENTINEL_CLICKHOUSE_CLUSTER": ""}, (3, 2), "set SENTINEL_CLICKHOUSE_CLUSTER=sentinel"),
        ({}, (1, 2), "SENTINEL_REPLICATION_FACTOR=3 needs as many brokers"),
    ],
)
def test_a_cluster_that_cannot_work_is_refused_before_anything_starts(
    tmp_path: Path, change: dict[str, str], shape: tuple[int, int], refusal: str
) -> None:
    from workbench.stack import Stack, StackError, Topology

    settings = load_settings(CLUSTER | change | {"SENTINEL_STATE_DIR": str(tmp_path)})
    with pytest.raises(StackError, match=refusal):
        Stack(settings, Topology(*shape)).up(progress=lambda _: None)
    assert not any(tmp_path.iterdir())


def test_a_clusters_nodes_sit_side_by_side_and_name_one_quorum(tmp_path: Path) -> None:
    from workbench.stack import Stack, Topology

    settings = load_settings(CLUSTER | {"SENTINEL_STATE_DIR": str(tmp_path)})
    stack = Stack(settings, Topology(3, 2))
    assert [b.address for b in stack.brokers] == CLUSTER["SENTINEL_KAFKA_BOOTSTRAP"].split(",")
    assert [b.controller_port for b in stack.brokers] == [9093, 9193, 9293]
    assert [r.port for r in stack.replicas] == [9000, 9100]
    ports = [p for node in [*stack.brokers, *stack.replicas] for p in node.ports]
    assert len(ports) == len(set(ports)), "two nodes would share a port"
    stack.brokers[1]._render_config()
    config = (tmp_path / "kafka-2" / "server.properties").read_text()
    assert "node.id=2\n" in config
    assert "controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9193,3@127.0.0.1:9293" in config
    assert "default.replication.factor=3\nmin.insync.replicas=2" in config
