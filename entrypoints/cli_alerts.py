"""`wachannel alerts test`: one test alert to every configured channel."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from entrypoints.settings import Settings


def add_parsers(sub: Any) -> None:
    alerts = sub.add_parser("alerts", help="check the alert channels")
    alerts.add_argument("action", choices=["test"], help="test: send one test alert to every "
                        "configured channel (the log, SLACK_WEBHOOK_URL, SMTP_URL to "
                        "ALERT_EMAIL, SMS_WEBHOOK_URL to ALERT_PHONE) and say which succeeded")
    alerts.set_defaults(run=_test)


def _test(settings: Settings, args: argparse.Namespace) -> int:
    outcomes = asyncio.run(_send(settings))
    for channel, outcome in outcomes.items():
        print(f"{channel}: {outcome}")
    return 0 if all(o == "sent" for o in outcomes.values()) else 1


async def _send(settings: Settings) -> dict[str, str]:
    from entrypoints.container import build_container, running

    async with running(build_container(settings)) as container:
        outcomes: dict[str, str] = await container.alert_engine().send_test()
        return outcomes
