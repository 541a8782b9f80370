"""Open an HTML report in headless Chromium (Debian's ``chromium``, driven by Playwright with
``executable_path``; no browser is downloaded) and report what a reader would notice: console
errors, failed requests, images that did not load, blank plots, load time."""

from __future__ import annotations

import io
import os
import shutil
import time
from pathlib import Path

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    """Return the Chromium executable (``ENGAGE_CHROMIUM`` or ``chromium`` on the PATH), or None."""
    return os.environ.get("ENGAGE_CHROMIUM") or shutil.which("chromium")


def is_blank(png: bytes) -> bool:
    """Return True when a screenshot holds (nearly) a single colour."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    return bool(pixels.std() < 1.0)


def open_report(path: str | Path, screenshot: str | Path | None = None) -> dict:
    """Open ``path`` in headless Chromium; return ``load_s`` (navigation to the load event),
    ``console_errors``, ``failed_requests``, ``images`` (total, not loaded), ``page_blank``, and
    per section id its headline (``insight_id``, ``number``) and ``plots`` / ``blank_plots``."""
    from playwright.sync_api import sync_playwright

    seen: dict = {"console_errors": [], "failed_requests": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: m.type == "error" and seen["console_errors"].append(m.text))
            page.on("pageerror", lambda e: seen["console_errors"].append(str(e)))
            page.on("requestfailed", lambda r: seen["failed_requests"].append(r.url))
            started = time.perf_counter()
            page.goto(Path(path).resolve().as_uri(), wait_until="load")
            seen["load_s"] = time.perf_counter() - started
            seen["images"] = page.evaluate("""() => ({total: document.images.length,
                not_loaded: [...document.images].filter(i => !i.complete || i.naturalWidth === 0).length})""")
            sections = {}
            for section in page.query_selector_all("section.report-section"):
                headline = section.query_selector("p.headline")
                plots = section.query_selector_all("figure.plot img")
                blank = sum(is_blank(img.screenshot()) for img in plots)
                sections[section.get_attribute("id")] = {
                    "insight_id": headline.get_attribute("data-insight-id"),
                    "number": float(headline.get_attribute("data-number")), "text": headline.inner_text(),
                    "plots": len(plots), "blank_plots": blank}
            seen["sections"] = sections
            png = page.screenshot(full_page=True, path=str(screenshot) if screenshot else None)
            seen["page_blank"] = is_blank(png)
        finally:
            browser.close()
    return seen
