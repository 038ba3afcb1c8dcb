"""The rep and nurse emails photographed in headless Chromium (the script in reports/screenshot.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reports.screenshot import CHROMIUM, html_with_inline_images, render_samples

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (Path(CHROMIUM).exists() or shutil.which("chromium")),
        reason="headless Chromium is not installed (make chromium)",
    ),
]

HEADER_BLUE = (0x1D, 0x4E, 0x89)


def test_rep_and_nurse_emails_render_in_chromium(tmp_path):
    from PIL import Image

    pngs = render_samples(tmp_path, ["rep", "callback"], height=1400)
    assert [p.name for p in pngs] == ["rep.png", "callback.png"]
    for png in pngs:
        with Image.open(png) as image:
            assert image.size == (900, 1400)
            rgb = image.convert("RGB")
            header = rgb.crop((60, 20, 840, 90))
            assert HEADER_BLUE in {color for _, color in header.getcolors(maxcolors=100_000)}
            assert len(rgb.getcolors(maxcolors=1_000_000)) > 500  # text, tables and tags, not a blank page
    html = (tmp_path / "callback.html").read_text(encoding="utf-8")
    assert "建议晚上" in html and "cid:" not in html


def test_inline_images_become_data_urls_for_the_browser():
    from reports import samples
    from reports.render import render_email
    from reports.screenshot import SAMPLE_DATE

    html = html_with_inline_images(render_email(samples.manager_view(SAMPLE_DATE)).message)
    assert 'src="data:image/png;base64,iVBOR' in html and "cid:" not in html
