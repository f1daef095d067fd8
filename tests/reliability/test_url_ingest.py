"""URL ingestion: private, loopback and link-local addresses are refused unless allowed, no redirect
leads into them, pages over the size limit and servers that stall or drip are cut off.

A fence (conftest) refuses any connection that is not to loopback, so even a regression cannot
send a request to 169.254.169.254 or a LAN address; the tests also assert that nothing but the test
server on 127.0.0.1 was ever dialled.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from index import Briefbot, Settings
from index.errors import FetchError
from index.fetch import fetch
from tests.conftest import check_consistent
from tests.helpers import check_verbatim, write_pdf
from tests.reliability.pages import PageServer, one_line, redirect_to

MB = 1_000_000


@pytest.fixture(scope="module")
def server() -> Iterator[PageServer]:
    srv = PageServer().start()
    yield srv
    srv.stop()


def service_for(tmp_path: Path, **overrides: Any) -> Briefbot:
    values: dict[str, Any] = dict(store=tmp_path / "store", model="hash", fetch_timeout=5.0, max_page_mb=1.0)
    values.update(overrides)
    return Briefbot(Settings(_env_file=None, **values))  # type: ignore[call-arg]


def dialled(fence: list[Any], server: PageServer) -> set[Any]:
    """Addresses dialled other than the test server itself."""
    return {a for a in fence if not (isinstance(a, tuple) and a[:2] == ("127.0.0.1", server.port))}


def private_targets(port: int) -> list[str]:
    """Hosts that are private, loopback, link-local or otherwise local, in the notations attackers use."""
    return [
        f"http://127.0.0.2:{port}/page.html", f"http://[::1]:{port}/page.html", f"http://localhost:{port}/page.html",
        "http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://10.0.0.1/", "http://192.168.1.1/admin", "http://172.16.0.1/", "http://100.64.0.1/",
        f"http://0.0.0.0:{port}/page.html", f"http://[::]:{port}/page.html", f"http://[::ffff:127.0.0.1]:{port}/page.html",
        "http://[fe80::1]/", "http://[fd00::1]/", f"http://2130706433:{port}/page.html",
        f"http://0x7f000001:{port}/page.html", f"http://0177.0.0.1:{port}/page.html", f"http://127.1:{port}/page.html",
        "http://user@169.254.169.254/", f"http://127.0.0.1:{port}@169.254.169.254/", "http://169.254.169.254#@127.0.0.1/",
        "http://[::127.0.0.1]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a9fe:a9fe::1]/",
    ]


# httpx itself rejects some notations ("0177.0.0.1") as invalid URLs: "cannot fetch (InvalidURL)".
REFUSALS = ("refused", "only http(s)", "too many redirects", "not a valid URL", "cannot fetch (InvalidURL)",
            "cannot fetch (RemoteProtocolError)")
NOT_HTTP = ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1:70/_x", "data:text/html,<p>hi</p>",
            "javascript:alert(1)", "ws://127.0.0.1/", "http://[::1"]


def test_allowed_only_when_the_settings_say_so(tmp_path: Path, server: PageServer, fence: list[Any],
                                               figures: dict[str, Any]) -> None:
    url = f"{server.url}/page.html"
    pages_before = server.hits["/page.html"]
    closed = service_for(tmp_path / "a")
    [item] = closed.ingest([url]).items
    assert item.status == "failed" and "refused" in (item.reason or "") and one_line(item.reason)
    [item] = closed.ingest([f"http://localhost:{server.port}/page.html"]).items
    assert item.status == "failed" and "refused" in (item.reason or "")
    assert server.hits["/page.html"] == pages_before and fence == []  # refused before dialling anything
    for svc in (service_for(tmp_path / "b", allowed_url_hosts=["127.0.0.1"]),
                service_for(tmp_path / "c", allow_private_urls=True)):
        [item] = svc.ingest([url]).items
        assert item.status == "new", item.reason
        answer = svc.ask("Which port did Russian forces shell on Monday?")
        check_verbatim(svc, answer)
        assert answer.passages and answer.passages[0].url == url
        check_consistent(svc)
    assert server.hits["/page.html"] == pages_before + 2
    figures.update(urls_tried=4, refused=2, ingested=2, reports_checked=2, items_lost=0)


def test_a_pdf_served_as_octet_stream_is_read_as_a_pdf(tmp_path: Path, server: PageServer, fence: list[Any],
                                                         figures: dict[str, Any]) -> None:
    fact = "Russian forces shelled the port of Kherson on Monday, the regional governor reported."
    pdf = write_pdf(tmp_path / "r.pdf", [fact, "The second page of the downloaded report."]).read_bytes()
    server.pages["/download/7"] = (pdf, "application/octet-stream")
    server.pages["/download/8"] = (bytes(range(256)) * 8, "application/octet-stream")
    svc = service_for(tmp_path / "s", allowed_url_hosts=["127.0.0.1"])
    good, bad = svc.ingest([f"{server.url}/download/7", f"{server.url}/download/8"]).items
    assert good.status == "new", good.reason
    assert bad.status == "failed" and one_line(bad.reason)
    assert (bad.reason or "").endswith("unsupported content type application/octet-stream")
    answer = svc.ask("Which port did Russian forces shell, according to the regional governor?")
    check_verbatim(svc, answer)
    assert answer.passages[0].page == 1 and answer.passages[0].url == f"{server.url}/download/7"
    figures.update(urls_tried=2, ingested=1, refused=1, fence_hits=len(fence))


def test_no_redirect_leads_into_private_addresses(tmp_path: Path, server: PageServer, fence: list[Any],
                                                  figures: dict[str, Any]) -> None:
    svc = service_for(tmp_path, allowed_url_hosts=["127.0.0.1"])
    pages_before = server.hits["/page.html"]
    targets = private_targets(server.port) + NOT_HTTP + ["", f"{server.url}/redirect"]  # loops
    targets.append("//169.254.169.254/latest/meta-data/")  # scheme-relative
    for target in targets:
        before = server.hits["/redirect"]
        [item] = svc.ingest([redirect_to(server, target)]).items
        assert item.status == "failed", target
        assert one_line(item.reason), item.reason
        assert any(w in (item.reason or "") for w in REFUSALS), item.reason
        assert server.hits["/redirect"] > before  # the first hop was served...
    assert server.hits["/page.html"] == pages_before  # ...and no hop reached a page through a private address
    assert dialled(fence, server) == set(), dialled(fence, server)
    assert svc.sources() == []
    check_consistent(svc)
    figures.update(redirect_targets=len(targets), refused=len(targets), dialled_elsewhere=0, items_lost=0)


def test_direct_private_urls_are_refused_before_dialling(tmp_path: Path, server: PageServer, fence: list[Any],
                                                         figures: dict[str, Any]) -> None:
    svc = service_for(tmp_path)
    targets = private_targets(server.port) + NOT_HTTP
    hits_before = sum(server.hits.values())
    for target in targets:
        with pytest.raises(FetchError) as err:
            fetch(target, max_bytes=MB, timeout=5, allowed_hosts=[])
        assert one_line(str(err.value))
    items = svc.ingest([t for t in targets if t.startswith("http://")]).items
    assert all(i.status == "failed" and one_line(i.reason) for i in items)
    assert fence == [] and sum(server.hits.values()) == hits_before
    figures.update(urls_tried=len(targets) * 2, refused=len(targets) + len(items), dialled=0)


def test_dns_rebinding_cannot_reach_loopback(server: PageServer, fence: list[Any], monkeypatch: pytest.MonkeyPatch,
                                             figures: dict[str, Any]) -> None:
    """A name that resolves to a public address when checked and to 127.0.0.1 when dialled."""
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34"] + ["127.0.0.1"] * 20)

    def resolver(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("rebind.test", b"rebind.test"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    pages_before = server.hits["/page.html"]
    with pytest.raises(FetchError) as err:
        fetch(f"http://rebind.test:{server.port}/page.html", max_bytes=MB, timeout=5, allowed_hosts=["127.0.0.1"])
    assert one_line(str(err.value))
    assert server.hits["/page.html"] == pages_before, "the rebound name reached the loopback server"
    # The one address dialled is the one that was checked (and the fence kept it from leaving).
    assert [a[0] for a in fence] == ["93.184.216.34"]
    figures.update(rebinding_attempts=1, reached_loopback=0)


def timed(call: Any, limit: float) -> tuple[Any, float]:
    """Run ``call`` in a thread; fail if it is still running after ``limit`` seconds."""
    out: dict[str, Any] = {}

    def run() -> None:
        t0 = time.monotonic()
        try:
            out["value"] = call()
        except Exception as exc:
            out["error"] = exc
        out["took"] = time.monotonic() - t0

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(limit)
    assert not worker.is_alive(), f"still fetching after {limit} s"
    return out.get("error", out.get("value")), out["took"]


@pytest.mark.parametrize(("path", "expect"), [
    ("/big?mb=2", "over the 1 MB limit"),  # declared Content-Length over the limit
    ("/endless", "over the 1 MB limit"),  # chunked, no length, never ends
    ("/stall", "timed out after 1 s"),  # accepts, never answers
    ("/drip", "timed out after 1 s"),  # a byte every 50 ms: no single read times out
    ("raw", "timed out after 1 s"),  # a header line every 50 ms
])
def test_size_and_time_limits(tmp_path: Path, server: PageServer, fence: list[Any], path: str, expect: str,
                              figures: dict[str, Any]) -> None:
    url = f"http://127.0.0.1:{server.raw_port}/" if path == "raw" else f"{server.url}{path}"
    svc = service_for(tmp_path, allowed_url_hosts=["127.0.0.1"], fetch_timeout=1.0, max_page_mb=1.0)
    summary, took = timed(lambda: svc.ingest([url]), limit=10)
    [item] = summary.items
    assert item.status == "failed" and expect in (item.reason or ""), item.reason
    assert one_line(item.reason)
    assert took < 5, f"took {took:.1f} s"
    assert svc.sources() == []
    figures.update(case=path, refused_after_s=round(took, 2))


@st.composite
def private_host(draw: st.DrawFn) -> str:
    """A non-public address in one of the notations getaddrinfo accepts."""
    net = ipaddress.ip_network(draw(st.sampled_from([
        "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10",
        "0.0.0.0/8", "::1/128", "fe80::/10", "fc00::/7"])))
    addr = net[draw(st.integers(0, min(net.num_addresses - 1, 2**32)))]
    if addr.version == 6:
        mapped = addr.ipv4_mapped
        if mapped is not None and draw(st.booleans()):
            return f"[::ffff:{mapped}]"
        return f"[{addr}]"
    n = int(addr)
    octets = [(n >> s) & 255 for s in (24, 16, 8, 0)]
    return draw(st.sampled_from([
        str(addr), str(n), hex(n), ".".join(f"0{o:o}" for o in octets), ".".join(hex(o) for o in octets),
        f"{octets[0]}.{n & 0xFFFFFF}", f"[::ffff:{addr}]", f"[64:ff9b::{addr}]",
        f"[2002:{octets[0]:02x}{octets[1]:02x}:{octets[2]:02x}{octets[3]:02x}::1]",
    ]))


def test_fuzz_private_addresses_direct_and_by_redirect(server: PageServer, fence: list[Any], slow: bool,
                                                       figures: dict[str, Any]) -> None:
    tried: list[str] = []
    pages_before = server.hits["/page.html"]

    @settings(max_examples=1500 if slow else 80, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(host=private_host(), port=st.sampled_from([server.port, 80, 443, 8080]), path=st.sampled_from(
        ["/", "/page.html", "/latest/meta-data/iam/security-credentials/"]))
    def check(host: str, port: int, path: str) -> None:
        assume(host != "127.0.0.1")  # the one host the redirect leg allows by name
        target = f"http://{host}:{port}{path}"
        tried.append(target)
        for url, hosts in ((target, []), (redirect_to(server, target), ["127.0.0.1"])):
            with pytest.raises(FetchError) as err:
                fetch(url, max_bytes=MB, timeout=5, allowed_hosts=hosts)
            assert any(w in str(err.value) for w in REFUSALS), err.value

    check()
    assert dialled(fence, server) == set()
    assert server.hits["/page.html"] == pages_before
    figures.update(addresses_tried=len(tried), fetches=2 * len(tried), refused=2 * len(tried), dialled_elsewhere=0)


def test_https_is_verified_against_the_name_not_the_dialled_address(tmp_path: Path, fence: list[Any],
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     figures: dict[str, Any]) -> None:
    """The guarded backend dials the address it checked; TLS must still verify the URL's host name."""
    import http.server
    import shutil
    import ssl
    import subprocess

    import index.fetch

    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><body><p>A page served over TLS about the bridge.</p></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    worker = threading.Thread(target=server.serve_forever, daemon=True)
    worker.start()
    trust = ssl.create_default_context(cafile=str(cert))
    monkeypatch.setattr(index.fetch, "_ssl_context", lambda: trust)
    port = server.server_address[1]
    try:
        page = fetch(f"https://localhost:{port}/", max_bytes=MB, timeout=5, allowed_hosts=["localhost"])
        assert b"served over TLS" in page.data
        with pytest.raises(FetchError, match="cannot fetch"):  # the certificate names localhost, not 127.0.0.1
            fetch(f"https://127.0.0.1:{port}/", max_bytes=MB, timeout=5, allowed_hosts=["127.0.0.1"])
        with pytest.raises(FetchError, match="refused"):  # and localhost is still refused when not allowed
            fetch(f"https://localhost:{port}/", max_bytes=MB, timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    figures.update(tls_fetches=3, verified_by_name=1, refused=2)
