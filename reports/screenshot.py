"""Render sample emails and photograph them in headless Chromium, to look at how they come out.

    PYTHONPATH=. python -m reports.screenshot --out out/screenshots [--kinds rep callback ...]

Each email is rendered exactly as it is sent (``render_email``), its HTML part taken back out of the
MIME message with inline images turned into data: URLs, written to ``<out>/<kind>.html`` and
photographed to ``<out>/<kind>.png``. Needs Debian's ``chromium`` (``make chromium``) and a CJK font
(``fonts-noto-cjk``) for the Chinese text.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import email
import shutil
import subprocess
import tempfile
from email import policy
from email.message import EmailMessage
from pathlib import Path

from reports import samples
from reports.render import render_email

CHROMIUM = "/usr/bin/chromium"
SAMPLES = {
    "rep": samples.rep_view,
    "callback": samples.callback_view,
    "home_visit": samples.home_visit_view,
    "manager": samples.manager_view,
    "ops": samples.ops_view,
}
SAMPLE_DATE = dt.date(2026, 11, 23)  # a Monday, so the manager email has the weekly ranking


def html_with_inline_images(message: bytes) -> str:
    """The HTML part of a rendered message, with ``cid:`` images replaced by data: URLs."""
    msg = email.message_from_bytes(message, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    body = msg.get_body(preferencelist=("html",))
    if body is None:
        raise ValueError("the message has no HTML part")
    html = body.get_content()
    for part in msg.walk():
        cid = part.get("Content-ID")
        if cid and part.get_content_maintype() == "image":
            data = base64.b64encode(part.get_content()).decode("ascii")
            html = html.replace(f"cid:{cid.strip('<>')}", f"data:{part.get_content_type()};base64,{data}")
    return html


def screenshot(html_file: Path, png_file: Path, *, width: int = 900, height: int = 1400, timeout: float = 60) -> None:
    """Photograph ``html_file`` with headless Chromium (no network, no profile left behind)."""
    chromium = shutil.which("chromium") or CHROMIUM
    with tempfile.TemporaryDirectory(prefix="keqing-chromium-") as profile:
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--screenshot={png_file}",
                f"--window-size={width},{height}",
                html_file.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
    if not png_file.exists():
        raise RuntimeError(f"chromium wrote no screenshot to {png_file}")


def render_samples(out: Path, kinds: list[str], *, height: int = 1400) -> list[Path]:
    """Write ``<kind>.html`` and ``<kind>.png`` for each kind; returns the PNG paths."""
    out.mkdir(parents=True, exist_ok=True)
    pngs = []
    for kind in kinds:
        rendered = render_email(SAMPLES[kind](SAMPLE_DATE))
        html_file = out / f"{kind}.html"
        html_file.write_text(html_with_inline_images(rendered.message), encoding="utf-8")
        png = out / f"{kind}.png"
        png.unlink(missing_ok=True)
        screenshot(html_file, png, height=height)
        pngs.append(png)
    return pngs


def main() -> None:
    parser = argparse.ArgumentParser(description="Screenshots of sample emails in headless Chromium")
    parser.add_argument("--out", type=Path, default=Path("out/screenshots"))
    parser.add_argument("--kinds", nargs="+", default=["rep", "callback"], choices=sorted(SAMPLES))
    parser.add_argument("--height", type=int, default=1400)
    args = parser.parse_args()
    for png in render_samples(args.out, args.kinds, height=args.height):
        print(png)


if __name__ == "__main__":
    main()
