"""The local stack's secrets, made once per stack and kept in its state directory: a password per
Kafka user and per ClickHouse user (``<state_dir>/secrets``, mode 0600) and a CA with the
broker's certificate signed by it (``<state_dir>/tls``, by openssl). Printed nowhere."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

from streams.access import (
    CLICKHOUSE_USERS,
    USERS,
    board_password_file,
    clickhouse_password_file,
    password_file,
    pseudonym_key_file,
    tls_dir,
)
from streams.settings import Settings
from workbench.stack._process import StackError

BROKER_NAME = "sentinel-broker"  # the broker certificate's CN: a super user on the controller
DAYS = "825"


def _private(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)


def _random_once(path: Path, size: int) -> str:
    """The random secret in ``path`` (mode 0600, in a 0700 directory), made on first use."""
    if not path.exists():
        _private(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(size))
    return path.read_text(encoding="utf-8").strip()


def pseudonym_key(settings: Settings) -> None:
    """The stack's own pseudonym key, made once: random, never the public one."""
    _random_once(pseudonym_key_file(settings), 32)


def board_password(settings: Settings) -> str:
    """The password of user ``operator`` for the gate board's actions, made once: with it an
    officer resolves a held truck or acknowledges an alert; without it nobody does."""
    return _random_once(board_password_file(settings), 18)


def passwords(settings: Settings) -> dict[str, str]:
    """Each Kafka user's password, made on first use."""
    return {user: _random_once(password_file(settings, user), 24) for user in USERS}


def clickhouse_passwords(settings: Settings) -> dict[str, str]:
    """Each ClickHouse user's password, made on first use."""
    return {
        user: _random_once(clickhouse_password_file(settings, user), 24)
        for user in CLICKHOUSE_USERS
    }


def certificates(settings: Settings) -> Path:
    """The CA (ca.pem) and the broker's key and certificate (broker.pem), made once."""
    tls = tls_dir(settings)
    if (tls / "broker.pem").exists() and (tls / "ca.pem").exists():
        return tls
    if shutil.which("openssl") is None:
        raise StackError("openssl is not on PATH; install it: apt-get install -y openssl")
    _private(tls / "ca.pem")
    ca_key, broker_key = tls / "ca.key", tls / "broker.key"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", DAYS,
        "-keyout", ca_key, "-out", tls / "ca.pem", "-subj", "/CN=Gate Sentinel local CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", broker_key,
        "-out", tls / "broker.csr", "-subj", f"/CN={BROKER_NAME}",
    )  # fmt: skip
    extensions = tls / "broker.ext"
    extensions.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "basicConstraints=CA:FALSE\n"
    )
    _openssl(
        "x509", "-req", "-in", tls / "broker.csr", "-CA", tls / "ca.pem", "-CAkey", ca_key,
        "-CAcreateserial", "-days", DAYS, "-out", tls / "broker.crt", "-extfile", extensions,
    )  # fmt: skip
    pem = tls / "broker.pem"
    pem.write_text(broker_key.read_text() + (tls / "broker.crt").read_text())
    for path in tls.iterdir():
        os.chmod(path, 0o600)
    return tls


def _openssl(*args: str | Path) -> None:
    result = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True)
    if result.returncode != 0:
        raise StackError(f"openssl {args[0]} failed: {result.stderr.strip()[-500:]}")
