"""A web server on 127.0.0.1 for URL-ingest tests: pages, redirects, huge, endless, stalled and dripping
responses, each request logged. aiohttp in a background thread, so synchronous code can fetch from it."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

from aiohttp import web

PAGE = (b"<html><head><title>Kherson port note</title></head><body><article><h1>Kherson port note</h1>"
        b"<p>Russian forces shelled the port of Kherson on Monday, and Ukrainian officials reported damage "
        b"to two grain terminals and a rail spur that serves them.</p>"
        b"<p>The regional administration said repairs would take at least three weeks.</p></article></body></html>")


def one_line(reason: str | None) -> bool:
    """A reason fit for a user: present, one line, short."""
    return bool(reason) and "\n" not in (reason or "") and len(reason or "") < 300


class PageServer:
    """Serves test pages on 127.0.0.1; ``hits`` counts requests per path (what reached the server)."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.port = 0
        self.raw_port = 0  # a raw TCP server that drips response headers
        self.pages: dict[str, tuple[bytes, str]] = {"/page.html": (PAGE, "text/html; charset=utf-8")}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._stop: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._raw: asyncio.Server | None = None

    @property
    def url(self) -> str:
        """The server's root, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PageServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(20)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_get("/redirect", self._redirect)
        app.router.add_get("/big", self._big)
        app.router.add_get("/endless", self._endless)
        app.router.add_get("/stall", self._stall)
        app.router.add_get("/drip", self._drip)
        app.router.add_get("/{name:.*}", self._page)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._raw = await asyncio.start_server(self._drip_headers, "127.0.0.1", 0)
        self.raw_port = self._raw.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        assert self._stop is not None
        self._stop.set()
        if self._raw:
            self._raw.close()
        if self._runner:
            await self._runner.cleanup()

    async def _stopped(self, seconds: float) -> bool:
        assert self._stop is not None
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
            return True
        except TimeoutError:
            return False

    # --- routes ----------------------------------------------------------------------------------
    async def _page(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path] += 1
        if request.path not in self.pages:
            return web.Response(status=404, text="not here")
        body, ctype = self.pages[request.path]
        return web.Response(body=body, headers={"Content-Type": ctype})

    async def _redirect(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path] += 1
        # Sent raw: aiohttp would refuse to put some of the hostile targets in a Location header.
        return web.Response(status=302, headers={"Location": request.query.get("to", "")})

    async def _big(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path] += 1
        size = int(request.query.get("mb", "2")) * 1_000_000
        resp = web.StreamResponse(headers={"Content-Type": "text/plain", "Content-Length": str(size)})
        await resp.prepare(request)
        try:
            for _ in range(size // 65536 + 1):
                await resp.write(b"word " * 13107 + b"x")
        except (ConnectionError, RuntimeError):
            pass
        return resp

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        """Chunked, no length, never ends: only a client-side limit stops it."""
        self.hits[request.path] += 1
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            while not self._stop.is_set():  # type: ignore[union-attr]
                await resp.write(b"more words " * 6000)
        except (ConnectionError, RuntimeError):
            pass
        return resp

    async def _stall(self, request: web.Request) -> web.StreamResponse:
        """Accepts the request and never answers (until the server stops)."""
        self.hits[request.path] += 1
        await self._stopped(60)
        return web.Response(text="too late")

    async def _drip(self, request: web.Request) -> web.StreamResponse:
        """Headers at once, then one byte of body every 50 ms: no single read ever times out."""
        self.hits[request.path] += 1
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            while not await self._stopped(0.05):
                await resp.write(b"a")
        except (ConnectionError, RuntimeError):
            pass
        return resp

    async def _drip_headers(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A raw server that sends a status line, then one header line every 50 ms, forever."""
        self.hits["raw"] += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\n")
            n = 0
            while not await self._stopped(0.05):
                writer.write(b"X-Drip-%d: a\r\n" % n)
                await writer.drain()
                n += 1
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def redirect_to(server: PageServer, target: str) -> str:
    """A URL on the test server that answers 302 with ``Location: target``."""
    from urllib.parse import quote

    return f"{server.url}/redirect?to={quote(target, safe='')}"


def serve() -> Any:
    """Start a PageServer (callers stop it)."""
    return PageServer().start()
