"""What a user reads when Kafka or ClickHouse fails: one sentence naming the service, what it
said, the setting and the fix (:func:`describe`), never a client library's traceback; and those
libraries' own warnings, which repeat the same failure with a traceback at every attempt, kept
to debug level (:func:`quiet_clients`)."""

from __future__ import annotations

import logging

from streams.settings import Settings

# clickhouse_driver logs "Failed to connect" with a traceback at every attempt, before raising
# the error its caller reports in a line of its own.
NOISY = ("clickhouse_driver.connection",)

# ClickHouse's error codes for what a user can mend: the sink refuses a batch on them (it will not
# go in by waiting) and describe() names the fix.
AUTH_CODES = {192, 193, 194, 516}  # unknown user, wrong password, password required, auth failed
NO_DATABASE = 81
TABLE_CODES = {16, 47, 60}  # no such column, unknown identifier, unknown table


def quiet_clients(debug: bool) -> None:
    """Unless at debug level, the client libraries' repeated connection warnings are not shown:
    our own line says the same once per attempt or backoff step, with its count."""
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.NOTSET if debug else logging.ERROR)


def describe(exc: BaseException, settings: Settings) -> str | None:
    """The sentence for a Kafka or ClickHouse failure; None for any other error."""
    from clickhouse_driver import errors as ch
    from kafka import errors as kafka

    if isinstance(exc, ch.Error):
        return _clickhouse(exc, settings)
    if isinstance(exc, kafka.KafkaError):
        return _kafka(exc, settings)
    return None


def first_line(exc: BaseException) -> str:
    """The first line of an error, without the server's stack trace."""
    text = (getattr(exc, "message", None) or str(exc)).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _clickhouse(exc: BaseException, settings: Settings) -> str:
    from clickhouse_driver import errors as ch

    where = f"ClickHouse at {settings.clickhouse_url.split('@')[-1]}"
    said = first_line(exc)
    code = getattr(exc, "code", None)
    if isinstance(exc, ch.NetworkError | ch.SocketTimeoutError):
        return (
            f"{where} does not answer ({said}): start it (`sentinel stack up`), or set "
            "SENTINEL_CLICKHOUSE_URL to where it runs"
        )
    if code in AUTH_CODES:
        return (
            f"{where} refuses the user ({said}): set the user in SENTINEL_CLICKHOUSE_URL and its "
            "password in SENTINEL_CLICKHOUSE_PASSWORD"
        )
    if code == NO_DATABASE:
        return f"{where} has no database {settings.clickhouse_database}: run `sentinel migrate`"
    if code in TABLE_CODES:
        return f"{where} lacks a table or column ({said}): run `sentinel migrate`"
    return f"{where} failed: {said}"


def _kafka(exc: BaseException, settings: Settings) -> str:
    from kafka import errors as kafka

    where = f"Kafka at {settings.kafka_bootstrap}"
    if isinstance(exc, kafka.NoBrokersAvailable | kafka.KafkaConnectionError):
        return (
            f"{where} does not answer: start it (`sentinel stack up`), or set "
            "SENTINEL_KAFKA_BOOTSTRAP to where it runs"
        )
    if isinstance(exc, kafka.SaslAuthenticationFailedError):
        return (
            f"{where} refuses user {settings.kafka_user!r}: set its password in "
            "SENTINEL_KAFKA_PASSWORD, or the user in SENTINEL_KAFKA_USER"
        )
    if isinstance(exc, kafka.AuthorizationError):
        return (
            f"{where} does not let user {settings.kafka_user!r} do this ({type(exc).__name__}): "
            "run it as a user granted it (SENTINEL_KAFKA_USER; README.md, Security, lists "
            "the grants)"
        )
    if isinstance(exc, kafka.UnknownTopicOrPartitionError | kafka.KafkaTimeoutError):
        return (
            f"{where} did not give what was asked ({first_line(exc)}): a topic may be missing "
            f"(`sentinel topics create`), or user {settings.kafka_user!r} refused "
            "(SENTINEL_KAFKA_USER, SENTINEL_KAFKA_PASSWORD); `sentinel stack status` tells which"
        )
    said = f"{type(exc).__name__}: {first_line(exc)}"
    return f"{where} failed ({said}): is it up (`sentinel stack status`)?"


class Delays:
    """How long every retry in the pipeline waits: ``first`` after a failure, doubling after each
    further one up to ``longest``, and ``first`` again after a success. One policy, so that a
    service that is down is asked at the same pace by every part of a worker."""

    def __init__(self, first: float, longest: float) -> None:
        self.first, self.longest = first, longest
        self.failures, self._wait = 0, first

    def failed(self) -> float:
        """Count a failure; return how long to wait before the next try."""
        self.failures += 1
        self._wait = self.first if self.failures == 1 else min(self._wait * 2, self.longest)
        return self._wait

    def succeeded(self) -> None:
        self.failures, self._wait = 0, self.first


class Backoff:
    """A step repeated while a service fails, waiting by :class:`Delays` (from ``every`` up to
    ``longest``); the failure is logged once per step with its count (the traceback at debug
    level); the first success after failures says so, and the wait is ``every`` again."""

    def __init__(self, log: logging.Logger, what: str, every: float, longest: float) -> None:
        self._log, self._what = log, what
        self._delays = Delays(every, longest)

    def failed(self, exc: BaseException) -> float:
        """Log this failure; return how long to wait before the next try."""
        wait = self._delays.failed()
        self._log.warning(
            "%s failed (%d in a row): %s: %s; next try in %.0f s",
            self._what,
            self._delays.failures,
            type(exc).__name__,
            first_line(exc),
            wait,
        )
        self._log.debug("%s failed", self._what, exc_info=exc)
        return wait

    def succeeded(self) -> float:
        """Say when a run of failures ends; return how long to wait before the next step."""
        if self._delays.failures:
            self._log.warning("%s works again after %d failures", self._what, self._delays.failures)
        self._delays.succeeded()
        return self._delays.first
