"""`keqing prefect setup`'s upsert of the automations, over a fake client: created when missing, updated in
place by name, a duplicate of the same name deleted (the real server: tests/deploy/test_automations.py)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from cli.prefect import ensure_automations
from keqing.automations import automation_specs


class FakeClient:
    def __init__(self, existing: dict[str, list[str]]) -> None:
        self.existing, self.calls = existing, []

    def read_automations_by_name(self, name: str) -> list:
        return [SimpleNamespace(id=i, name=name) for i in self.existing.get(name, [])]

    def create_automation(self, automation) -> str:
        self.calls.append(("create", automation.name))
        return "new-id"

    def update_automation(self, automation_id, automation) -> None:
        self.calls.append(("update", automation_id, automation.name))

    def delete_automation(self, automation_id) -> None:
        self.calls.append(("delete", automation_id))


SPECS = automation_specs(
    "11111111-1111-1111-1111-111111111111",
    "22222222-2222-2222-2222-222222222222",
    "30 1 * * *",
    "Asia/Shanghai",
    dt.time(6, 30),
)


def test_missing_automations_are_created_and_existing_ones_updated_in_place():
    client = FakeClient({"keqing: nightly late": ["a1"]})
    lines = ensure_automations(client, SPECS)
    assert client.calls == [("create", "keqing: nightly failed"), ("update", "a1", "keqing: nightly late")]
    assert lines == [
        "automation 'keqing: nightly failed': created (new-id)",
        "automation 'keqing: nightly late': updated (a1)",
    ]


def test_an_automation_found_twice_by_name_keeps_one():
    client = FakeClient({"keqing: nightly failed": ["b2", "a1"], "keqing: nightly late": ["c3"]})
    lines = ensure_automations(client, SPECS)
    assert client.calls == [
        ("update", "a1", "keqing: nightly failed"),
        ("delete", "b2"),
        ("update", "c3", "keqing: nightly late"),
    ]
    assert lines[0] == "automation 'keqing: nightly failed': updated (a1), 1 duplicate(s) deleted"
