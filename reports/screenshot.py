"""Render sample emails and photograph them in headless Chromium, to look at how they come out.

    PYTHONPATH=. python -m reports.screenshot --out out/screenshots [--kinds rep callback ...]

Each email is rendered exactly as it is sent (``render_email``), its HTML part taken back out of the
MIME message with inline images turned into data: URLs, written to ``<out>/<kind>.html`` and
photographed at 1280 px (``<out>/<kind>.png``) and in a 390 px wide frame, a phone
(``<out>/<kind>-390.png``). Needs Debian's ``chromium`` (``make chromium``) and a CJK font
(``fonts-noto-cjk``) for the Chinese text.

Chromium will not lay out a window narrower than about 500 px, so a phone is an ``iframe`` 390 px wide
(``phone_page``); ``scroll_widths`` loads many emails that way at once and reads each document's
scroll width, which is more than 390 when something does not fit the phone's width.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import email
import html
import json
import re
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
PHONE_WIDTH = 390  # CSS px of a common phone (iPhone 12-15)
DESKTOP_WIDTH = 1280


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


def phone_page(emails: dict[str, str], *, width: int = PHONE_WIDTH, height: int = 2400) -> str:
    """A page holding each email (name -> HTML) in an iframe ``width`` px wide, like a phone's screen.

    Once loaded, a script writes ``{name: the email document's scroll width}`` as JSON into
    ``<pre id="widths">``. The frames use ``srcdoc``, so they share the page's origin and the script
    may read them (file:// frames would not).
    """
    frames = "".join(
        f'<iframe name="{html.escape(name)}" width="{width}" height="{height}" scrolling="no" '
        f'style="display:block;border:0;margin:0 0 8px 0" srcdoc="{html.escape(doc, quote=True)}"></iframe>'
        for name, doc in emails.items()
    )
    script = (
        "window.addEventListener('load', () => { const w = {};"
        " for (const f of document.querySelectorAll('iframe')) {"
        " const d = f.contentDocument; w[f.name] = Math.max(d.documentElement.scrollWidth, d.body.scrollWidth); }"
        " document.getElementById('widths').textContent = JSON.stringify(w); });"
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0;background:#fff">'
        f'{frames}<pre id="widths"></pre><script>{script}</script></body></html>'
    )


_WIDTHS = re.compile(r'<pre id="widths">(.*?)</pre>', re.S)


def scroll_widths(emails: dict[str, str], *, width: int = PHONE_WIDTH, timeout: float = 120) -> dict[str, int]:
    """Each email's document scroll width in a ``width`` px frame, measured by headless Chromium."""
    with tempfile.TemporaryDirectory(prefix="keqing-phone-") as tmp:
        page = Path(tmp) / "phone.html"
        page.write_text(phone_page(emails, width=width), encoding="utf-8")
        dom = _chromium(["--dump-dom", page.resolve().as_uri()], timeout=timeout).stdout
    found = _WIDTHS.search(html.unescape(dom))
    if found is None or not found.group(1).strip():
        raise RuntimeError("chromium did not measure the emails")
    return {name: int(w) for name, w in json.loads(found.group(1)).items()}


def _chromium(args: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    """Headless Chromium with ``args`` (no network, no profile left behind)."""
    chromium = shutil.which("chromium") or CHROMIUM
    with tempfile.TemporaryDirectory(prefix="keqing-chromium-") as profile:
        return subprocess.run(
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
                "--virtual-time-budget=10000",
                f"--user-data-dir={profile}",
                *args,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def screenshot(html_file: Path, png_file: Path, *, width: int = 900, height: int = 1400, timeout: float = 60) -> None:
    """Photograph ``html_file`` with headless Chromium in a ``width`` x ``height`` window."""
    _chromium(
        [f"--screenshot={png_file}", f"--window-size={width},{height}", html_file.resolve().as_uri()], timeout=timeout
    )
    if not png_file.exists():
        raise RuntimeError(f"chromium wrote no screenshot to {png_file}")


def photograph(out: Path, name: str, message: bytes, *, width: int = DESKTOP_WIDTH, height: int = 1400) -> list[Path]:
    """``<name>.html`` (the email's HTML part), ``<name>.png`` at ``width`` and ``<name>-390.png``, the
    email in a 390 px frame (the window is 500 px: Chromium lays out nothing narrower)."""
    out.mkdir(parents=True, exist_ok=True)
    html_file = out / f"{name}.html"
    doc = html_with_inline_images(message)
    html_file.write_text(doc, encoding="utf-8")
    phone_file = out / f"{name}-390.html"
    phone_file.write_text(phone_page({name: doc}, height=height * 2), encoding="utf-8")
    pngs = [out / f"{name}.png", out / f"{name}-390.png"]
    for png in pngs:
        png.unlink(missing_ok=True)
    screenshot(html_file, pngs[0], width=width, height=height)
    screenshot(phone_file, pngs[1], width=500, height=height * 2)
    return pngs


def render_samples(out: Path, kinds: list[str], *, height: int = 1400, width: int = DESKTOP_WIDTH) -> list[Path]:
    """Write ``<kind>.html``, ``<kind>.png`` and ``<kind>-390.png`` for each kind; returns the PNG paths."""
    pngs = []
    for kind in kinds:
        pngs += photograph(out, kind, render_email(SAMPLES[kind](SAMPLE_DATE)).message, width=width, height=height)
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
