"""`job plan`'s diff, pure: the kinds of change at each level, and what is left out."""

from __future__ import annotations

from typing import Any

import pytest

from yurt.scheduler.jobdiff import job_diff
from yurt.scheduler.structs import Job


def _job(count: int = 1, image: str = "nginx", **extra: Any) -> Job:
    task = {"Name": "web", "Driver": "docker", "Config": {"image": image}}
    group = {"Name": "g", "Count": count, "Tasks": [task]}
    job: Job = {"ID": "j", "Type": "service", "TaskGroups": [group], **extra}  # type: ignore[typeddict-item]
    return job


CASES = [
    # (name, old, new, job type, group type, task type, group field diffs)
    ("new job", None, _job(), "Added", "Added", "Added", [("Count", "", "1"), ("Name", "", "g")]),
    ("unchanged", _job(), _job(), "None", "None", "None", []),
    ("server fields only", _job(Version=1), _job(Version=2), "None", "None", "None", []),
    ("count up", _job(1), _job(3), "Edited", "Edited", "None", [("Count", "1", "3")]),
    ("task config", _job(image="a"), _job(image="b"), "Edited", "Edited", "Edited", []),
]


@pytest.mark.parametrize(
    ("old", "new", "job_t", "group_t", "task_t", "fields"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_kinds_of_change(
    old: Job | None,
    new: Job,
    job_t: str,
    group_t: str,
    task_t: str,
    fields: list[tuple[str, str, str]],
) -> None:
    diff = job_diff(old, new, {"g": {"Place": 2, "Ignore": 0}})
    assert diff["Type"] == job_t and diff["ID"] == "j"
    (group,) = diff["TaskGroups"] or []
    assert group["Type"] == group_t and group["Updates"] == {"create": 2}
    (task,) = group["Tasks"] or []
    assert task["Type"] == task_t
    edited = [(f["Name"], f["Old"], f["New"]) for f in group["Fields"] or [] if f["Type"] != "None"]
    assert edited == fields


def test_edited_task_and_count_are_annotated() -> None:
    diff = job_diff(_job(1, image="a"), _job(3, image="b"), {})
    (group,) = diff["TaskGroups"] or []
    (count,) = [f for f in group["Fields"] or [] if f["Name"] == "Count"]
    assert count["Annotations"] == ["forces create"]
    (task,) = group["Tasks"] or []
    assert task["Annotations"] == ["forces create/destroy update"]
    (config,) = task["Objects"] or []
    assert config["Name"] == "Config" and config["Fields"] == [
        {"Type": "Edited", "Name": "image", "Old": "a", "New": "b", "Annotations": None}
    ]


def test_contextual_keeps_unchanged_fields_and_a_non_contextual_diff_drops_them() -> None:
    plain = job_diff(_job(), _job(), {})
    assert plain["Fields"] is None and plain["Objects"] is None
    context = job_diff(_job(), _job(), {}, contextual=True)
    assert {
        "Type": "None",
        "Name": "Type",
        "Old": "service",
        "New": "service",
        "Annotations": None,
    } in (context["Fields"] or [])
