"""Real headless Chromium for tests: a pytest plugin (fixtures) and helpers.

Load it with ``pytest_plugins = ["browser"]`` (``tests/conftest.py`` does). It drives the SYSTEM
Chromium (``GEOSURVEY_CHROMIUM``, else ``chromium`` on ``PATH``, else ``/usr/bin/chromium``) with
Playwright; it never downloads a browser (no ``playwright install``). Without Chromium the tests
that need it FAIL with an install hint: a browser test that silently skips proves nothing.

Fixtures
    ``chromium``: one browser for the session. ``chromium_page``: a function
    ``open(path) -> (page, console_errors, failed_requests)`` whose pages are closed after the test.

Every page opened here may load only ``file:`` and ``data:`` URLs: any other request (http, https,
ws, ...) is aborted and reported in ``failed_requests`` as ``"blocked: <url>"``, so a test that
asserts ``failed_requests == []`` proves the page needs no network. Console errors, uncaught page
errors (``"pageerror: ..."``) and JavaScript dialogs (``"dialog: ..."``, e.g. an ``alert()`` that
an injected script managed to run) are reported in ``console_errors``.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

__all__ = [
    "CHROMIUM_ARGS",
    "INSTALL_HINT",
    "chromium",
    "chromium_executable",
    "chromium_page",
    "image_stats",
    "open_local_html",
    "popup_text",
    "screenshot_not_blank",
]

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
INSTALL_HINT = (
    "headless Chromium is needed for the browser tests but was not found: install it with "
    "`apt-get install -y chromium` (the README's test command does this when it is missing), "
    "or point GEOSURVEY_CHROMIUM at a Chromium executable"
)
_ALLOWED_SCHEMES = ("file:", "data:", "blob:", "about:")


def chromium_executable(candidates: list[str | None] | None = None) -> str:
    """The system Chromium to drive; fails the test (never skips) with an install hint if absent."""
    if candidates is None:
        candidates = [
            os.environ.get("GEOSURVEY_CHROMIUM"),
            shutil.which("chromium"),
            shutil.which("chromium-browser"),
            "/usr/bin/chromium",
        ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(INSTALL_HINT, pytrace=False)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """A headless system Chromium, shared by the whole test session."""
    executable = chromium_executable()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra is missing
        pytest.fail("the browser tests need Playwright: pip install -e '.[test]'", pytrace=False)
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


def open_local_html(
    browser: Browser,
    path: str | Path,
    *,
    viewport: tuple[int, int] = (1280, 800),
    timeout_ms: float = 20_000,
) -> tuple[Page, list[str], list[str]]:
    """Open a local HTML file in a fresh browser context with every non-local request blocked.

    Parameters
    ----------
    browser
        The browser (the ``chromium`` fixture).
    path
        The HTML file on disk; it is opened as a ``file://`` URL.
    viewport
        Width and height of the page in CSS pixels.
    timeout_ms
        How long to wait for the page to load.

    Returns
    -------
    page, console_errors, failed_requests
        The loaded page (after its ``load`` event and two animation frames, with every image
        decoded), the console errors, page errors and dialogs so far, and the failed or blocked
        requests so far. Both lists keep growing while the page is used (e.g. after a click).
        The caller closes ``page.context`` (the ``chromium_page`` fixture does it).
    """
    path = Path(path).absolute()
    if not path.is_file():
        raise FileNotFoundError(f"no HTML file at {path}")
    console_errors: list[str] = []
    failed_requests: list[str] = []
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})

    def route(route: Any) -> None:
        url = route.request.url
        if url.startswith(_ALLOWED_SCHEMES):
            route.continue_()
        else:
            failed_requests.append(f"blocked: {url}")
            route.abort("blockedbyclient")

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda msg: msg.type == "error" and console_errors.append(msg.text))
    page.on("pageerror", lambda exc: console_errors.append(f"pageerror: {exc}"))
    page.on("websocket", lambda ws: failed_requests.append(f"blocked: {ws.url}"))

    def dialog(d: Any) -> None:
        console_errors.append(f"dialog: {d.type} {d.message!r}")
        d.dismiss()

    page.on("dialog", dialog)

    def request_failed(request: Any) -> None:
        entry = f"{request.url} ({request.failure})"
        if not any(f.startswith("blocked: ") and request.url in f for f in failed_requests):
            failed_requests.append(entry)

    page.on("requestfailed", request_failed)
    page.goto(path.as_uri(), wait_until="load", timeout=timeout_ms)
    page.wait_for_function(
        "Array.from(document.images).every(img => img.complete)", timeout=timeout_ms
    )
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return page, console_errors, failed_requests


@pytest.fixture
def chromium_page(chromium: Browser) -> Iterator[Callable[..., tuple[Page, list[str], list[str]]]]:
    """``open(path, **kwargs) -> (page, console_errors, failed_requests)``; see :func:`open_local_html`."""
    pages: list[Page] = []

    def open_(path: str | Path, **kwargs: Any) -> tuple[Page, list[str], list[str]]:
        page, console_errors, failed_requests = open_local_html(chromium, path, **kwargs)
        pages.append(page)
        return page, console_errors, failed_requests

    yield open_
    for page in pages:
        page.context.close()


def popup_text(page: Page, timeout_ms: float = 5_000) -> str:
    """The text of the one open Leaflet popup, read once any popup that is closing has gone.

    Leaflet keeps a closed popup in the page for 200 ms while it fades out (``fadeAnimation``), so
    right after a second popup opens the page holds two ``.leaflet-popup-content`` elements and the
    first of them is the old one: reading "the" popup then gives the previous popup's text.
    """
    page.wait_for_function(
        "document.querySelectorAll('.leaflet-popup').length === 1", timeout=timeout_ms
    )
    return page.locator(".leaflet-popup-content").inner_text()


def image_stats(png: bytes) -> dict[str, float]:
    """How much is drawn in a PNG: distinct colours and the share of non-background pixels.

    The background is taken to be the most common colour. Returns ``colours`` (distinct RGB
    values), ``coverage`` (fraction of pixels that differ from the background by more than 8 in
    some channel), ``width`` and ``height``.
    """
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)
    flat = rgb.reshape(-1, 3)
    colours, counts = np.unique(flat, axis=0, return_counts=True)
    background = colours[np.argmax(counts)]
    differs = (np.abs(flat - background) > 8).any(axis=1)
    return {
        "colours": float(len(colours)),
        "coverage": float(differs.mean()),
        "width": float(rgb.shape[1]),
        "height": float(rgb.shape[0]),
    }


def screenshot_not_blank(
    page: Page,
    path: str | Path | None = None,
    *,
    min_colours: int = 64,
    min_coverage: float = 0.10,
) -> dict[str, float]:
    """Take a screenshot of ``page`` (saved to ``path`` if given) and assert it is not blank.

    A blank or failed map (a grey Leaflet box, a white page) has a handful of colours and almost
    every pixel the same; a drawn map has many colours over a good part of the page.

    Returns
    -------
    dict
        :func:`image_stats` of the screenshot.
    """
    png = page.screenshot(path=str(path) if path is not None else None, full_page=False)
    stats = image_stats(png)
    assert stats["colours"] >= min_colours and stats["coverage"] >= min_coverage, (
        f"the screenshot looks blank: {stats['colours']:.0f} colours (need {min_colours}), "
        f"{stats['coverage']:.1%} of pixels drawn over the background (need {min_coverage:.0%})"
        + (f"; see {path}" if path is not None else "")
    )
    return stats
