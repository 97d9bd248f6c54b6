"""`wachannel` command line (API.md section 12)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from domain.access import Actor, Role
from domain.text import is_organization_id
from entrypoints import cli_alerts, cli_backups, cli_connect
from entrypoints.logging import configure_logging
from entrypoints.settings import DEV_JWT_SECRET, ConfigError, Settings, load_settings

_OWN_EMPTY_STORE = ("without one it would read a new, empty in-memory store, not the one "
                    "inside `wachannel serve`")
BANNER = """
==========================================================================
 wachannel is NOT configured for production:
{lines}
==========================================================================
"""


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"wachannel: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    result: int = args.run(settings, args)
    return result


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from application.errors import ApplicationError
    from entrypoints.container import build_container
    from entrypoints.http.app import create_app
    from entrypoints.http.server import CannotListen, serve, tls_context

    warnings = _development_warnings(settings)
    if warnings:
        print(BANNER.format(lines="\n".join(f"   {w}" for w in warnings)), file=sys.stderr,
              flush=True)
    container = build_container(settings, migrate_on_start=not args.no_migrate)
    app = create_app(container)

    async def started(_: web.Application) -> None:  # after the container's resources
        settle_heap()

    app.on_startup.append(started)
    host = args.host or settings.host
    port = args.port or settings.port
    try:
        tls = (tls_context(settings.tls_cert_file, settings.tls_key_file)
               if settings.tls_cert_file and settings.tls_key_file else None)
        asyncio.run(serve(app, host, port, settings.http_header_timeout_s, _listening, tls,
                          grace_s=settings.shutdown_grace_s,
                          drain_s=settings.shutdown_drain_s))
    except CannotListen as exc:
        print(f"wachannel: {exc}", file=sys.stderr, flush=True)
        return 1
    except ApplicationError as exc:  # a store or an Evolution it cannot start with
        print(f"wachannel: cannot start: {type(exc).__name__}: {exc.detail}", file=sys.stderr,
              flush=True)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):  # stopped while still starting up
        return 0
    return 0


def _listening(url: str) -> None:
    print(f"wachannel: listening on {url}", file=sys.stderr, flush=True)


def _needs_database(settings: Settings, command: str, without: str) -> bool:
    """API.md 12: no answer about an empty in-memory store of the command's own."""
    if settings.database_url is not None:
        return False
    print(f"wachannel: {command} needs DATABASE_URL; {without}", file=sys.stderr)
    return True


def settle_heap() -> None:
    """Take what start-up built out of the garbage collector's sight.

    Modules, the container and its pools live as long as the process, yet every full
    collection walked them again while the event loop stood still: with about 100,000 such
    objects, pauses of 100 to 150 ms that every request in flight waited out.
    """
    gc.collect()
    gc.freeze()


def _development_warnings(settings: Settings) -> list[str]:
    """What the embedded default (or a partial set-up) swaps in, said before anything else."""
    warnings = []
    if settings.embedded:
        warnings.append("storage   : IN-MEMORY, lost on exit (DATABASE_URL unset); the webhook "
                        "worker runs inside serve")
    if settings.evolution_adapter == "fake":
        scan = (f"; phone scan simulated {settings.fake_evolution_autoscan_s:g} s after the QR"
                if settings.fake_evolution_autoscan_s else "")
        warnings.append(f"evolution : FAKE, in-process (EVOLUTION_API_BASE_URL unset){scan}")
    if settings.auth_jwt_secret == DEV_JWT_SECRET:
        warnings.append("auth      : development JWT secret; mint tokens with `wachannel token`")
    if settings.webhook_dev_bypass:
        warnings.append("webhooks  : UNSIGNED webhooks accepted (WEBHOOK_DEV_BYPASS=1)")
    return warnings


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from entrypoints.worker import process_webhooks

    if _needs_database(settings, "worker", "without a database `wachannel serve` runs the "
                       "worker itself, and a separate one would wait on a store of its own"):
        return 2

    async def run(container: Any) -> None:
        settle_heap()  # long-running, unlike the other commands that share _with_container
        await process_webhooks(container)

    return _with_container(settings, run)


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from entrypoints.container import apply_migrations

    if settings.database_url is None:
        print("wachannel: DATABASE_URL is not set; the in-memory store needs no migrations",
              file=sys.stderr)
        return 2
    applied = asyncio.run(apply_migrations(settings))
    print(json.dumps({"applied": applied}))
    return 0


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from entrypoints.container import build_container

    claims = {"sub": args.sub, "role": args.role, "exp": int(time.time()) + args.ttl}
    if args.role == "tenant_admin" and args.org is None:
        print("wachannel: --org is required for --role tenant_admin", file=sys.stderr)
        return 2
    if args.org is not None:
        if not is_organization_id(args.org):  # not repeated: it may hold a newline
            print("wachannel: --org must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -",
                  file=sys.stderr)
            return 2
        claims["org"] = args.org
    print(build_container(settings).jwt().encode(claims, settings.auth_jwt_secret))
    return 0


def _flags(settings: Settings, args: argparse.Namespace) -> int:
    from application.rollout.service import FlagChange

    if _needs_database(settings, "flags", _OWN_EMPTY_STORE):
        return 2
    actor = Actor(f"cli:{args.by}", Role.ADMIN)

    async def run(c: Any) -> Any:
        rollout = c.rollout()
        if args.action == "list":
            return await rollout.list()
        if args.action == "kill":
            return await rollout.toggle(actor, {args.name: False})
        change = FlagChange(not args.disabled, args.percentage, frozenset(args.allow or ()),
                            frozenset(args.deny or ()))
        return await rollout.put(actor, args.name, change)

    return _with_container(settings, run, show=True)


