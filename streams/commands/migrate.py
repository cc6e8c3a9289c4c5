"""``sentinel migrate``: apply ClickHouse's migrations."""

from __future__ import annotations

import argparse

from streams import access
from streams.commands.base import Command, Failed, clickhouse_unreachable, no_options
from streams.settings import Settings


def run(args: argparse.Namespace, settings: Settings) -> int:
    from clickhouse_driver.errors import Error as ClickHouseError

    from streams.migrate import MigrationError, migrate

    try:
        applied = migrate(
            access.clickhouse_admin_url(settings),
            settings.clickhouse_database,
            settings.clickhouse_cluster,
        )
    except (ClickHouseError, OSError, EOFError) as exc:
        raise Failed(clickhouse_unreachable(settings, exc)) from None
    except MigrationError as exc:
        raise Failed(str(exc)) from None
    where = f"{settings.clickhouse_database} on {settings.clickhouse_url.split('@')[-1]}"
    print(f"applied {', '.join(applied)} to {where}" if applied else f"{where}: up to date")
    return 0


COMMAND = Command(
    "migrate",
    "apply ClickHouse migrations (in order, once each)",
    "Create or update the database of SENTINEL_CLICKHOUSE_URL: every migration not "
    "applied yet, in order, recorded with a checksum. An edited migration is refused.",
    ("sentinel migrate", "sentinel --namespace trial migrate"),
    no_options,
    run,
)
