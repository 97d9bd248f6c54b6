"""Encryption in transit: ``serve`` speaks HTTPS itself with TLS_CERT_FILE and TLS_KEY_FILE,
and the Evolution client verifies the certificate it is shown."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.evolution.session import create_client_session
from tests.e2e.processes import Processes, base_env
from tests.e2e.support import bounded, eventually, free_port

pytestmark = pytest.mark.e2e


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key, made for this test only."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@bounded(40)
async def test_serve_answers_over_https_with_the_configured_certificate(
        tmp_path: Path, processes: Processes) -> None:
    cert_file, key_file = self_signed(tmp_path)
    port = free_port()
    server = processes.serve("serve-tls", port, base_env(
        TLS_CERT_FILE=str(cert_file), TLS_KEY_FILE=str(key_file),
        PUBLIC_BASE_URL=f"https://127.0.0.1:{port}"))
    trusted = ssl.create_default_context(cafile=str(cert_file))
    async with aiohttp.ClientSession() as http:

        async def answers() -> bool:
            assert server.alive, server.tail()
            try:
                async with http.get(f"https://127.0.0.1:{port}/api/health",
                                    ssl=trusted) as response:
                    return response.status == 200
            except aiohttp.ClientConnectorError:
                return False

        await eventually(answers, within_s=30, what="serve answers over HTTPS")
        with pytest.raises(aiohttp.ClientError):
            async with http.get(f"http://127.0.0.1:{port}/api/health") as plain:
                await plain.read()
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            async with http.get(f"https://127.0.0.1:{port}/api/health") as untrusted:
                await untrusted.read()
    assert f"listening on https://127.0.0.1:{port}" in server.log.read_text()


@bounded(30)
async def test_serve_refuses_to_start_with_a_key_that_is_not_one(
        tmp_path: Path, processes: Processes) -> None:
    cert_file, _ = self_signed(tmp_path)
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a key\n")
    server = processes.serve("serve-bad-tls", free_port(), base_env(
        TLS_CERT_FILE=str(cert_file), TLS_KEY_FILE=str(bogus)))
    assert await server.exited(within_s=25)
    assert server.popen.returncode == 1
    (line,) = [x for x in server.log.read_text().splitlines() if "TLS_" in x]
    assert "TLS_CERT_FILE / TLS_KEY_FILE: cannot load" in line
    assert "not a key" not in line


async def test_the_evolution_session_refuses_a_certificate_it_cannot_verify(
        tmp_path: Path) -> None:
    cert_file, key_file = self_signed(tmp_path)
    async def hello(_: web.Request) -> web.Response:
        return web.json_response({"status": 200})

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    session = create_client_session(2)
    try:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            async with session.get(f"https://127.0.0.1:{port}/") as response:
                await response.read()
    finally:
        await session.close()
        await runner.cleanup()
