"""`wachannel backup`, `instances sync`, `audit export` and the offline `audit verify --file`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from domain.access import Actor, Role
from domain.audit_export import verify_export
from entrypoints.settings import Settings

_OWN_EMPTY_STORE = ("without one it would read a new, empty in-memory store, not the one "
                    "inside `wachannel serve`")


def add_parsers(sub: Any) -> None:
    backup = sub.add_parser("backup", help="take, list or restore backups (needs DATABASE_URL)")
    backup.add_argument("action", choices=["create", "list", "restore"],
                        help="create: take one now; list: every stored backup; restore ID")
    backup.add_argument("id", nargs="?",
                        help="restore: the backup's id (no default: restore requires it)")
    backup.add_argument("--by", default="operator",
                        help="who acts, for the audit trail (default: %(default)s)")
    backup.set_defaults(run=_backup)
    instances = sub.add_parser("instances", help="sync instances with Evolution "
                               "(needs DATABASE_URL)")
    instances.add_argument("action", choices=["sync"], help="sync: adopt what only Evolution "
                           "holds and report drift both ways")
    instances.add_argument("--dry-run", action="store_true",
                           help="report only, change nothing (default: adopt)")
    instances.add_argument("--map", action="append", metavar="NAME=ORG", default=[],
                           help="the organization of an Evolution instance whose name does "
                           "not start with `<orgId>-`; repeat for more (default: none)")
    instances.add_argument("--by", default="operator",
                           help="who acts, for the audit trail (default: %(default)s)")
    instances.set_defaults(run=_sync)


def verify_file(path: str) -> int:
    """Offline: no settings, no database, only the file and the domain's hashing."""
    try:
        with open(path, "rb") as lines:
            verdict = verify_export(lines)
    except OSError as exc:
        print(f"wachannel: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    print(json.dumps({"valid": verdict.valid, "events": verdict.events,
                      "first_broken_line": verdict.first_broken_line,
                      "reason": verdict.reason}))
    return 0 if verdict.valid else 1


def export(settings: Settings, org: str | None, path: str | None) -> int:
    from entrypoints.cli import _needs_database, _with_container

    if _needs_database(settings, "audit export", _OWN_EMPTY_STORE):
        return 2

    out = open(path, "wb") if path else sys.stdout.buffer  # noqa: SIM115 (closed below)

    async def run(c: Any) -> Any:
        async for line in c.audit_export().lines(org):
            out.write(line)  # a command of its own: blocking writes stall no one

    try:
        return _with_container(settings, run)
    finally:
        out.flush()
        if path:
            out.close()


def _backup(settings: Settings, args: argparse.Namespace) -> int:
    from entrypoints.cli import _needs_database, _with_container

    if _needs_database(settings, "backup", _OWN_EMPTY_STORE):
        return 2
    if args.action == "restore" and not args.id:
        print("wachannel: backup restore needs the backup's ID", file=sys.stderr)
        return 2
    actor = Actor(f"cli:{args.by}", Role.ADMIN)

    async def run(c: Any) -> Any:
        if args.action == "create":
            return await c.backups().create(actor)
        if args.action == "list":
            return await c.backups().listing()
        return await c.restore().restore(actor, args.id)

    return _with_container(settings, run, show=True)


def _sync(settings: Settings, args: argparse.Namespace) -> int:
    from entrypoints.cli import _needs_database, _with_container

    if _needs_database(settings, "instances sync", _OWN_EMPTY_STORE):
        return 2
    mapping = {}
    for pair in args.map:
        name, equals, org = pair.partition("=")
        if not equals or not name or not org:
            print(f"wachannel: --map takes NAME=ORG, got {pair!r}", file=sys.stderr)
            return 2
        mapping[name] = org
    actor = Actor(f"cli:{args.by}", Role.ADMIN)

    async def run(c: Any) -> Any:
        return await c.sync().sync(actor, mapping, args.dry_run)

    return _with_container(settings, run, show=True)
