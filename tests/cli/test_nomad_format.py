"""The nomad CLI's text blocks, from Nomad-shaped API JSON."""

import time

from yurt.cli import nomad_format

NOW = float(int(time.time()))
NOW_NS = int(NOW * 1e9)


def _alloc(i: int, status: str = "running") -> dict:
    return {
        "ID": f"{i:08d}-aaaa-bbbb-cccc-dddddddddddd",
        "EvalID": "e" * 36,
        "NodeID": "9f1c2d3e-0000-0000-0000-000000000000",
        "TaskGroup": "group-webs",
        "JobVersion": 1,
        "DesiredStatus": "run",
        "ClientStatus": status,
        "CreateIndex": i,
        "CreateTime": NOW_NS - 65 * 10**9,
        "ModifyTime": NOW_NS - 5 * 10**9,
    }


def test_alloc_list_is_grep_and_awk_friendly() -> None:
    text = nomad_format.alloc_list([_alloc(1, "complete"), _alloc(2)], now=NOW)
    lines = text.splitlines()
    assert lines[0].split() == [
        "ID",
        "Node",
        "ID",
        "Task",
        "Group",
        "Version",
        "Desired",
        "Status",
        "Created",
        "Modified",
    ]
    # newest first, 8-character IDs; the seed's Makefile does `grep running | awk '{print $1}'`
    running = [line.split()[0] for line in lines[1:] if "running" in line]
    assert running == ["00000002"]
    assert lines[1].split()[1] == "9f1c2d3e"
    assert "1m5s ago" in lines[1] and lines[1].endswith("5s ago")


def test_alloc_list_empty() -> None:
    assert nomad_format.alloc_list([]) == "No allocations placed"


def test_job_summary_has_nomad_1_7_columns() -> None:
    text = nomad_format.job_summary(
        {
            "Summary": {
                "group-webs": {
                    "Queued": 0,
                    "Starting": 0,
                    "Running": 1,
                    "Failed": 2,
                    "Complete": 0,
                    "Lost": 0,
                    "Unknown": 0,
                }
            }
        }
    )
    header, row = text.splitlines()
    assert header.split() == [
        "Task",
        "Group",
        "Queued",
        "Starting",
        "Running",
        "Failed",
        "Complete",
        "Lost",
        "Unknown",
    ]
    assert row.split() == ["group-webs", "0", "0", "1", "2", "0", "0", "0"]


def test_job_list_marks_stopped_and_periodic() -> None:
    text = nomad_format.job_list(
        [
            {
                "ID": "job-nginx",
                "Type": "service",
                "Priority": 50,
                "Status": "running",
                "Stop": False,
                "SubmitTime": NOW_NS,
            },
            {
                "ID": "backup",
                "Type": "batch",
                "Periodic": True,
                "Priority": 50,
                "Status": "dead",
                "Stop": True,
                "SubmitTime": NOW_NS,
            },
        ]
    )
    lines = text.splitlines()
    assert lines[0].split() == ["ID", "Type", "Priority", "Status", "Submit", "Date"]
    assert lines[1].split()[:4] == ["job-nginx", "service", "50", "running"]
    assert "batch/periodic" in lines[2] and "dead (stopped)" in lines[2]


def test_job_status_sections_in_order() -> None:
    job = {
        "ID": "job-nginx",
        "Name": "job-nginx",
        "Type": "service",
        "Priority": 50,
        "Datacenters": ["dc1"],
        "Status": "running",
        "SubmitTime": NOW_NS,
    }
    deployment = {
        "ID": "d" * 36,
        "Status": "successful",
        "StatusDescription": "Deployment completed successfully",
        "TaskGroups": {
            "group-webs": {
                "DesiredTotal": 1,
                "PlacedAllocs": 1,
                "HealthyAllocs": 1,
                "UnhealthyAllocs": 0,
            }
        },
    }
    text = nomad_format.job_status(job, {"Summary": {}}, [_alloc(1)], deployment)
    order = [
        text.index(s) for s in ("ID ", "Summary", "Latest Deployment", "Deployed", "Allocations")
    ]
    assert order == sorted(order)
    assert "Status      = successful" in text


def test_alloc_status_shows_addresses_resources_and_events() -> None:
    alloc = {
        **_alloc(3),
        "Name": "job-nginx.group-webs[0]",
        "NodeName": "nomad-1-client",
        "JobID": "job-nginx",
        "Job": {"Version": 0},
        "ClientDescription": "Tasks are running",
        "AllocatedResources": {
            "Shared": {
                "Networks": [{"Mode": "host"}],
                "Ports": [{"Label": "http", "Value": 23456, "To": 80, "HostIP": "127.0.0.1"}],
            }
        },
        "Resources": {"DiskMB": 300},
        "TaskResources": {"nginx": {"CPU": 500, "MemoryMB": 128, "Networks": []}},
        "TaskStates": {
            "nginx": {
                "State": "running",
                "Restarts": 0,
                "StartedAt": "2026-11-25T08:00:00Z",
                "FinishedAt": None,
                "Events": [
                    {"Type": "Received", "Time": NOW_NS - 3},
                    {
                        "Type": "Task Setup",
                        "Message": "Building Task Directory",
                        "Time": NOW_NS - 2,
                    },
                    {"Type": "Started", "Time": NOW_NS - 1},
                ],
            }
        },
    }
    text = nomad_format.alloc_status(alloc)
    assert 'Allocation Addresses (mode = "host")' in text
    assert "http   yes      127.0.0.1:23456 -> 80" in text
    assert 'Task "nginx" is "running"' in text
    assert "500 MHz  128 MiB  300 MiB" in text
    events = text[text.index("Recent Events:") :].splitlines()
    assert events[1].split()[0] == "Time"
    assert "Task started by client" in events[2]  # newest first
    assert "Task received by client" in events[4]
    assert "Finished At    = N/A" in text


def test_event_descriptions_follow_nomad() -> None:
    d = nomad_format.event_description
    assert d({"Type": "Terminated", "ExitCode": 1, "Signal": 9}) == "Exit Code: 1, Signal: 9"
    assert d({"Type": "Restarting", "StartDelay": 15 * 10**9}) == "Task restarting in 15s"
    assert d({"Type": "Killing", "KillTimeout": 5 * 10**9}) == (
        "Sent interrupt. Waiting 5s before force killing"
    )
    assert d({"Type": "Not Restarting"}) == "Task exceeded restart policy"


def test_eval_status_explains_placement_failures() -> None:
    text = nomad_format.eval_status(
        {
            "ID": "e" * 36,
            "Status": "complete",
            "TriggeredBy": "job-register",
            "JobID": "j",
            "Priority": 50,
            "Type": "service",
            "FailedTGAllocs": {
                "web": {
                    "NodesEvaluated": 1,
                    "NodesExhausted": 1,
                    "DimensionExhausted": {"memory": 1},
                }
            },
        }
    )
    assert "Placement Failures = true" in text
    assert '* Dimension "memory" exhausted on 1 nodes' in text
    assert "* Resources exhausted on 1 nodes" in text
