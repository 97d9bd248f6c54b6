"""A QR Evolution sends without its image is stored with one we draw: a screen always has a
QR a phone can read, whichever way the code arrived."""

from __future__ import annotations

from tests.qr_decode import decode_data_url
from tests.unit.application.evolution_bodies import envelope
from tests.unit.application.harness import ADMIN

CODE = "2@no-image-from-evolution,AAAA,BBBB,CCCC"


async def test_a_webhook_qr_without_base64_is_stored_with_a_scannable_image(app):
    instance = await app.new_instance()
    body = envelope("qrcode.updated", instance.evolution_name, {"qrcode": {
        "instance": instance.evolution_name, "pairingCode": None, "code": CODE}})
    async with app.worker():
        await app.webhook(body)
        await app.eventually(lambda: (app.instance(instance.id).qr or None) is not None
                             and app.instance(instance.id).qr.code == CODE)
    assert decode_data_url(app.instance(instance.id).qr.base64) == [CODE]


async def test_a_connect_answer_without_base64_is_stored_with_a_scannable_image(app):
    instance = await app.new_instance()
    shown = app.evolution.sim.instances[instance.evolution_name]
    # Evolution's socket is open and shows a QR whose image it did not draw.
    shown.state = "connecting"
    shown.qr = {"pairingCode": None, "code": CODE, "base64": ""}
    view = await app.connect.connect(ADMIN, instance.id)
    assert view.qr is not None
    assert view.qr.code == CODE
    assert decode_data_url(view.qr.base64) == [CODE]
    assert decode_data_url(app.instance(instance.id).qr.base64) == [CODE]
