"""Headless Chromium for tests: load a local HTML file (nothing else reachable), dump
its DOM and take a screenshot. Debian packages ``chromium`` (and ``chromium-driver``):
``make browser-setup`` installs them."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars", "--mute-audio"]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("Chromium is not installed: run `make browser-setup` "
                         "(apt-get install -y chromium chromium-driver)")


def _run(args, timeout=120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        r = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
                           capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def dump_dom(html_file: Path) -> str:
    """The DOM Chromium built from the page (serialized after load)."""
    return _run(["--dump-dom", Path(html_file).resolve().as_uri()]).stdout


def screenshot(html_file: Path, png: Path, width: int = 1280, height: int = 4000) -> Path:
    _run([f"--screenshot={png}", f"--window-size={width},{height}",
          Path(html_file).resolve().as_uri()])
    assert Path(png).is_file() and Path(png).stat().st_size > 10_000, "empty screenshot"
    return Path(png)
