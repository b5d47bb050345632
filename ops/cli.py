"""Command line: `python -m ops <command> [options]` (installed as `koiki-ops` too).

Settings come from the environment and `.env`, like the application's; options override the
operational ones. Exit codes: 0 success, 1 the operation failed, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ops import settings as ops_settings

if TYPE_CHECKING:
    from libkoiki.config import Settings
    from ops.database import PgTarget
    from ops.superuser import SuperuserRequest

# Command modules are imported inside their handlers: the entrypoint runs three commands per
# container start, and each should not pay for the imports of the others.

EXIT_FAILED = 1
EXIT_USAGE = 2


class CommandError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def load_settings() -> Settings:
    try:
        return ops_settings.load_settings()
    except ops_settings.InvalidSettings as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc


def _pg_target(settings: Settings) -> PgTarget:
    from ops.database import NotPostgresError, PgTarget

    try:
        return PgTarget.from_url(settings.database_url)
    except NotPostgresError as exc:
        raise CommandError(
            f"{exc}. For the embedded SQLite database, stop the app and copy the file.", EXIT_USAGE
        ) from exc


def cmd_wait_for_db(args: argparse.Namespace) -> int:
    from ops.waitdb import DatabaseUnreachable, wait_for_database

    settings = load_settings()
    try:
        asyncio.run(wait_for_database(settings, retries=args.retries, interval=args.interval))
    except DatabaseUnreachable as exc:
        raise CommandError(f"wait-for-db: {exc}") from exc
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from ops.migrate import MigrationLockTimeout, migrate

    settings = load_settings()
    try:
        asyncio.run(migrate(settings, lock_timeout=args.lock_timeout))
    except MigrationLockTimeout as exc:
        raise CommandError(f"migrate: {exc}") from exc
    return 0


def _backup_dir(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.backup_dir) if args.backup_dir else settings.backup_dir


def cmd_backup(args: argparse.Namespace) -> int:
    from ops import backup

    settings = load_settings()
    target = _pg_target(settings)
    if args.base:
        return _base_backup(settings, target)
    retention = args.retention_days or settings.backup_retention_days
    try:
        result = backup.run_backup(target, _backup_dir(args, settings), retention_days=retention)
    except backup.BackupError as exc:
        raise CommandError(f"backup: {exc}") from exc
    print(result.path)
    return 0


def _base_backup(settings: Settings, target: PgTarget) -> int:
    from ops import backup, base_backup

    try:
        result = base_backup.run_base_backup(
            target,
            settings.base_backup_dir,
            settings.wal_archive_dir,
            keep=settings.base_backup_keep,
        )
    except backup.BackupError as exc:
        raise CommandError(f"backup --base: {exc}") from exc
    print(result.path)
    return 0


def cmd_list_backups(args: argparse.Namespace) -> int:
    from ops import backup

    settings = load_settings()
    backup_dir = _backup_dir(args, settings)
    found = backup.list_backups(backup_dir)
    if not found:
        print(f"no backups in {backup_dir}", file=sys.stderr)
    for item in found:
        checksum = "sha256" if item.checksum_path.is_file() else "NO CHECKSUM"
        size = backup.human_size(item.path.stat().st_size)
        print(f"{item.path.name}  {item.taken_at:%Y-%m-%d %H:%M:%S}Z  {size:>10}  {checksum}")
    return 0


def cmd_prune_backups(args: argparse.Namespace) -> int:
    from ops import backup

    settings = load_settings()
    retention = args.retention_days or settings.backup_retention_days
    backup.prune_backups(
        _backup_dir(args, settings), retention_days=retention, dry_run=args.dry_run
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from ops import backup, restore

    if args.to_time is not None or args.to_latest:
        return _point_in_time(args)
    if args.backup is None:
        raise CommandError(
            "restore: name a backup file, or give --to-time / --to-latest", EXIT_USAGE
        )
    settings = load_settings()
    target = _pg_target(settings)
    try:
        asyncio.run(
            restore.restore_backup(
                target,
                args.backup,
                _backup_dir(args, settings),
                target_db=args.target_db,
                confirm=args.confirm,
                skip_checksum=args.skip_checksum,
            )
        )
    except restore.ConfirmationRequired as exc:
        raise CommandError(f"restore: {exc}", EXIT_USAGE) from exc
    except (restore.RestoreError, backup.BackupError) as exc:
        raise CommandError(f"restore: {exc}") from exc
    return 0


def _point_in_time(args: argparse.Namespace) -> int:
    from ops import pitr

    if args.backup is not None:
        raise CommandError(
            "restore: --to-time/--to-latest use the base backups, not a dump file", EXIT_USAGE
        )
    if args.to_time is not None and args.to_latest:
        raise CommandError("restore: --to-time or --to-latest, not both", EXIT_USAGE)
    if args.data_dir is None:
        raise CommandError(
            "restore: --data-dir is required: the new PostgreSQL data directory", EXIT_USAGE
        )
    settings = load_settings()
    try:
        when = None if args.to_latest else pitr.parse_target_time(args.to_time)
        plan = pitr.plan_recovery(
            settings.base_backup_dir, settings.wal_archive_dir, Path(args.data_dir), when
        )
        pitr.build_data_directory(plan, confirm=args.confirm, owner=args.owner)
    except pitr.RecoveryUsageError as exc:
        raise CommandError(f"restore: {exc}", EXIT_USAGE) from exc
    except (pitr.RecoveryError, OSError) as exc:
        raise CommandError(f"restore: {exc}") from exc
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from ops import doctor

    results = asyncio.run(doctor.run_checks())
    if args.json:
        doctor.render_json(results, sys.stdout)
    else:
        doctor.render(results, sys.stdout)
    return doctor.exit_code(results, strict=args.strict)


def cmd_slow_queries(args: argparse.Namespace) -> int:
    from ops.slow_queries import NotEnabled, render, top_statements

    target = _pg_target(load_settings())
    try:
        statements = asyncio.run(top_statements(target, args.limit))
    except NotEnabled as exc:
        raise CommandError(str(exc)) from exc
    render(statements, sys.stdout)
    return 0


def _superuser_request(args: argparse.Namespace, settings: Settings) -> SuperuserRequest | None:
    from ops.superuser import SuperuserRequest

    email = args.email or settings.first_superuser_email
    password: str | None = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif settings.first_superuser_password is not None:
        password = settings.first_superuser_password.get_secret_value()
    if args.if_configured and not email and not password:
        return None
    if not email:
        raise CommandError(
            "create-superuser: no e-mail (--email or FIRST_SUPERUSER_EMAIL)", EXIT_USAGE
        )
    if not password:
        if args.if_configured or not sys.stdin.isatty():
            raise CommandError(
                "create-superuser: no password (FIRST_SUPERUSER_PASSWORD or --password-stdin)",
                EXIT_USAGE,
            )
        password = getpass.getpass(f"Password for {email}: ")
        if password != getpass.getpass("Repeat it: "):
            raise CommandError("create-superuser: the passwords differ", EXIT_USAGE)
    return SuperuserRequest(email=email, password=password, full_name=args.full_name)


def cmd_create_superuser(args: argparse.Namespace) -> int:
    from ops.superuser import SuperuserError, ensure_first_superuser

    settings = load_settings()
    request = _superuser_request(args, settings)
    if request is None:
        print("create-superuser: FIRST_SUPERUSER_EMAIL not set; skipped", file=sys.stderr)
        return 0
    try:
        asyncio.run(ensure_first_superuser(settings, request))
    except SuperuserError as exc:
        raise CommandError(f"create-superuser: {exc}") from exc
    return 0


def cmd_purge_auth_state(args: argparse.Namespace) -> int:
    from ops.maintenance import purge_auth_state

    removed = asyncio.run(purge_auth_state(load_settings()))
    for table, count in removed.items():
        print(f"{table}: {count} expired row(s) removed")
    return 0


def cmd_maintenance(args: argparse.Namespace) -> int:
    from ops import maintenance_mode

    settings = load_settings()
    try:
        if args.action == "on":
            return asyncio.run(
                maintenance_mode.switch_on(
                    settings,
                    message=args.message,
                    retry_after=args.retry_after,
                    by=args.by,
                    reason=args.reason,
                )
            )
        if args.action == "off":
            return asyncio.run(
                maintenance_mode.switch_off(settings, by=args.by, reason=args.reason)
            )
        report = asyncio.run(maintenance_mode.read_switch(settings))
    except maintenance_mode.MaintenanceError as exc:
        raise CommandError(f"maintenance: {exc}") from exc
    maintenance_mode.render_status(report, settings, sys.stdout)
    return 0


def cmd_smoke(args: argparse.Namespace) -> int:
    from ops import smoke

    settings = load_settings()
    token = settings.maintenance_operator_token
    password = settings.smoke_password
    options = smoke.SmokeOptions(
        base_url=args.base_url,
        edge_url=args.edge_url,
        email=settings.smoke_email,
        password=password.get_secret_value() if password else None,
        operator_token=token.get_secret_value() if token else None,
        email_domain=args.email_domain,
    )
    results = smoke.run_smoke(options)
    smoke.render(results, smoke.step_count(options), sys.stdout)
    return 0 if smoke.passed(results, options) else EXIT_FAILED


def _add_maintenance(sub: argparse.ArgumentParser) -> None:
    actions = sub.add_subparsers(dest="action", required=True, metavar="on|off|status")
    on = actions.add_parser("on", help="turn maintenance on: the API answers 503 maintenance")
    on.add_argument("--message", help="shown to clients (default: a generic notice)")
    on.add_argument(
        "--retry-after",
        type=_seconds,
        help="seconds clients are told to wait (Retry-After; default 300)",
    )
    off = actions.add_parser("off", help="turn maintenance off")
    for action in (on, off):
        action.add_argument("--by", help="who (default: KOIKI_OPERATOR or the login name)")
        action.add_argument("--reason", help="why, for the audit trail")
    actions.add_parser("status", help="show the switch, in Redis and in MAINTENANCE_FILE")


def _seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds") from None
    if not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError("must be between 0 and 86400 seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops",
        description="KOIKI-FW operations: database start-up, migrations, backups, diagnostics.",
        epilog="Settings are read from the environment and .env (see .env.example).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, handler: Callable[[argparse.Namespace], int], help_text: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    sub = add("wait-for-db", cmd_wait_for_db, "Wait until the database accepts connections.")
    sub.add_argument("--retries", type=int, help="attempts (default: DB_WAIT_RETRIES, 30)")
    sub.add_argument(
        "--interval",
        type=float,
        help="seconds between attempts (default: DB_WAIT_INTERVAL_SECONDS, 2)",
    )

    sub = add(
        "migrate",
        cmd_migrate,
        "Apply migrations (alembic upgrade head) once, under a PostgreSQL advisory lock.",
    )
    sub.add_argument(
        "--lock-timeout",
        type=float,
        default=600.0,
        help="seconds to wait for another instance's migration (default 600)",
    )

    def backup_dir_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--backup-dir", help="backup folder (default: BACKUP_DIR)")

    def retention_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--retention-days",
            type=int,
            help="delete backups older than this (default: BACKUP_RETENTION_DAYS, 30)",
        )

    sub = add(
        "backup",
        cmd_backup,
        "Dump the database (pg_dump, custom format, compressed) with a SHA-256 file, then "
        "delete backups older than the retention period. Prints the new file's path.",
    )
    backup_dir_option(sub)
    retention_option(sub)
    sub.add_argument(
        "--base",
        action="store_true",
        help="a base backup for point-in-time recovery (pg_basebackup into BASE_BACKUP_DIR), "
        "then keep the newest BASE_BACKUP_KEEP and the archived WAL they need",
    )

    sub = add("list-backups", cmd_list_backups, "List the backups in BACKUP_DIR, oldest first.")
    backup_dir_option(sub)

    sub = add(
        "prune-backups",
        cmd_prune_backups,
        "Delete backups older than the retention period (the newest one is always kept).",
    )
    backup_dir_option(sub)
    retention_option(sub)
    sub.add_argument("--dry-run", action="store_true", help="only list what would be deleted")

    sub = add(
        "restore",
        cmd_restore,
        "Restore a backup into an empty or new database after verifying its checksum.",
    )
    sub.add_argument("backup", nargs="?", help="backup file name in BACKUP_DIR, or a path")
    sub.add_argument(
        "--to-time",
        metavar="TIME",
        help='point-in-time recovery to TIME, with an offset ("2026-12-01 10:15:00+09"): a new '
        "data directory from the newest base backup before TIME plus the archived WAL",
    )
    sub.add_argument(
        "--to-latest", action="store_true", help="point-in-time recovery to the last archived WAL"
    )
    sub.add_argument("--data-dir", help="with --to-time/--to-latest: the new data directory")
    sub.add_argument(
        "--owner",
        help="with --to-time/--to-latest: give the directory to this user (the server's, when "
        "running as root)",
    )
    sub.add_argument(
        "--target-db",
        help="database to restore into; created when absent (default: DATABASE_URL's)",
    )
    sub.add_argument(
        "--confirm",
        metavar="DBNAME",
        help="required: the target database's name, to confirm the restore (point-in-time: "
        "the non-empty data directory to replace; it is moved aside)",
    )
    sub.add_argument(
        "--skip-checksum",
        action="store_true",
        help="restore even without a .sha256 file (a mismatching checksum is never accepted)",
    )
    backup_dir_option(sub)

    sub = add(
        "doctor",
        cmd_doctor,
        "Check settings, database, migrations, Redis, secrets and backup space; exit 1 on failure.",
    )
    sub.add_argument("--json", action="store_true", help="machine-readable output")
    sub.add_argument("--strict", action="store_true", help="warnings fail too")

    sub = add(
        "slow-queries",
        cmd_slow_queries,
        "The statements that took the database the most time (pg_stat_statements).",
    )
    sub.add_argument("--limit", type=int, default=10, help="how many (default 10)")

    add(
        "purge-auth-state",
        cmd_purge_auth_state,
        "Delete expired sessions, refresh and reset tokens, revocations and login attempts "
        "(safe at any time; run it daily from cron or a scheduled job).",
    )

    sub = add(
        "maintenance",
        cmd_maintenance,
        "Maintenance mode: on [--message TEXT] [--retry-after SECONDS] | off | status. Every "
        "replica obeys within about a second; operators pass (MAINTENANCE_ALLOW_IPS, "
        "X-Maintenance-Token).",
    )
    _add_maintenance(sub)

    sub = add(
        "smoke",
        cmd_smoke,
        "Run a user's journey against a deployment (health, account, login, todos, refresh, "
        "logout, docs) and print a table of timed steps; exit 0 only if every step passes.",
    )
    sub.add_argument("base_url", metavar="BASE_URL", help="e.g. http://127.0.0.1:8000")
    sub.add_argument(
        "--edge-url", help="the public URL through nginx: /metrics must not be served there"
    )
    sub.add_argument(
        "--email-domain",
        default="example.com",
        help="domain of the throwaway account (default example.com; SMOKE_EMAIL skips it)",
    )

    sub = add(
        "create-superuser",
        cmd_create_superuser,
        "Create the first superuser (an existing account is left unchanged).",
    )
    sub.add_argument("--email", help="default: FIRST_SUPERUSER_EMAIL")
    sub.add_argument("--full-name")
    sub.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input "
        "(default: FIRST_SUPERUSER_PASSWORD, or a prompt)",
    )
    sub.add_argument(
        "--if-configured",
        action="store_true",
        help="do nothing when FIRST_SUPERUSER_EMAIL/PASSWORD are unset (used by the entrypoint)",
    )
    return parser


def _connect_failure(exc: Exception) -> str | None:
    """One line for a database that cannot be reached or refuses us, whatever the command."""
    from libkoiki.db.connect_errors import describe_connect_failure

    try:
        url: str | None = ops_settings.load_settings().database_url
    except ops_settings.InvalidSettings:
        url = None
    failure = describe_connect_failure(exc, url)
    return failure.message if failure else None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except CommandError as exc:
        print(str(exc), file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        line = _connect_failure(exc)
        if line is None:
            raise
        print(f"{args.command}: {line}", file=sys.stderr)
        return EXIT_FAILED
    return code
