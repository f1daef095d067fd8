"""Reliability fixtures: the bot test harness on the path, a loopback-only network fence, and figures.

Every reliability test records what it did (trials, inputs, faults, reports checked, items lost)
with the ``figures`` fixture; the run prints them at the end and, when ``RELIABILITY_FIGURES`` names
a file, appends them there as JSON lines (docs/RELIABILITY.md quotes such a run).
"""

from __future__ import annotations

import ipaddress
import json
import os
import platform
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BOT_TESTS = Path(__file__).resolve().parents[1] / "bot"
if str(BOT_TESTS) not in sys.path:  # the bot harness modules import each other by bare name
    sys.path.insert(0, str(BOT_TESTS))

_FIGURES: list[dict[str, Any]] = []
_OUT = os.environ.get("RELIABILITY_FIGURES")


class Figures(dict[str, Any]):
    """Counts one test reports; printed and saved when the test ends."""


@pytest.fixture
def figures(request: pytest.FixtureRequest, slow: bool) -> Iterator[Figures]:
    """A dict the test fills with its figures (inputs tried, faults injected, items lost, ...)."""
    fig = Figures()
    t0 = time.monotonic()
    yield fig
    rep = getattr(request.node, "rep_call", None)
    if rep is None or rep.failed:
        outcome = "FAILED"
    else:
        outcome = "xfail" if hasattr(rep, "wasxfail") else ("skipped" if rep.skipped else "ok")
    row = {**fig, "test": request.node.nodeid, "mode": "long" if slow else "ci", "outcome": outcome,
           "seconds": round(time.monotonic() - t0, 1)}
    _FIGURES.append(row)
    if _OUT:
        with open(_OUT, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    rep = yield
    if rep.when == "call":
        item.rep_call = rep  # type: ignore[attr-defined]
    return rep


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    terminalreporter.section(f"reliability figures ({platform.node()}, {os.cpu_count()} cpus)")
    for row in _FIGURES:
        rest = {k: v for k, v in row.items() if k not in ("test", "mode", "outcome", "seconds")}
        terminalreporter.write_line(f"{row['test']} [{row['mode']}] {row['outcome']} {row['seconds']}s "
                                    f"{json.dumps(rest, ensure_ascii=False)}")


@pytest.fixture
def fence(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Only loopback connections: any other address is refused before a packet leaves, and recorded.

    Tests of URL ingestion point redirects at 169.254.169.254 and friends; if the code under test ever
    tried to follow one, this makes sure nothing leaves the machine, and the test sees the attempt.
    """
    attempts: list[Any] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def allowed(address: Any) -> bool:
        attempts.append(address)
        if not isinstance(address, tuple):  # a Unix socket
            return True
        return ipaddress.ip_address(str(address[0]).split("%")[0]).is_loopback

    def connect(self: socket.socket, address: Any) -> None:
        if not allowed(address):
            raise ConnectionRefusedError(f"test fence: no connections to {address[0]}")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not allowed(address):
            raise ConnectionRefusedError(f"test fence: no connections to {address[0]}")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return attempts

