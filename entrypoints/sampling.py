"""The dashboard's sampler loop: one point of every chart each ``MONITORING_SAMPLE_S``."""

from __future__ import annotations

import asyncio

import structlog

from application.errors import ApplicationError
from entrypoints.container import Container

log = structlog.get_logger(__name__)


async def sample_telemetry(container: Container) -> None:
    """Run until cancelled. A sample the store cannot answer is skipped, not fatal: the
    dashboard shows a gap where storage was down, which is itself worth seeing."""
    sampler = container.monitoring_sampler()
    interval = container.settings().monitoring_sample_s
    while True:
        try:
            await sampler.sample()
        except ApplicationError as exc:
            log.warning("monitoring_sample_failed", error=type(exc).__name__)
        await asyncio.sleep(interval)
