"""Drift between Evolution and our store, each kind on its own (API.md section 9)."""

from __future__ import annotations

from domain.sync import Seen, drift, organization_for


def test_the_mapping_names_the_organization_before_the_prefix() -> None:
    assert organization_for("clinic-a-0a1b2c3d", {}) == "clinic-a"
    assert organization_for("clinic-a-0a1b2c3d", {"clinic-a-0a1b2c3d": "other"}) == "other"
    assert organization_for("frontdesk", {}) is None


def test_each_kind_of_drift_is_reported_on_its_own() -> None:
    evolution = [Seen("clinic-a-11111111", "open"), Seen("frontdesk", "close"),
                 Seen("clinic-a-22222222", "open"), Seen("clinic-a-33333333", "close")]
    ours = [Seen("clinic-a-22222222", "awaiting_qr", "clinic-a"),
            Seen("clinic-a-33333333", "disconnected", "clinic-a"),
            Seen("clinic-a-44444444", "connected", "clinic-a"),
            Seen("clinic-a-55555555", "deleted", "clinic-a")]
    found = drift(evolution, ours, {})
    assert found.adoptable == (("clinic-a-11111111", "clinic-a"),)
    assert found.only_in_evolution == ("frontdesk",)
    assert found.only_here == ("clinic-a-44444444",)
    assert found.state_differs == (("clinic-a-22222222", "awaiting_qr", "open"),)
    assert found.any


def test_an_instance_waiting_for_its_first_scan_is_not_drift() -> None:
    # Evolution's row says `close` until the first scan, while ours waits for the QR.
    assert not drift([Seen("clinic-a-22222222", "close")],
                     [Seen("clinic-a-22222222", "awaiting_qr", "clinic-a")], {}).any


def test_an_instance_we_deleted_that_evolution_still_holds_differs() -> None:
    found = drift([Seen("clinic-a-22222222", "close")],
                  [Seen("clinic-a-22222222", "deleted", "clinic-a")], {})
    assert found.state_differs == (("clinic-a-22222222", "deleted", "close"),)


def test_no_drift_when_both_sides_agree() -> None:
    found = drift([Seen("clinic-a-22222222", "open")],
                  [Seen("clinic-a-22222222", "connected", "clinic-a")], {})
    assert not found.any
