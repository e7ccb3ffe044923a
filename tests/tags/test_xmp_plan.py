"""What ClipDesk may change in a photo's keywords, given who wrote each."""

from __future__ import annotations

from clipdesk.tags.xmp.provenance import OTHER, OURS, default_origin, plan_edit


def test_plan_removes_only_ours_and_adds_no_forms_for_what_is_there():
    present = {
        ("hierarchy", "Places|Italy|Rome"): OTHER,
        ("subject", "Rome"): OTHER,
        ("subject", "a|b|c"): OTHER,
        ("hierarchy", "Colour|red"): OURS,
        ("subject", "red"): OURS,
        ("hierarchy", "Colour|blue"): OTHER,
    }
    wanted = ["Places|Italy|Rome", "a|b|c", "Scene|beach", "trip"]
    add, remove = plan_edit(wanted, present, present.__getitem__, [("subject", "trip")])
    assert add == [("hierarchy", "Scene|beach"), ("subject", "beach")]
    assert remove == {("hierarchy", "Colour|red"), ("subject", "red")}  # blue is not ours
    # with no record: ClipDesk's own category keywords in a sidecar ClipDesk created
    made = {("hierarchy", "Colour|red"), ("subject", "red"), ("hierarchy", "Trip|Rome")}
    managed = {"colour|red"}
    assert default_origin(("subject", "red"), made, managed) == OURS
    assert default_origin(("hierarchy", "Trip|Rome"), made, managed) == OTHER
    assert default_origin(("hierarchy", "Colour|red"), set(), managed) == OTHER