def _audit(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "verify" and args.file:
        return cli_backups.verify_file(args.file)
    if args.action == "export":
        return cli_backups.export(settings, args.org, args.file)
    if _needs_database(settings, "audit", _OWN_EMPTY_STORE):
        return 2

    async def run(c: Any) -> Any:
        return await c.audit().verify(args.org)

    outcome: dict[str, Any] = {}
    code = _with_container(settings, run, show=True, sink=outcome)
    return code if code else (0 if outcome.get("valid") else 1)


def _keygen(settings: Settings, args: argparse.Namespace) -> int:
    import base64
    import secrets

    print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
    return 0


def _with_container(settings: Settings, run: Callable[[Any], Awaitable[Any]],
                    show: bool = False, sink: dict[str, Any] | None = None) -> int:
    from application.errors import ApplicationError
    from entrypoints.container import build_container, running

    async def go() -> Any:
        # SIGTERM (a deploy) ends the work cleanly, like Ctrl-C: claimed events are handed back.
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        async with running(build_container(settings)) as container:
            return await run(container)

    try:
        result = asyncio.run(go())
    except ApplicationError as exc:
        print(f"wachannel: {type(exc).__name__}: {exc.detail}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 0
    if show:
        print(json.dumps(result, indent=2, default=str))
    if sink is not None and isinstance(result, dict):
        sink.update(result)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="wachannel", description="WhatsApp channel service. Configuration comes from the "
        "environment (docs/operations.md); with none, the embedded development default.")
    sub = p.add_subparsers(required=True, metavar="command")
    serve = sub.add_parser(
        "serve", help="run the HTTP service",
        description="Run the HTTP service. With DATABASE_URL it applies pending migrations "
        "first; without, the in-memory store and the webhook worker live in this process.")
    serve.add_argument("--host", help="address to listen on (default: HOST, else 127.0.0.1 "
                       "with APP_ENV=development and 0.0.0.0 otherwise)")
    serve.add_argument("--port", type=_port, help="port to listen on (default: PORT, else 8080)")
    serve.add_argument("--no-migrate", action="store_true",
                       help="do not apply pending database migrations before listening "
                       "(default: apply them)")
    serve.set_defaults(run=_serve)
    sub.add_parser("worker", help="process webhooks, run health sweeps and alerts (needs "
                   "DATABASE_URL)").set_defaults(run=_worker)
    sub.add_parser("migrate", help="apply pending migrations (needs DATABASE_URL)"
                   ).set_defaults(run=_migrate)
    token = sub.add_parser("token", help="mint a JWT for operators and tests")
    token.add_argument("--role", required=True, choices=[r.value for r in Role],
                       help="what the token may do")
    token.add_argument("--org", help="the organization id of a tenant_admin, 1 to 64 "
                       "characters of A-Z, a-z, 0-9, _ and - (default: none)")
    token.add_argument("--sub", default="operator",
                       help="the actor named in the audit trail (default: %(default)s)")
    token.add_argument("--ttl", type=int, default=3600,
                       help="lifetime in seconds (default: %(default)s)")
    token.set_defaults(run=_token)
    flags = sub.add_parser("flags", help="list or change rollout flags (needs DATABASE_URL)")
    flags.add_argument("action", choices=["list", "set", "kill"],
                       help="list every flag, set one, or kill one (off for everyone)")
    flags.add_argument("name", nargs="?", default="radical_solution",
                       help="the flag to set or kill (default: %(default)s)")
    flags.add_argument("--percentage", type=int, default=100,
                       help="set: share of organizations on the flag, 0 to 100 "
                       "(default: %(default)s)")
    flags.add_argument("--disabled", action="store_true",
                       help="set: turn the flag off (default: on)")
    flags.add_argument("--allow", action="append", metavar="ORG",
                       help="set: an organization always on the flag; repeat for more "
                       "(default: none)")
    flags.add_argument("--deny", action="append", metavar="ORG",
                       help="set: an organization never on the flag; repeat for more "
                       "(default: none)")
    flags.add_argument("--by", default="operator",
                       help="who makes the change, for the audit trail (default: %(default)s)")
    flags.set_defaults(run=_flags)
    audit = sub.add_parser("audit", help="check the audit trail (needs DATABASE_URL)")
    audit.add_argument("action", choices=["verify", "export"],
                       help="verify: check the hash chain (with --file, an exported file, "
                       "offline); export: write the trail as JSON Lines")
    audit.add_argument("--file", help="verify: the exported file to check, no database "
                       "needed; export: where to write (default: standard output)")
    audit.add_argument("--org", help="only this organization's chain "
                       "(default: every organization)")
    audit.set_defaults(run=_audit)
    sub.add_parser("keygen", help="print a new DATA_ENCRYPTION_KEY").set_defaults(run=_keygen)
    cli_backups.add_parsers(sub)
    cli_alerts.add_parsers(sub)
    cli_connect.add_parsers(sub)
    return p


def _port(text: str) -> int:
    port = int(text) if text.isascii() and text.isdigit() else 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a number from 1 to 65535, got {text!r}")
    return port


if __name__ == "__main__":
    raise SystemExit(main())
