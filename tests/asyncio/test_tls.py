"""wss://: TLS with a certificate made at test time (``cryptography``, or the ``openssl`` command)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import shutil
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fastws import ConnectionClosedError, ConnectionClosedOK
from fastws.asyncio import ServerConnection, connect, serve


def _make_with_cryptography(cert_path: Path, key_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fastws test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _make_with_openssl(cert_path: Path, key_path: Path) -> None:
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=fastws test",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-keyout", str(key_path), "-out", str(cert_path),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, valid for a day.

    Made with the ``cryptography`` package, or the ``openssl`` command when
    that package is not installed.
    """
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    try:
        import cryptography  # noqa: F401
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor the openssl command is available")
        _make_with_openssl(cert_path, key_path)
    else:
        _make_with_cryptography(cert_path, key_path)
    return cert_path, key_path


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


def client_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


class TestWss:
    async def test_echo_over_tls(
        self, certificate: tuple[Path, Path], port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0, ssl=server_context(certificate), max_size=2**22) as server:
            url = f"wss://localhost:{port_of(server)}/"
            async with connect(url, ssl=client_context(certificate), max_size=2**22) as ws:
                assert ws.transport.get_extra_info("ssl_object") is not None
                await ws.send("secret")
                assert await ws.recv() == "secret"
                payload = bytes(range(256)) * 8192  # 2 MiB through TLS records
                await ws.send(payload)
                assert await asyncio.wait_for(ws.recv(), 10) == payload
            assert ws.close_code == 1000

    async def test_ip_address_in_certificate(
        self, certificate: tuple[Path, Path], port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0, ssl=server_context(certificate)) as server:
            async with connect(f"wss://127.0.0.1:{port_of(server)}/", ssl=client_context(certificate)) as ws:
                await ws.send(b"ip")
                assert await ws.recv() == b"ip"

    async def test_default_context_verifies_the_certificate(
        self, certificate: tuple[Path, Path], port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0, ssl=server_context(certificate)) as server:
            # The default context trusts the system's CAs only: a
            # self-signed certificate must be refused.
            with pytest.raises(ssl.SSLCertVerificationError):
                await connect(f"wss://localhost:{port_of(server)}/")

    async def test_host_name_is_checked(
        self, certificate: tuple[Path, Path], port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0, ssl=server_context(certificate)) as server:
            with pytest.raises(ssl.SSLCertVerificationError):
                await connect(
                    f"wss://localhost:{port_of(server)}/",
                    ssl=client_context(certificate),
                    server_hostname="other.example",
                )

    async def test_close_paths_over_tls(
        self, certificate: tuple[Path, Path], port_of: Callable[[Any], int]
    ) -> None:
        # TLS cannot half-close: the server closes the whole connection
        # after the closing handshake; both sides must still see it as clean.
        async def handler(ws: ServerConnection) -> None:
            message = await ws.recv()
            await ws.close(4100, f"got {message}")

        async with serve(handler, "127.0.0.1", 0, ssl=server_context(certificate)) as server:
            url = f"wss://localhost:{port_of(server)}/"
            async with connect(url, ssl=client_context(certificate)) as ws:
                await ws.send("x")
                with pytest.raises(ConnectionClosedError) as info:
                    await ws.recv()
                assert (info.value.code, info.value.reason) == (4100, "got x")
                await asyncio.wait_for(ws.wait_closed(), 5)

            ws = await connect(url, ssl=client_context(certificate))
            await ws.send("y")
            with pytest.raises(ConnectionClosedError):
                await ws.recv()

    async def test_client_close_over_tls(
        self, certificate: tuple[Path, Path], port_of: Callable[[Any], int]
    ) -> None:
        outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def handler(ws: ServerConnection) -> None:
            try:
                await ws.recv()
            except Exception as exc:
                outcome.set_result(exc)

        async with serve(handler, "127.0.0.1", 0, ssl=server_context(certificate)) as server:
            ws = await connect(f"wss://localhost:{port_of(server)}/", ssl=client_context(certificate))
            await asyncio.wait_for(ws.close(), 5)
            assert ws.close_code == 1000
            assert isinstance(await asyncio.wait_for(outcome, 5), ConnectionClosedOK)

    async def test_websockets_client_over_tls(
        self, certificate: tuple[Path, Path], port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        ws_client = pytest.importorskip("websockets.asyncio.client")
        async with serve(echo, "127.0.0.1", 0, ssl=server_context(certificate)) as server:
            url = f"wss://localhost:{port_of(server)}/"
            async with ws_client.connect(url, ssl=client_context(certificate)) as ws:
                await ws.send("interop")
                assert await ws.recv() == "interop"

    async def test_ssl_context_requires_wss(self, certificate: tuple[Path, Path]) -> None:
        with pytest.raises(ValueError):
            connect("ws://localhost/", ssl=client_context(certificate))
