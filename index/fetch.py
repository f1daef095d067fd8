"""Fetching a URL for ingest: a size and time limit, and no way into private networks."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from .errors import FetchError

MAX_REDIRECTS = 5


@dataclass(frozen=True, slots=True)
class Fetched:
    """The body of a page and what the server said it is."""

    url: str
    data: bytes
    content_type: str


def check_address(url: str, *, allow_private: bool, allowed_hosts: list[str]) -> None:
    """Refuse non-http(s) URLs and hosts resolving to private, loopback or link-local addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"{url}: only http(s) URLs can be ingested")
    host = parts.hostname.lower()
    if allow_private or host in allowed_hosts:
        return
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80))
    except socket.gaierror as exc:
        raise FetchError(f"{url}: host not found") from exc
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if not addr.is_global or addr.is_multicast:
            raise FetchError(f"{url}: refused: {host} is a private or local address")


def fetch(url: str, *, max_bytes: int, timeout: float, allow_private: bool = False,
          allowed_hosts: list[str] | None = None) -> Fetched:
    """GET a page, following redirects by hand so every hop passes the address check."""
    hosts = allowed_hosts or []
    current = url
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            check_address(current, allow_private=allow_private, allowed_hosts=hosts)
            try:
                with client.stream("GET", current, headers={"User-Agent": "briefbot/1.0"}) as resp:
                    if resp.is_redirect:
                        current = urljoin(current, resp.headers.get("location", ""))
                        continue
                    if resp.status_code >= 400:
                        raise FetchError(f"{url}: HTTP {resp.status_code}")
                    declared = int(resp.headers.get("content-length") or 0)
                    if declared > max_bytes:
                        raise FetchError(f"{url}: {declared / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit")
                    body = bytearray()
                    for part in resp.iter_bytes():
                        body += part
                        if len(body) > max_bytes:
                            raise FetchError(f"{url}: page is over the {max_bytes / 1e6:.0f} MB limit")
                    return Fetched(str(resp.url), bytes(body), resp.headers.get("content-type", ""))
            except httpx.TimeoutException as exc:
                raise FetchError(f"{url}: timed out after {timeout:.0f} s") from exc
            except httpx.HTTPError as exc:
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
