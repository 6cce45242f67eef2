"""Shared test fixtures.

* The network is blocked for the whole suite except loopback (127.0.0.0/8, ::1, Unix sockets):
  every test that talks to a server talks to a real one started on 127.0.0.1.
* ``shared_data`` points at ``../shared/data`` (real survey data, read in place); tests that need it
  skip with a reason naming the missing path when it is absent.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

# Fixture plugins living in tests/: browser.py (headless Chromium), stac_api.py (a real STAC API).
pytest_plugins = ["browser", "stac_api"]

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GEOSURVEY_SHARED_DATA", REPO.parent / "shared" / "data"))


class NetworkBlockedError(OSError):
    """Raised when a test tries to reach anything but loopback."""


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and the like
    host = address[0]
    if host in {"localhost", ""}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self: socket.socket, address: object) -> object:
    if not _is_loopback(address):
        raise NetworkBlockedError(f"tests may only reach 127.0.0.1; blocked connection to {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_loopback(address):
        raise NetworkBlockedError(f"tests may only reach 127.0.0.1; blocked connection to {address!r}")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _block_network() -> object:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


def require_shared(*parts: str) -> Path:
    """Return ``../shared/data/<parts>`` or skip the test, naming the missing path."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} is missing (it ships beside the repo as ../shared/data)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder ``../shared/data`` (skips with a reason when absent)."""
    return require_shared()
