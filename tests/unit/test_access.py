"""How clients reach Kafka (streams/access.py) and what each user is granted (grants): no broker."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from clickhouse_driver.util.helpers import parse_url
from pydantic import SecretStr

from streams import access, cli
from streams.settings import ConfigError, Settings, load_settings
from streams.topics import grants


def test_a_client_without_the_stack_secrets_is_told_where_they_come_from(tmp_path: Path) -> None:
    settings = load_settings({"SENTINEL_STATE_DIR": str(tmp_path)})
    with pytest.raises(ConfigError, match="SENTINEL_KAFKA_PASSWORD.*sentinel stack up"):
        access.kafka_python(settings)
    access.password_file(settings, "worker").parent.mkdir(parents=True)
    access.password_file(settings, "worker").write_text("pw\n")
    with pytest.raises(ConfigError, match="SENTINEL_KAFKA_CA_FILE"):
        access.kafka_python(settings)


def test_plaintext_is_only_the_bootstrap_and_sasl_ssl_names_the_user(tmp_path: Path) -> None:
    plain = load_settings({"SENTINEL_KAFKA_SECURITY": "plaintext"})
    assert access.kafka_python(plain) == {"bootstrap_servers": "127.0.0.1:9092"}
    assert access.faust_credentials(plain) is None
    secured = load_settings(
        {"SENTINEL_STATE_DIR": str(tmp_path), "SENTINEL_KAFKA_PASSWORD": "given"}
    )
    assert access.password(secured) == "given"
    with pytest.raises(ConfigError, match="user 'gate'"):  # not the worker's password
        access.password(access.as_user(secured, "gate"))


def test_a_misspelt_security_is_refused_with_the_choices() -> None:
    with pytest.raises(ConfigError, match="sasl_ssl.*plaintext"):
        load_settings({"SENTINEL_KAFKA_SECURITY": "ssl"})


def _granted(settings: Settings) -> set[tuple[str, str, str, str]]:
    return {
        (
            a.principal,
            a.resource_pattern.resource_type.name,
            a.resource_pattern.resource_name,
            a.operation.name,
        )
        for a in grants(settings)
    }


def test_gates_and_labs_may_write_only_their_raw_topics() -> None:
    settings = load_settings({"SENTINEL_TOPIC_PREFIX": "p."})
    granted = _granted(settings)
    gate = {(kind, name, op) for who, kind, name, op in granted if who == "User:gate"}
    lab = {(kind, name, op) for who, kind, name, op in granted if who == "User:lab"}
    assert {op for _, _, op in gate | lab} == {"WRITE", "DESCRIBE"}
    assert {name for _, name, _ in gate} == {
        "p.gate.entries",
        "p.gate.exits",
        "p.gate.heartbeats",
        "p.gate.resolutions",
    }
    assert {name for _, name, _ in lab} == {"p.health.antigen", "p.health.visits", "p.health.nat"}
    worker = {(kind, name) for who, kind, name, op in granted if who == "User:worker"}
    assert ("TOPIC", "p.") in worker and ("GROUP", "gate-sentinel") in worker


def test_a_worker_refuses_the_public_pseudonym_key_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [k for k in os.environ if k.startswith("SENTINEL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SENTINEL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("SENTINEL_PSEUDONYM_KEY", access.PUBLIC_PSEUDONYM_KEY)
    assert cli.main(["worker"]) == 2
    assert "SENTINEL_PSEUDONYM_KEY is the public development key" in capsys.readouterr().err
    # Unset, with no local stack: told what to set.
    monkeypatch.delenv("SENTINEL_PSEUDONYM_KEY")
    assert cli.main(["worker"]) == 2
    assert "SENTINEL_PSEUDONYM_KEY is not set" in capsys.readouterr().err


def test_the_public_key_is_taken_in_development_and_the_stack_key_otherwise(tmp_path: Path) -> None:
    public = {"SENTINEL_PSEUDONYM_KEY": access.PUBLIC_PSEUDONYM_KEY}
    development = load_settings({**public, "SENTINEL_ENVIRONMENT": "development"})
    assert access.pseudonym_key(development) == access.PUBLIC_PSEUDONYM_KEY.encode()
    stack = load_settings({"SENTINEL_STATE_DIR": str(tmp_path)})
    access.pseudonym_key_file(stack).parent.mkdir(parents=True)
    access.pseudonym_key_file(stack).write_text("a-random-key-of-the-stack\n")
    assert access.pseudonym_key(stack) == b"a-random-key-of-the-stack"


def test_the_board_beyond_loopback_needs_a_password_and_then_asks_for_it() -> None:
    with pytest.raises(ConfigError, match="SENTINEL_HTTP_PASSWORD"):
        access.check_http_exposure(load_settings({"SENTINEL_HTTP_HOST": "0.0.0.0"}))
    access.check_http_exposure(load_settings({}))  # loopback, open
    open_board = load_settings({})
    assert access.http_allowed(open_board, "/", None)
    guarded = load_settings(
        {
            "SENTINEL_HTTP_HOST": "0.0.0.0",
            "SENTINEL_HTTP_PASSWORD": "pw",
            "SENTINEL_METRICS_TOKEN": "tok",
        }
    )
    access.check_http_exposure(guarded)
    basic = "Basic " + base64.b64encode(b"operator:pw").decode()
    wrong = "Basic " + base64.b64encode(b"operator:nope").decode()
    assert not access.http_allowed(guarded, "/", None)
    assert not access.http_allowed(guarded, "/api/board", wrong)
    assert access.http_allowed(guarded, "/api/board", basic)
    assert access.http_allowed(guarded, "/metrics", "Bearer tok")
    assert not access.http_allowed(guarded, "/api/board", "Bearer tok")  # the token is for metrics


def test_an_action_on_the_board_always_needs_the_operators_password(tmp_path: Path) -> None:
    """Loopback is no trust boundary: reads stay open there without a password, actions never
    (issue 29's finding: a plain POST released a held truck as "nobody-1")."""
    stack = load_settings({"SENTINEL_STATE_DIR": str(tmp_path)})
    assert access.board_password(stack) == ""  # no stack made, nothing set: no action at all
    assert not access.http_act_allowed("", None)
    assert not access.http_act_allowed("", "Basic " + base64.b64encode(b"operator:").decode())
    access.board_password_file(stack).parent.mkdir(parents=True)
    access.board_password_file(stack).write_text("made-by-the-stack\n")
    password = access.board_password(stack)
    assert password == "made-by-the-stack"
    assert access.http_allowed(stack, "/api/entries/e1/resolve", None)  # reading: open
    right = "Basic " + base64.b64encode(b"operator:made-by-the-stack").decode()
    assert access.http_act_allowed(password, right)
    assert not access.http_act_allowed(password, None)
    assert not access.http_act_allowed(password, "Basic " + base64.b64encode(b"x:y").decode())
    assert not access.http_act_allowed(password, "Bearer made-by-the-stack")
    assert not access.http_act_allowed(password, right.replace("Basic", "basic") + "=")
    given = load_settings(
        {"SENTINEL_STATE_DIR": str(tmp_path), "SENTINEL_HTTP_PASSWORD": "the-deployments"}
    )
    assert access.board_password(given) == "the-deployments"  # the setting wins


def test_clickhouse_urls_carry_the_users_password_from_a_setting_or_the_stack(
    tmp_path: Path,
) -> None:
    settings = load_settings({"SENTINEL_STATE_DIR": str(tmp_path)})
    with pytest.raises(ConfigError, match="user 'worker'.*SENTINEL_CLICKHOUSE_PASSWORD"):
        access.clickhouse_url(settings)
    for user, password in (("worker", "w/p@ss:1"), ("default", "admin-pw")):
        path = access.clickhouse_password_file(settings, user)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(password + "\n")
    url = access.clickhouse_url(settings)
    assert url == "clickhouse://worker:w%2Fp%40ss%3A1@127.0.0.1:9000/sentinel"
    host, kwargs = parse_url(url)  # what clickhouse-driver makes of it
    assert (host, kwargs["user"], kwargs["password"]) == ("127.0.0.1", "worker", "w/p@ss:1")
    admin = access.clickhouse_admin_url(settings, "default")
    assert admin == "clickhouse://default:admin-pw@127.0.0.1:9000/default"
    given = load_settings(
        {
            "SENTINEL_STATE_DIR": str(tmp_path),
            "SENTINEL_CLICKHOUSE_URL": "clickhouses://analyst@db.park:9440/sentinel?verify=true",
            "SENTINEL_CLICKHOUSE_PASSWORD": "given",
        }
    )
    assert access.clickhouse_url(given) == (
        "clickhouses://analyst:given@db.park:9440/sentinel?verify=true"
    )
    apart = {"SENTINEL_STATE_DIR": str(tmp_path), "SENTINEL_PSEUDONYM_KEY": "k" * 32}
    pinned = access.pinned(load_settings({**apart, "SENTINEL_KAFKA_SECURITY": "plaintext"}))
    assert pinned.clickhouse_password.get_secret_value() == "w/p@ss:1"
    assert pinned.clickhouse_admin_password.get_secret_value() == "admin-pw"


def test_every_producer_waits_for_the_in_sync_copies_and_writes_a_retried_send_once() -> None:
    from faust.transport.drivers import by_url

    from streams.app import TRANSPORT

    plain = load_settings({"SENTINEL_KAFKA_SECURITY": "plaintext"})
    producer = access.kafka_producer(plain)
    assert (producer["acks"], producer["enable_idempotence"]) == ("all", True)
    # The worker's Faust producer: Faust turns idempotence on only in transactions.
    faust_producer = by_url(f"{TRANSPORT}://127.0.0.1:9092").Producer
    unstarted = faust_producer.__new__(faust_producer)
    unstarted.app = SimpleNamespace(in_transaction=False)
    extra = unstarted._settings_extra()
    assert (extra["acks"], extra["enable_idempotence"]) == ("all", True)


def test_a_clusters_url_keeps_its_replicas_when_another_database_is_named() -> None:
    settings = load_settings(
        {"SENTINEL_CLICKHOUSE_URL": "clickhouse://worker@h1:9000/sentinel?alt_hosts=h2:9000"}
    )
    host, options = parse_url(settings.clickhouse_url_in("it_1"))
    assert (host, options["database"], options["alt_hosts"]) == ("h1", "it_1", "h2:9000")
    # and the URL a client is made from keeps them too (a worker fails over to h2)
    _, options = parse_url(
        access.clickhouse_url(settings.model_copy(update={"clickhouse_password": SecretStr("pw")}))
    )
    assert options["alt_hosts"] == "h2:9000"
