"""``keqing calendar YEAR``: the year's holidays and adjusted working days as keqing uses them, and where
each came from (rules file, package, Monday-Friday fallback)."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from cli.main import app
from keqing.settings import get_settings

PACKAGE = f"chinesecalendar {version('chinesecalendar')}"


@pytest.fixture
def rules_file(tmp_path, monkeypatch):
    def write(text: str) -> str:
        path = tmp_path / "rules.yaml"
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("KEQING_RULES", str(path))
        get_settings.cache_clear()
        return str(path)

    monkeypatch.delenv("KEQING_RULES", raising=False)
    get_settings.cache_clear()
    yield write
    get_settings.cache_clear()


def keqing(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_a_year_from_the_rules_file(rules_file):
    path = rules_file(
        "calendar:\n"
        "  holidays:\n"
        "    - {name: 春节, from: 2027-02-06, to: 2027-02-13}\n"
        "  workdays: [2027-02-14, 2027-02-20]\n"
    )
    code, out = keqing("calendar", "2027")
    assert code == 0
    assert out.splitlines() == [
        f"2027: rules file {path} (days it does not name are Monday-Friday)",
        "holidays (8 days):",
        f"  2027-02-06 Sat .. 2027-02-13 Sat  8 day(s)  春节  [rules file {path}]",
        "adjusted working days (2):",
        f"  2027-02-14 Sun                    worked  [rules file {path}]",
        f"  2027-02-20 Sat                    worked  [rules file {path}]",
    ]


def test_a_year_of_the_package_with_the_rules_file_over_it(rules_file):
    path = rules_file(
        "calendar:\n  holidays: [{name: 公司假, from: 2026-12-31, to: 2026-12-31}]\n  workdays: [2026-10-07]\n"
    )
    code, out = keqing("calendar", "2026")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"2026: {PACKAGE}, with the days the rules file names over it (rules file {path})"
    assert f"  2026-10-01 Thu .. 2026-10-06 Tue  6 day(s)  国庆节  [{PACKAGE}]" in lines  # the 7th is worked now
    assert f"  2026-12-31 Thu                    1 day(s)  公司假  [rules file {path}]" in lines
    assert f"  2026-10-07 Wed                    worked  [rules file {path}]" in lines
    assert f"  2026-10-10 Sat                    worked  [{PACKAGE}]" in lines
    assert "holidays (33 days):" in lines  # 2026: 33 days off in the package, less 10-07, plus 12-31


def test_a_year_nobody_knows_says_it_falls_back_and_which_key_to_fill(rules_file):
    code, out = keqing("calendar", "2027")
    assert code == 0
    assert out.splitlines()[:3] == [
        f"2027: neither {PACKAGE} nor the rules file knows this year.",
        "keqing plans it Monday-Friday, without holidays or adjusted working days (Monday-Friday fallback).",
        "Add the State Council's schedule to the rules file (KEQING_RULES) under calendar.holidays (name, from, to) "
        "and calendar.workdays, for example:",
    ]


def test_a_wrong_calendar_in_the_rules_file_is_named_as_keqing_run_names_it(rules_file):
    rules_file("calendar:\n  holidays: [{name: 春节, from: 2027-02-13, to: 2027-02-06}]\n")
    code, out = keqing("calendar", "2027")
    assert code == 2
    assert "calendar.holidays.0" in out and "is before 'from'" in out
