"""The emails photographed in headless Chromium (reports/screenshot.py), at 1280 px and in a 390 px frame.

Skipped without Chromium outside CI; in CI (`.ci/run` installs it) they fail instead.
"""

from __future__ import annotations

import dataclasses

import pytest

from reports import samples
from reports.render import render_email
from reports.screenshot import SAMPLE_DATE, SAMPLES, html_with_inline_images, render_samples, scroll_widths
from tests.helpers import chromium_or_skip

pytestmark = pytest.mark.slow

HEADER_BLUE = (0x1D, 0x4E, 0x89)


@pytest.fixture(autouse=True)
def _chromium():
    chromium_or_skip()


def test_rep_and_nurse_emails_render_in_chromium(tmp_path):
    Image = pytest.importorskip("PIL.Image")  # Pillow is a dev dependency, for this test only

    pngs = render_samples(tmp_path, ["rep", "callback"], height=1400)
    assert [p.name for p in pngs] == ["rep.png", "rep-390.png", "callback.png", "callback-390.png"]
    for png in pngs:
        with Image.open(png) as image:
            assert image.size == ((500, 2800) if png.stem.endswith("-390") else (1280, 1400))
            rgb = image.convert("RGB")
            header = rgb.crop((40, 20, 380, 60))  # inside the blue header at both widths
            assert HEADER_BLUE in {color for _, color in header.getcolors(maxcolors=100_000)}
            assert len(rgb.getcolors(maxcolors=1_000_000)) > 500  # text, blocks and tags, not a blank page
    html = (tmp_path / "callback.html").read_text(encoding="utf-8")
    assert "建议晚上" in html and "cid:" not in html


def test_every_sample_email_fits_a_390_px_phone_without_scrolling_sideways():
    emails = {kind: html_with_inline_images(render_email(make(SAMPLE_DATE)).message) for kind, make in SAMPLES.items()}
    widths = scroll_widths(emails)
    assert set(widths) == set(SAMPLES)
    assert {k: w for k, w in widths.items() if w > 390} == {}


def test_the_measure_sees_an_email_that_is_too_wide():
    """The check can fail: a 600 px table in a 390 px frame scrolls sideways."""
    wide = "<html><body style='margin:0'><table style='width:600px'><tr><td>宽</td></tr></table></body></html>"
    narrow = "<html><body style='margin:0'><p>窄</p></body></html>"
    assert scroll_widths({"wide": wide, "narrow": narrow}) == {"wide": 600, "narrow": 390}


def test_long_unbroken_text_wraps_instead_of_widening_the_email():
    view = samples.ops_view(SAMPLE_DATE)
    long_path = "2026-11-22/" + "x" * 120 + ".csv"
    view.rejected_files[0].messages.append("y" * 150)
    view = dataclasses.replace(view, files_ignored=[long_path])
    html = html_with_inline_images(render_email(view).message)
    assert long_path in html
    assert scroll_widths({"ops": html})["ops"] <= 390
