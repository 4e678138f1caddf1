"""A throwaway certificate authority and an HTTPS receiver on loopback that notes what it saw."""

import asyncio
import ssl
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class TestAuthority:
    """A CA certificate, and a server certificate it signed for one DNS name."""

    ca_pem: bytes
    server_pem: bytes
    server_key_pem: bytes

    def client_context(self) -> ssl.SSLContext:
        """Trusts this authority only, as a sender pointed at the test receiver must."""
        return ssl.create_default_context(cadata=self.ca_pem.decode())


def issue(server_name: str) -> TestAuthority:
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DataManager test CA")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_name)])
    server = (
        _builder(server_subject, ca_name, server_key.public_key(), now)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(server_name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    return TestAuthority(
        ca_pem=ca.public_bytes(serialization.Encoding.PEM),
        server_pem=server.public_bytes(serialization.Encoding.PEM),
        server_key_pem=server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePublicKey, now: datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
    )


@dataclass
class TlsReceiver:
    port: int
    # The TLS server names (SNI) and Host headers the receiver was reached with.
    server_names: list[str | None] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)


def _server_context(authority: TestAuthority) -> ssl.SSLContext:
    """ssl loads certificates from files only, so they pass through a temporary folder."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory() as folder:
        cert, key = Path(folder, "server.pem"), Path(folder, "server.key")
        cert.write_bytes(authority.server_pem)
        key.write_bytes(authority.server_key_pem)
        context.load_cert_chain(cert, key)

    return context


@asynccontextmanager
async def tls_receiver(authority: TestAuthority) -> AsyncIterator[TlsReceiver]:
    """An HTTPS server on 127.0.0.1 answering 200 with the authority's server certificate."""
    context = _server_context(authority)
    seen = TlsReceiver(port=0)

    def note_server_name(_: ssl.SSLObject, name: str | None, __: ssl.SSLContext) -> None:
        seen.server_names.append(name)

    context.sni_callback = note_server_name

    async def answer(request: web.Request) -> web.Response:
        seen.hosts.append(request.headers.get("Host", ""))
        await request.read()
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    seen.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield seen
    finally:
        await asyncio.shield(runner.cleanup())
