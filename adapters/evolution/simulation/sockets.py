from __future__ import annotations

import asyncio
from typing import Any

from adapters.evolution.simulation.instances import SimInstance, utc_iso
from adapters.evolution.simulation.settings import SimulationSettings
from adapters.evolution.simulation.tasks import TaskSet
from adapters.evolution.simulation.webhooks import WebhookSender

_LIMIT_MESSAGE = {"message": "QR code limit reached, please login again", "statusCode": 500}


class Sockets:
    """The Baileys socket of each instance: QR rounds, the limit, scans, terminal closes.

    State moves at once; only the webhooks (and the QR timers) run in the background.
    """

    def __init__(self, settings: SimulationSettings, sender: WebhookSender,
                 tasks: TaskSet) -> None:
        self._settings = settings
        self._sender = sender
        self._tasks = tasks

    def open(self, inst: SimInstance) -> None:
        """Open (or silently reopen) the socket: ``connecting`` now, QRs on a timer."""
        self.stop(inst)
        inst.state, inst.qr = "connecting", None  # a new socket's first QR is still to come
        self._connection_update(inst, "connecting", 200)
        inst.timers.append(self._tasks.spawn(self._qr_rounds(inst), "socket"))

    def reconnect_open(self, inst: SimInstance) -> None:
        """Restart of an open socket: Baileys reconnects with no ``close`` webhook."""
        self._connection_update(inst, "connecting", 200)
        self._announce_open(inst)

    def scan(self, inst: SimInstance, number: str, profile_name: str) -> None:
        if inst.state != "connecting" or inst.qr is None:
            raise RuntimeError(f"instance {inst.name!r} shows no QR to scan")
        self.stop(inst)
        wuid = f"{number}@s.whatsapp.net"
        inst.state, inst.db_status, inst.qr = "open", "open", None
        inst.owner_jid, inst.profile_name, inst.sender = wuid, profile_name, wuid
        # Pair-success forces a 515 restart, which Evolution reconnects silently.
        self._connection_update(inst, "connecting", 200)
        self._announce_open(inst)

    def log_out(self, inst: SimInstance) -> None:
        """A terminal close (401): the three webhooks fire together, in no set order."""
        self.stop(inst)
        inst.state, inst.db_status, inst.qr, inst.count = "close", "close", None, 0
        inst.disconnection_code, inst.disconnection_at = 401, utc_iso()
        self._sender.emit(inst, "STATUS_INSTANCE", {
            "instance": inst.name, "status": "closed", "disconnectionAt": inst.disconnection_at,
            "disconnectionReasonCode": 401,
            "disconnectionObject": '{"error":{"output":{"statusCode":401}}}'})
        self._sender.emit(inst, "LOGOUT_INSTANCE", None)
        self._connection_update(inst, "close", 401)

    async def _qr_rounds(self, inst: SimInstance) -> None:
        scaled = self._settings.scaled
        await asyncio.sleep(scaled(self._settings.first_qr_s))
        while inst.count < self._settings.qr_limit:
            inst.count += 1
            inst.db_status = "connecting"
            self._sender.emit(inst, "QRCODE_UPDATED", {"qrcode": {"instance": inst.name,
                                                                  **inst.new_qr()}})
            if inst.count == 1 and self._settings.autoscan_s is not None:
                inst.timers.append(self._tasks.spawn(self._autoscan(inst), "socket"))
            await asyncio.sleep(scaled(self._settings.qr_refresh_s))
            if inst.count % self._settings.qr_batch == 0:  # refs ran out: silent reconnect
                self._connection_update(inst, "connecting", 200)
        self._refuse(inst)

    def _refuse(self, inst: SimInstance) -> None:
        self._sender.emit(inst, "QRCODE_UPDATED", dict(_LIMIT_MESSAGE))
        self._connection_update(inst, "refused", 428)
        inst.state, inst.db_status, inst.qr, inst.count = "close", "close", None, 0
        self.stop(inst)

    async def _autoscan(self, inst: SimInstance) -> None:
        await asyncio.sleep(self._settings.scaled(self._settings.autoscan_s or 0.0))
        if inst.state == "connecting" and inst.qr is not None:
            self.scan(inst, self._settings.scan_number, self._settings.scan_profile_name)

    def _announce_open(self, inst: SimInstance) -> None:
        self._sender.emit(inst, "CONNECTION_UPDATE", {
            "instance": inst.name, "wuid": inst.owner_jid, "profileName": inst.profile_name,
            "profilePictureUrl": None, "state": "open", "statusReason": 200})

    def _connection_update(self, inst: SimInstance, state: str, reason: int) -> None:
        data: dict[str, Any] = {"instance": inst.name, "state": state, "statusReason": reason}
        if state == "refused" and inst.owner_jid:
            data = {"instance": inst.name, "wuid": inst.owner_jid,
                    "profileName": inst.profile_name, "profilePictureUrl": None,
                    "state": state, "statusReason": reason}
        self._sender.emit(inst, "CONNECTION_UPDATE", data)

    def stop(self, inst: SimInstance) -> None:
        # The task running this (a QR round or an autoscan) must not cancel itself.
        current = asyncio.current_task()
        for timer in inst.timers:
            if timer is not current:
                timer.cancel()
        inst.timers = []
