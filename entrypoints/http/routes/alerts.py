"""Recent alerts (API.md section 10)."""

from __future__ import annotations

from aiohttp import web

from entrypoints.http.auth import ADMIN, authenticate
from entrypoints.http.documented import documented
from entrypoints.http.keys import services
from entrypoints.http.schemas.alerts import ALERT_LIST, AlertList

routes = web.RouteTableDef()


@routes.get("/api/admin/alerts")
@documented("Recent alerts", answer=AlertList, roles=ADMIN,
            description="The latest alert episodes, newest first, with each channel's outcome.")
async def recent_alerts(request: web.Request) -> web.Response:
    authenticate(request, ADMIN)
    records = await services(request).alert_engine().recent()
    return web.json_response(ALERT_LIST.dump({"items": records}))
