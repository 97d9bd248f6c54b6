"""What a test, or the embedded default's simulated phone, does to a running simulation. Both
skins over the simulation (the in-process fake gateway and the fake HTTP server) offer it."""

from __future__ import annotations

from typing import Any

from adapters.evolution.simulation.core import EvolutionSimulation


class SimulationControls:
    sim: EvolutionSimulation

    def scan(self, name: str, number: str | None = None,
             profile_name: str | None = None) -> None:
        """The phone scans the QR on screen; raises ``RuntimeError`` if none is showing."""
        self.sim.scan(name, number, profile_name)

    def emit(self, name: str, event: str, data: Any) -> None:
        """Send any event (MESSAGES_UPSERT...) through the instance's webhook."""
        self.sim.emit(name, event, data)

    def drop_silently(self, name: str) -> None:
        """The phone unlinks and no webhook says so (a lost delivery, a webhook turned off):
        only ``connectionState`` tells, as ``close``."""
        inst = self.sim.instances[name]
        inst.state, inst.db_status, inst.qr = "close", "close", None

    async def wait_deliveries(self) -> None:
        """Until every webhook sent so far has been delivered or given up on."""
        await self.sim.wait_deliveries()
