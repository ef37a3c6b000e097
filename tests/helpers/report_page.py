"""What the report tests share: the sections every report has, a parser of a report's HTML, and headless
Chromium (a system program: tests that need it skip with the install command when it is missing)."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y chromium)"
)


COMMON = {
    "summary",
    "verdict",
    "metrics",
    "uncertainty",
    "learning-curves",
    "feature-importance",
    "guard",
    "findings",
    "config",
    "environment",
}


CLASSIFICATION = {"confusion-matrix", "per-class", "roc-curves", "pr-curves", "calibration"}


REGRESSION = {"predicted-vs-true", "residuals"}


IMAGE_URIS = ("data:image/png;base64,", "data:image/svg+xml;base64,")  # matplotlib figures, pygal charts


class Page(HTMLParser):
    """Section ids, images and anything that would need the network or run code."""

    def __init__(self, html: str):
        super().__init__()
        self.sections: dict[str, str] = {}
        self.images: list[str] = []
        self.scripts = 0
        self.external: list[str] = []
        self._current: str | None = None
        self.text: dict[str, list[str]] = {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self._current = attrs.get("id")
            self.sections[self._current] = ""
            self.text[self._current] = []
        if tag == "img":
            self.images.append(attrs.get("src", ""))
            self._inside_svg(attrs.get("src", ""))
        if tag in ("script", "iframe", "object", "embed"):
            self.scripts += 1
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            if value.startswith(("http:", "https:", "//")):
                self.external.append(value)
        if tag == "link":
            self.external.append(attrs.get("href", "link"))

    def _inside_svg(self, src: str) -> None:
        """An inline SVG chart counts as part of the page: no script in it, nothing it fetches."""
        if src.startswith("data:image/svg+xml;base64,"):
            svg = base64.b64decode(src.split(",", 1)[1]).decode("utf-8")
            self.scripts += len(re.findall(r"<(script|iframe|object|embed|foreignObject)\b", svg))
            self.external += re.findall(r"""(?:href|src)=["'](?:https?:|//)[^"']*""", svg)

    def handle_data(self, data):
        if self._current is not None:
            self.text[self._current].append(data)

    def section_text(self, section_id: str) -> str:
        return " ".join(" ".join(self.text.get(section_id, [])).split())


def chromium(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
