"""TLS and mTLS for the gRPC port, with certificates read again when their files change.

grpc's dynamic server credentials ask a fetcher for a new certificate configuration at
each new connection's handshake; ours answers None (keep the current one) unless a
file's mtime or size changed, then reads all three again. A half-written or unreadable
set keeps the old one (logged), so a renewal job cannot take the port down. Connections
already open keep the certificate they were made with.

With a client CA (RESERVATION_TLS_CLIENT_CA) every client must present a certificate it
signed (mTLS); the auth interceptor can then name the principal by the certificate's
subject CN (client_cert_cn in the auth file).
"""

from __future__ import annotations

import logging
import os
import ssl
from pathlib import Path

import grpc

from reservation.settings import Settings

log = logging.getLogger(__name__)


class CertificateFiles:
    def __init__(self, cert: str, key: str, client_ca: str | None) -> None:
        self.paths = [Path(cert), Path(key)] + ([Path(client_ca)] if client_ca else [])
        self.require_client_cert = client_ca is not None
        self._stamp = self._stamps()
        self.reloads = 0
        self.current = self._read()  # at start-up a bad file is an error, not a warning

    def _stamps(self) -> tuple[tuple[int, int], ...]:
        out = []
        for path in self.paths:
            try:
                st = os.stat(path)
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((0, -1))
        return tuple(out)

    def _read(self) -> grpc.ServerCertificateConfiguration:
        cert, key, *ca = (p.read_bytes() for p in self.paths)
        if b"-----BEGIN" not in cert or b"-----BEGIN" not in key:
            raise ValueError(f"{self.paths[0]} / {self.paths[1]}: not PEM")
        return grpc.ssl_server_certificate_configuration(
            [(key, cert)], root_certificates=ca[0] if ca else None)

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """The fetcher grpc calls per handshake: a new configuration, or None."""
        stamp = self._stamps()
        if stamp == self._stamp:
            return None
        try:
            config = self._read()
        except (OSError, ValueError) as exc:
            log.error("TLS files changed but cannot be read; keeping the old ones: %s", exc)
            return None
        self._stamp = stamp
        self.current = config
        self.reloads += 1
        log.info("TLS certificate reloaded from %s", self.paths[0])
        return config

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.dynamic_ssl_server_credentials(
            # fetch returns None for "unchanged", which grpc accepts (its stub says not).
            self.current, self.fetch,  # type: ignore[arg-type]
            require_client_authentication=self.require_client_cert)


def server_files(settings: Settings) -> CertificateFiles | None:
    if not settings.tls_cert or not settings.tls_key:
        return None
    check_pair(settings.tls_cert, settings.tls_key)
    return CertificateFiles(settings.tls_cert, settings.tls_key, settings.tls_client_ca)


def check_pair(cert: str, key: str) -> None:
    """The key belongs to the certificate (gRPC would only fail to bind the port, which
    reads as a taken port): a ValueError naming both settings otherwise."""
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc):
            raise ValueError(f"RESERVATION_TLS_KEY ({key}) is not the key of "
                             f"RESERVATION_TLS_CERT ({cert})") from None
        raise ValueError(f"RESERVATION_TLS_CERT / RESERVATION_TLS_KEY ({cert}, {key}): "
                         f"{exc.reason or exc}") from None
