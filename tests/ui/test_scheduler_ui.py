"""The scheduler's web UI in Chromium against a real `yurt scheduler` process, with simulated
client nodes that report allocations running when the test says so."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import nomad
import pytest
from playwright.sync_api import Browser, expect

from tests.scheduler.conftest import SchedulerProcess
from tests.scheduler.simnode import SimNode, wait_for
from tests.ui.browser import NARROW, REPO, UIPage, close, new_ui_page
from tests.ui.fakeclient import FakeClientAPI

JOB_ID = "web-demo"
JOB_HCL = """
job "web-demo" {
  datacenters = ["dc1"]
  type        = "service"

  group "web" {
    count = 2

    network {
      port "http" {}
    }

    task "server" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["600"]
      }

      resources {
        cpu    = 300
        memory = 256
      }
    }
  }
}
"""


class Cluster:
    def __init__(self, tmp: Path) -> None:
        self.client_api = FakeClientAPI().start()
        self.sched = SchedulerProcess(tmp).start()
        self.nodes = [
            SimNode(self.sched.url, name, http_addr=self.client_api.addr, memory=2048)
            for name in ("node-a", "node-b")
        ]
        for node in self.nodes:
            node.register()
            node.start_heartbeats()
        self.api: nomad.Nomad = self.sched.client()

    def act(self) -> None:
        for node in self.nodes:
            node.act()

    def allocs(self, job_id: str = JOB_ID) -> list[dict[str, object]]:
        return list(self.api.job.get_allocations(job_id))

    def stop(self) -> None:
        for node in self.nodes:
            node.stop_heartbeats()
        self.sched.proc.stop()
        self.client_api.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("ui-sched"))
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def ui(browser: Browser, cluster: Cluster) -> Iterator[UIPage]:
    page = new_ui_page(browser, cluster.sched.url)
    try:
        yield page
        page.check_clean()
    finally:
        close(page)


def _job_with(job: dict[str, object], **changes: object) -> dict[str, object]:
    return {**job, **changes}


def test_run_a_job_from_the_ui_and_watch_it_start(ui: UIPage, cluster: Cluster) -> None:
    page = ui.page
    ui.goto("/ui/")
    expect(page).to_have_url(re.compile(r"/ui/jobs$"))
    expect(page.get_by_text("No jobs yet")).to_be_visible()
    page.get_by_role("link", name="Run job").click()
    expect(page).to_have_url(re.compile(r"/ui/jobs/run$"))
    page.get_by_label("job file", exact=True).fill(JOB_HCL)
    page.get_by_role("button", name="Plan").click()
    plan = page.locator(".plan")
    expect(plan).to_contain_text('Task Group: "web"')
    expect(plan).to_contain_text("2 place")
    expect(plan).to_contain_text("All task groups can be placed.")
    ui.shot("scheduler-run")
    ui.mark()
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/ui/jobs/{JOB_ID}$"))
    expect(page.locator('tr[data-status="pending"]')).to_have_count(2)
    cluster.act()  # the clients report the allocations running
    expect(page.locator('tr[data-status="running"]')).to_have_count(2)
    expect(page.locator(".summary").first).to_contain_text("2 running")
    ui.assert_not_reloaded()
    job = cluster.api.job.get_job(JOB_ID)
    assert job["Status"] == "running"
    ui.shot("scheduler-job")


def test_run_page_reports_errors_with_their_position(ui: UIPage) -> None:
    ui.allow(r"/v1/jobs/parse")
    page = ui.page
    ui.goto("/ui/jobs/run")
    broken = 'job "broken" {\n  group "g" {\n    count = \n  }\n}\n'
    page.get_by_label("job file", exact=True).fill(broken)
    page.get_by_role("button", name="Plan").click()
    expect(page.locator(".error-box")).to_contain_text("input.hcl:")
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_disabled()


def test_jobs_list_updates_live_and_filters(ui: UIPage, cluster: Cluster) -> None:
    page = ui.page
    ui.goto("/ui/jobs")
    row = page.locator(f'tr[data-job-row="{JOB_ID}"]')
    expect(row).to_contain_text("running")
    expect(row).to_contain_text("2 running")
    expect(row.locator(".bar .running")).to_have_count(1)
    ui.mark()
    batch = dict(cluster.api.job.get_job(JOB_ID))
    batch = _job_with(batch, ID="batch-report", Name="batch-report", Type="batch")
    for key in ("Status", "Version", "CreateIndex", "ModifyIndex", "JobModifyIndex", "SubmitTime"):
        batch.pop(key, None)
    cluster.api.jobs.register_job({"Job": batch})
    new_row = page.locator('tr[data-job-row="batch-report"]')
    expect(new_row).to_contain_text("batch")
    cluster.act()
    expect(new_row).to_contain_text("2 running")
    ui.assert_not_reloaded()
    ui.shot("scheduler-jobs")
    search = page.get_by_placeholder("Filter jobs by name, type or status")
    search.fill("batch")
    expect(page.locator("tr[data-job-row]")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"\?filter=batch$"))
    search.fill("no-such-job")
    expect(page.get_by_text("No job matches the filter")).to_be_visible()
    search.fill("")
    expect(page.locator("tr[data-job-row]")).to_have_count(2)
    cluster.api.job.deregister_job("batch-report", purge=True)
    expect(page.locator("tr[data-job-row]")).to_have_count(1)
    cluster.act()


def test_job_tabs_definition_versions_deployments_evaluations(ui: UIPage, cluster: Cluster) -> None:
    page = ui.page
    ui.goto(f"/ui/jobs/{JOB_ID}/definition")
    expect(page.locator("pre.code")).to_contain_text('job "web-demo"')
    page.get_by_role("button", name="JSON").click()
    expect(page.locator("pre.code")).to_contain_text('"TaskGroups"')
    ui.shot("scheduler-job-definition")

    page.get_by_role("link", name="Versions").click()
    expect(page.locator("[data-version]")).to_have_count(1)
    ui.mark()
    job = dict(cluster.api.job.get_job(JOB_ID))
    job["Meta"] = {"release": "2"}
    cluster.api.job.register_job(JOB_ID, {"Job": job})
    expect(page.locator("[data-version]")).to_have_count(2)
    newest = page.locator('[data-version="1"]')
    expect(newest).to_contain_text("Meta")
    expect(newest).to_contain_text('release: "2"')
    ui.assert_not_reloaded()
    ui.shot("scheduler-job-versions")
    cluster.act()
    page.locator('[data-version="0"]').get_by_role("button", name="Revert to this version").click()
    page.get_by_role("button", name="Yes, revert").click()
    expect(page.locator("[data-version]")).to_have_count(3)
    expect(page.locator('[data-version="2"]')).to_contain_text('release: "2"')
    assert cluster.api.job.get_job(JOB_ID)["Meta"] in (None, {})
    cluster.act()

    page.get_by_role("link", name="Deployments").click()
    expect(page.locator("[data-deployment]").first).to_contain_text("web")
    page.locator("nav.tabs").get_by_role("link", name="Evaluations").click()
    expect(page.locator("tbody")).to_contain_text("job-register")
    ui.shot("scheduler-job-evaluations")
    page.get_by_role("link", name="Allocations").click()
    expect(page.locator("tr[data-alloc]").first).to_be_visible()


def test_allocation_page_with_task_events_addresses_and_live_logs(
    ui: UIPage, cluster: Cluster
) -> None:
    page = ui.page
    alloc = next(a for a in cluster.allocs() if a["ClientStatus"] == "running")
    alloc_id = str(alloc["ID"])
    cluster.client_api.write(alloc_id, "server", "stdout", "hello from the task\n")
    cluster.client_api.write(alloc_id, "server", "stderr", "a warning on stderr\n")
    ui.goto(f"/ui/allocations/{alloc_id}")
    expect(page.locator("h1")).to_contain_text(alloc_id[:8])
    task = page.locator('[data-task="server"]')
    expect(task).to_contain_text("running")
    expect(task).to_contain_text("Started")
    full = cluster.api.allocation.get_allocation(alloc_id)
    port = full["AllocatedResources"]["Shared"]["Ports"][0]["Value"]
    expect(page.locator(".addr")).to_have_text(f"127.0.0.1:{port}")
    expect(page.get_by_text("42.0 MiB")).to_be_visible()  # live use from the client's stats
    log = page.locator("pre.log")
    expect(log).to_contain_text("hello from the task")
    ui.mark()
    cluster.client_api.write(alloc_id, "server", "stdout", "a second line, streamed\n")
    expect(log).to_contain_text("a second line, streamed")
    ui.assert_not_reloaded()
    ui.shot("scheduler-allocation")
    page.get_by_role("button", name="stderr").click()
    expect(log).to_have_text("a warning on stderr\n")
    page.get_by_role("button", name="Restart", exact=True).click()
    page.get_by_role("button", name="Yes, restart tasks").click()
    wait_for(lambda: cluster.client_api.restarts, what="the restart to reach the client")
    assert cluster.client_api.restarts[0][0] == alloc_id
    # One task, from its panel.
    page.locator('[data-task="server"]').get_by_role("button", name="Restart task").click()
    page.get_by_role("button", name="Yes, restart server").click()
    wait_for(lambda: len(cluster.client_api.restarts) == 2, what="the task's restart")
    assert cluster.client_api.restarts[1] == (alloc_id, {"TaskName": "server"})


def test_clients_list_and_client_page(ui: UIPage, cluster: Cluster) -> None:
    page = ui.page
    node = cluster.nodes[0]
    ui.goto("/ui/clients")
    expect(page.locator("a[data-node]")).to_have_count(2)
    expect(page.locator("tbody")).to_contain_text("ready")
    ui.shot("scheduler-clients")
    page.get_by_role("link", name="node-a").click()
    expect(page).to_have_url(re.compile(rf"/ui/clients/{node.id}$"))
    expect(page.locator("main")).to_contain_text("unique.hostname")
    ui.mark()
    page.get_by_role("button", name="Mark ineligible").click()
    ineligible = page.locator("h1 .badge", has_text="ineligible")
    expect(ineligible).to_have_count(1)
    wait_for(
        lambda: cluster.api.node.get_node(node.id)["SchedulingEligibility"] == "ineligible",
        what="node marked ineligible",
    )
    page.get_by_role("button", name="Mark eligible").click()
    expect(ineligible).to_have_count(0)
    ui.assert_not_reloaded()
    ui.shot("scheduler-client")


def test_topology_shows_each_node_with_its_allocations(ui: UIPage, cluster: Cluster) -> None:
    page = ui.page
    ui.goto("/ui/topology")
    boxes = page.locator(".node-box")
    expect(boxes).to_have_count(2)
    running = [a for a in cluster.allocs() if a["DesiredStatus"] == "run"]
    # Each allocation shows once on the CPU meter and once on the memory meter.
    expect(page.locator(".node-box a[data-alloc]")).to_have_count(2 * len(running))
    expect(page.locator(".stats")).to_contain_text("Allocations")
    ui.shot("scheduler-topology")


def test_stop_the_job_from_the_ui(ui: UIPage, cluster: Cluster) -> None:
    page = ui.page
    ui.goto(f"/ui/jobs/{JOB_ID}")
    expect(page.locator("h1")).to_contain_text("running")
    ui.mark()
    page.get_by_role("button", name="Stop").click()
    page.get_by_role("button", name="Yes, stop job").click()
    expect(page.locator("h1 .badge")).to_have_text("dead")
    cluster.act()
    expect(page.locator('tr[data-alloc][data-status="running"]')).to_have_count(0)
    expect(page.locator('tr[data-alloc][data-status="complete"]').first).to_be_visible()
    expect(page.get_by_role("button", name="Start")).to_be_visible()
    ui.assert_not_reloaded()
    assert cluster.api.job.get_job(JOB_ID)["Stop"] is True
    page.get_by_role("button", name="Start").click()
    expect(page.locator('tr[data-alloc][data-status="pending"]')).to_have_count(2)
    cluster.act()
    expect(page.locator("h1 .badge")).to_have_text("running")
    assert cluster.api.job.get_job(JOB_ID)["Stop"] is False
    cluster.api.job.deregister_job(JOB_ID)
    cluster.act()
    expect(page.locator("h1 .badge")).to_have_text("dead")


def test_log_viewer_starts_once_the_task_does(ui: UIPage, cluster: Cluster) -> None:
    ui.allow(r"400.*/v1/client/fs/logs/")
    page = ui.page
    job = dict(cluster.api.job.get_job(JOB_ID))
    for key in ("Status", "Version", "CreateIndex", "ModifyIndex", "JobModifyIndex", "SubmitTime"):
        job.pop(key, None)
    job.update(ID="late-logs", Name="late-logs", Stop=False)
    job["TaskGroups"][0]["Count"] = 1
    cluster.api.jobs.register_job({"Job": job})
    alloc_id = str(wait_for(lambda: cluster.allocs("late-logs"), what="an allocation")[0]["ID"])
    ui.goto(f"/ui/allocations/{alloc_id}")
    log = page.locator("pre.log")
    expect(log).to_contain_text('unknown task name "server"')
    ui.mark()
    cluster.client_api.write(alloc_id, "server", "stdout", "started at last\n")
    cluster.act()
    expect(page.locator('[data-task="server"]')).to_contain_text("running")
    expect(log).to_have_text("started at last\n")
    page.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_role("button", name="Yes, stop allocation").click()
    expect(page.locator("main")).to_contain_text("Desiredstop")
    cluster.act()
    expect(page.locator("h1 .badge")).to_have_text("complete")
    ui.assert_not_reloaded()
    cluster.api.job.deregister_job("late-logs", purge=True)
    cluster.act()


def test_periodic_job_launches_listed_under_their_parent(ui: UIPage, cluster: Cluster) -> None:
    page = ui.page
    source = (REPO / "jobs" / "job.cron.nomad").read_text()
    job = cluster.api.jobs.parse(source, canonicalize=True)
    cluster.api.jobs.register_job({"Job": job})
    ui.goto("/ui/jobs")
    parent_row = page.locator('tr[data-job-row="job-cron"]')
    expect(parent_row).to_contain_text("no children yet")
    ui.mark()
    parent_row.get_by_role("link", name="job-cron").click()
    expect(page.locator("main")).to_contain_text("cron: */5 * * * *")
    page.get_by_role("button", name="Force launch").click()
    child = page.locator("tr[data-child]")
    expect(child).to_have_count(1)
    cluster.act()
    expect(child).to_contain_text("1 running")
    child.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/ui/jobs/job-cron%2Fperiodic-\d+$"))
    expect(page.locator("h1")).to_contain_text("job-cron/periodic-")
    expect(page.locator('tr[data-status="running"]')).to_have_count(1)
    ui.goto("/ui/jobs")
    expect(page.locator("tr[data-job-row]", has_text="periodic-")).to_have_count(0)
    expect(parent_row).to_contain_text("children: 1 running")
    cluster.api.job.deregister_job("job-cron", purge=True)


CANARY_HCL = """
job "canary-demo" {
  datacenters = ["dc1"]

  group "web" {
    count = 1

    update {
      canary       = 1
      max_parallel = 1
    }

    task "server" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["%s"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"""


def test_scale_a_group_and_promote_a_canary_deployment(ui: UIPage, cluster: Cluster) -> None:
    page = ui.page
    cluster.api.jobs.register_job({"Job": cluster.api.jobs.parse(CANARY_HCL % "600", True)})
    wait_for(lambda: cluster.allocs("canary-demo"), what="the first allocation")
    cluster.act()
    ui.goto("/ui/jobs/canary-demo")
    deployment = page.locator("[data-deployment]")
    expect(deployment).to_contain_text("successful")
    ui.mark()
    page.get_by_role("button", name="scale web up").click()
    expect(page.locator('[data-group="web"] strong')).to_have_text("2")
    expect(page.locator("tr[data-alloc]")).to_have_count(2)
    cluster.act()
    expect(page.locator('tr[data-status="running"]')).to_have_count(2)
    assert cluster.api.job.get_job("canary-demo")["TaskGroups"][0]["Count"] == 2

    cluster.api.jobs.register_job(
        {"Job": cluster.api.jobs.parse(CANARY_HCL % "601", True), "PreserveCounts": True}
    )
    expect(deployment).to_contain_text("version 2")
    cluster.act()  # the canary reports healthy: the deployment waits for a promotion
    promote = page.get_by_role("button", name="Promote canaries")
    expect(promote).to_be_visible()
    ui.shot("scheduler-job-deployment")
    promote.click()
    expect(deployment).to_contain_text("(promoted)")
    wait_for(
        lambda: (
            (cluster.act() or True)
            and cluster.api.job.get_deployment("canary-demo")["Status"] == "successful"
        ),
        timeout=20,
        what="the promoted deployment to finish",
    )
    expect(deployment.locator(".badge")).to_have_text("successful")
    ui.assert_not_reloaded()
    cluster.api.job.deregister_job("canary-demo", purge=True)
    cluster.act()


def test_task_group_page_from_the_job_overview(ui: UIPage, cluster: Cluster) -> None:
    page = ui.page
    job = cluster.api.jobs.parse(JOB_HCL.replace('"web-demo"', '"group-demo"'), True)
    cluster.api.jobs.register_job({"Job": job})
    wait_for(lambda: len(cluster.allocs("group-demo")) == 2, what="two allocations")
    cluster.act()
    ui.goto("/ui/jobs/group-demo")
    ui.mark()
    page.locator('[data-group-link="web"]').click()
    expect(page).to_have_url(re.compile(r"/ui/jobs/group-demo/web$"))
    expect(page.locator("h1")).to_contain_text("web")
    expect(page.locator("section", has_text="Tasks")).to_contain_text("server")
    expect(page.locator("section", has_text="Tasks")).to_contain_text("raw_exec")
    expect(page.locator('tr[data-status="running"]')).to_have_count(2)
    expect(page.locator(".legend").first).to_contain_text("2 running")
    # Scaling from the group's page: a third allocation appears there, live.
    page.get_by_role("button", name="scale web up").click()
    expect(page.locator('[data-group="web"] strong')).to_have_text("3")
    expect(page.locator("tr[data-alloc]")).to_have_count(3)
    cluster.act()
    expect(page.locator('tr[data-status="running"]')).to_have_count(3)
    ui.assert_not_reloaded()
    ui.goto("/ui/jobs/group-demo/nosuch")
    expect(page.locator(".error-box")).to_contain_text("has no task group nosuch")
    cluster.api.job.deregister_job("group-demo", purge=True)
    cluster.act()


def test_evaluations_page_lists_them_live_across_jobs(ui: UIPage, cluster: Cluster) -> None:
    page = ui.page
    ui.goto("/ui/")
    page.get_by_role("banner").get_by_role("link", name="Evaluations").click()
    expect(page).to_have_url(re.compile(r"/ui/evaluations$"))
    ui.mark()
    job = cluster.api.jobs.parse(JOB_HCL.replace('"web-demo"', '"evals-demo"'), True)
    eval_id = cluster.api.jobs.register_job({"Job": job})["EvalID"]
    row = page.locator(f'tr[data-eval="{eval_id}"]')
    expect(row).to_contain_text("evals-demo")  # appears without a reload
    expect(row).to_contain_text("job-register")
    expect(row.locator(".badge")).to_have_text("complete")
    page.get_by_placeholder("Filter by id, job, trigger or status").fill("evals-demo")
    expect(page.locator("tr[data-eval]")).to_have_count(
        len([e for e in cluster.api.evaluations.get_evaluations() if e["JobID"] == "evals-demo"])
    )
    row.get_by_role("link", name="evals-demo").click()
    expect(page).to_have_url(re.compile(r"/ui/jobs/evals-demo$"))
    ui.assert_not_reloaded()
    cluster.api.job.deregister_job("evals-demo", purge=True)
    cluster.act()


def test_pages_fit_a_narrow_window(browser: Browser, cluster: Cluster) -> None:
    ui = new_ui_page(browser, cluster.sched.url, NARROW)
    ui.allow(r"/submission", r"400.*/v1/client/fs/logs/")
    try:
        alloc_id = str(cluster.allocs()[0]["ID"])
        for path, shot in (
            ("/ui/jobs", "scheduler-jobs-narrow"),
            (f"/ui/jobs/{JOB_ID}", "scheduler-job-narrow"),
            (f"/ui/allocations/{alloc_id}", None),
            ("/ui/clients", None),
            (f"/ui/clients/{cluster.nodes[0].id}", None),
            ("/ui/topology", "scheduler-topology-narrow"),
            ("/ui/jobs/run", None),
        ):
            ui.goto(path)
            ui.page.wait_for_selector("main#app h1")
            ui.page.wait_for_load_state("domcontentloaded")
            ui.assert_fits()
            if shot:
                ui.shot(shot)
        ui.check_clean()
    finally:
        close(ui)


def test_unknown_job_says_so(ui: UIPage) -> None:
    ui.allow(r"/v1/job/no-such-job")
    ui.goto("/ui/jobs/no-such-job")
    expect(ui.page.locator(".error-box")).to_contain_text("Job no-such-job not found")
