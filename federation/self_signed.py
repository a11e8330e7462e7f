"""A self-signed TLS certificate for a closed test network (`dendray init --test-federation`).

Peers on such a network do not verify certificates, so any certificate that
names the server will do; a real deployment uses one from a known CA.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from protocol.identifiers import parse_server_name


def write_self_signed_certificate(folder: Path, server_name: str) -> tuple[Path, Path]:
    """Write `tls.crt` and `tls.key` (PEM) into `folder`; return their paths.

    The certificate names the server name's host (as an IP or DNS name) and
    loopback, valid for ten years.
    """
    host, _ = parse_server_name(server_name)
    host = host.strip("[]")
    names: list[x509.GeneralName] = [x509.DNSName("localhost"),
                                     x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        names.insert(0, x509.DNSName(host))
    else:
        if ip != ipaddress.ip_address("127.0.0.1"):
            names.insert(0, x509.IPAddress(ip))
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "tls.crt", folder / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path
