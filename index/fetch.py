"""Fetching a URL for ingest: a size and time limit, and no way into private networks.

The address check runs where the connection is made (a network backend under httpx): the address
that passes the check is the address connected to, so a name that resolves to a public address
when checked and to 127.0.0.1 a moment later (DNS rebinding) gets nowhere, and every redirect hop
is checked the same way. One deadline covers the whole fetch, however slowly a server drips bytes.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from .errors import FetchError

MAX_REDIRECTS = 5
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class Fetched:
    """The body of a page and what the server said it is."""

    url: str
    data: bytes
    content_type: str


class Refused(Exception):
    """A connection to a private, loopback or link-local address that the settings do not allow."""

    def __init__(self, host: str) -> None:
        super().__init__(f"refused: {host} is a private or local address")
        self.host = host


def is_public(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for globally routable unicast addresses, including what IPv6 forms embed (mapped, 6to4, NAT64)."""
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or addr.sixtofour
        if embedded is None and (int(addr) >> 32 == 0 or addr in _NAT64):  # ::a.b.c.d, 64:ff9b::a.b.c.d
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if embedded is not None and not is_public(embedded):
            return False
    return addr.is_global and not addr.is_multicast


def check_scheme(url: str) -> None:
    """Refuse anything but http(s) URLs with a host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:  # "http://[::1" and other malformed authorities
        raise FetchError(f"{url}: not a valid URL") from exc
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise FetchError(f"{url}: only http(s) URLs can be ingested")


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by the fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner, self._deadline = inner, deadline

    def _left(self, timeout: float | None, exc: type[Exception]) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise exc("the fetch's time limit is over")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, self._left(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves each host once, refuses non-public addresses, connects to the address it checked."""

    def __init__(self, allow_private: bool, allowed_hosts: Iterable[str], deadline: float) -> None:
        self.allow_private = allow_private
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.deadline = deadline

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"host not found: {host}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        trusted = self.allow_private or host.lower().rstrip(".") in self.allowed_hosts
        if not trusted and not all(is_public(ipaddress.ip_address(a.split("%")[0])) for a in addresses):
            raise Refused(host)
        error: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in addresses:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise httpcore.ConnectTimeout("the fetch's time limit is over")
            try:
                stream = super().connect_tcp(address, port, left if timeout is None else min(timeout, left),
                                             local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            return _DeadlineStream(stream, self.deadline)
        raise error


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle costs ~20 ms a time."""
    return httpx.create_ssl_context(trust_env=False)


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool that uses the guarded backend."""

    def __init__(self, backend: _GuardedBackend) -> None:
        super().__init__(verify=_ssl_context(), trust_env=False, retries=0)
        # httpx builds its pool without a backend parameter; this one differs only in the backend.
        self._pool = httpcore.ConnectionPool(ssl_context=_ssl_context(), network_backend=backend)


def fetch(url: str, *, max_bytes: int, timeout: float, allow_private: bool = False,
          allowed_hosts: list[str] | None = None) -> Fetched:
    """GET a page within ``timeout`` seconds in all, following redirects by hand so every hop is checked."""
    current = url
    backend = _GuardedBackend(allow_private, allowed_hosts or [], time.monotonic() + timeout)
    with httpx.Client(transport=_GuardedTransport(backend), timeout=timeout, follow_redirects=False,
                      trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            check_scheme(current)
            try:
                with client.stream("GET", current, headers={"User-Agent": "briefbot/1.0"}) as resp:
                    if resp.is_redirect:
                        current = urljoin(current, resp.headers.get("location", ""))
                        continue
                    if resp.status_code >= 400:
                        raise FetchError(f"{url}: HTTP {resp.status_code}")
                    declared = resp.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > max_bytes:
                        raise FetchError(f"{url}: {int(declared) / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit")
                    body = bytearray()
                    for part in resp.iter_bytes():
                        body += part
                        if len(body) > max_bytes:
                            raise FetchError(f"{url}: page is over the {max_bytes / 1e6:.0f} MB limit")
                    return Fetched(str(resp.url), bytes(body), resp.headers.get("content-type", ""))
            except Refused as exc:
                raise FetchError(f"{url}: {exc}") from None
            except httpx.TimeoutException as exc:
                raise FetchError(f"{url}: timed out after {timeout:g} s") from exc
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise FetchError(f"{url}: cannot fetch ({type(exc).__name__})") from exc
    raise FetchError(f"{url}: too many redirects")


def kind_of(fetched: Fetched) -> str | None:
    """The loader to use for a fetched body, from its content type or URL."""
    ctype = fetched.content_type.split(";")[0].strip().lower()
    path = urlsplit(fetched.url).path.lower()
    if ctype == "application/pdf" or path.endswith(".pdf"):
        return "pdf"
    if "html" in ctype or path.endswith((".html", ".htm")):
        return "html"
    if ctype in ("text/markdown", "text/x-markdown") or path.endswith(".md"):
        return "md"
    if ctype.startswith("text/"):
        return "txt"
    if "wordprocessingml" in ctype or path.endswith(".docx"):
        return "docx"
    return None
