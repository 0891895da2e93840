/* The scheduler's web UI (Nomad's /ui/ pages), rendered from Nomad's public HTTP API. */
(function () {
  "use strict";
  const Y = window.yurt;
  const { h, fmt } = Y;
  const enc = encodeURIComponent;
  const jobHref = (id, tab) => "/ui/jobs/" + enc(id) + (tab ? "/" + tab : "");
  const groupHref = (id, group) => "/ui/jobs/" + enc(id) + "/" + enc(group);
  const allocHref = (id) => "/ui/allocations/" + id;
  const nodeHref = (id) => "/ui/clients/" + id;
  const STATES = ["Queued", "Starting", "Running", "Complete", "Failed", "Lost", "Unknown"];
  const TERMINAL = new Set(["complete", "failed", "lost"]);
  const isTerminal = (a) => a.DesiredStatus !== "run" || TERMINAL.has(a.ClientStatus);

  // --- ACL token -------------------------------------------------------------------------
  // As Nomad's UI: the token's secret stays in this browser (localStorage "nomadTokenSecret")
  // and goes with every API call as X-Nomad-Token; the servers never set it.
  const TOKEN_KEY = "nomadTokenSecret";
  const TOKENS_PAGE = "/ui/settings/tokens";
  const getToken = () => {
    try { return localStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; }
  };
  const setToken = (secret) => {
    if (secret) localStorage.setItem(TOKEN_KEY, secret);
    else localStorage.removeItem(TOKEN_KEY);
  };
  const rawFetch = window.fetch.bind(window);
  window.fetch = function (input, init) {
    const url = typeof input === "string" ? input : input.url;
    const token = getToken();
    const ownAPI = url.startsWith("/v1/") || url.startsWith(location.origin + "/v1/");
    if (token && ownAPI) {
      init = Object.assign({}, init);
      const headers = new Headers(init.headers || {});
      if (!headers.has("X-Nomad-Token")) headers.set("X-Nomad-Token", token);
      init.headers = headers;
    }
    return rawFetch(input, init);
  };

  // --- shared pieces -------------------------------------------------------------------
  function sumSummary(summary) {
    const total = Object.fromEntries(STATES.map((s) => [s, 0]));
    for (const tg of Object.values((summary && summary.Summary) || {})) {
      for (const s of STATES) total[s] += tg[s] || 0;
    }
    return total;
  }
  function summaryBar(counts) {
    const all = STATES.reduce((n, s) => n + (counts[s] || 0), 0);
    const bar = h("div.bar", { role: "img", "aria-label": describeCounts(counts) || "no allocations" });
    for (const s of STATES) {
      if (counts[s]) bar.appendChild(h("span." + s.toLowerCase(), { style: { width: (100 * counts[s]) / all + "%" }, title: counts[s] + " " + s.toLowerCase() }));
    }
    return bar;
  }
  function describeCounts(counts) {
    return STATES.filter((s) => counts[s]).map((s) => counts[s] + " " + s.toLowerCase()).join(", ");
  }
  function summaryCell(counts) {
    return h("div.summary", null, summaryBar(counts), h("div.legend", null, describeCounts(counts) || "no allocations"));
  }
  function childrenCell(summary) {
    const c = (summary && summary.Children) || {};
    const parts = [["Pending", "pending"], ["Running", "running"], ["Dead", "dead"]].filter(([k]) => c[k]).map(([k, l]) => c[k] + " " + l);
    return h("div.summary", null, h("div.legend", null, parts.length ? "children: " + parts.join(", ") : "no children yet"));
  }
  function legend() {
    return h("div.legend", null, STATES.map((s) => h("span", null, h("i." + s.toLowerCase()), s)));
  }
  const errorBox = (err) =>
    err && err.status === 403
      ? h("div.error-box.not-authorized", null,
          "Not authorized: set a token. ", Y.link(TOKENS_PAGE, "Set an ACL token"), " (" + err.message + ")")
      : h("div.error-box", null, err && err.message ? err.message : String(err));
  const section = (title, ...kids) => h("section", null, title ? h("h2", null, title) : null, ...kids);
  function taskResources(tasks) {
    let cpu = 0, mem = 0;
    for (const t of tasks || []) { cpu += (t.Resources && t.Resources.CPU) || 0; mem += (t.Resources && t.Resources.MemoryMB) || 0; }
    return { cpu, mem };
  }
  function allocResources(a) {
    let cpu = 0, mem = 0;
    const tasks = (a.AllocatedResources && a.AllocatedResources.Tasks) || {};
    for (const t of Object.values(tasks)) {
      cpu += (t.Cpu && t.Cpu.CpuShares) || 0;
      mem += (t.Memory && t.Memory.MemoryMB) || 0;
    }
    return { cpu, mem };
  }
  function allocTable(allocs, { showJob = false, showNode = true, empty } = {}) {
    const cols = [
      ["ID", (a) => h("a.mono", { href: allocHref(a.ID), title: a.ID }, fmt.short(a.ID))],
    ];
    if (showJob) cols.push(["Job", (a) => Y.link(jobHref(a.JobID), a.JobID)]);
    cols.push(["Task group", (a) => a.TaskGroup]);
    if (showNode) cols.push(["Client", (a) => h("a", { href: nodeHref(a.NodeID), title: a.NodeID }, a.NodeName || fmt.short(a.NodeID))]);
    cols.push(
      ["Version", (a) => String(a.JobVersion ?? 0), { cls: "hide-narrow" }],
      ["Status", (a) => [Y.badge(a.ClientStatus), a.DesiredStatus !== "run" ? h("span.muted", null, " " + a.DesiredStatus) : null]],
      ["Created", (a) => fmt.ago(a.CreateTime), { cls: "hide-narrow" }],
      ["Modified", (a) => fmt.ago(a.ModifyTime)],
    );
    return Y.table(cols, allocs, { empty: empty || "No allocations", rowAttrs: (a) => ({ "data-alloc": a.ID, "data-status": a.ClientStatus }) });
  }

  function evalTable(evals, { showJob = false, empty } = {}) {
    const cols = [["ID", (e) => h("span.mono", { title: e.ID }, fmt.short(e.ID))]];
    if (showJob) cols.push(["Job", (e) => Y.link(jobHref(e.JobID), e.JobID)]);
    cols.push(
      ["Triggered by", (e) => e.TriggeredBy],
      ["Status", (e) => [Y.badge(e.Status), e.StatusDescription ? h("div.muted", null, e.StatusDescription) : null]],
      ["Priority", (e) => String(e.Priority), { cls: "hide-narrow" }],
      ["Placement failures", (e) => {
        const failed = Object.entries(e.FailedTGAllocs || {});
        if (!failed.length) return h("span.muted", null, "none");
        return failed.map(([tg, m]) => h("div.err", null, tg + ": " +
          Object.entries(m.DimensionExhausted || {}).concat(Object.entries(m.ConstraintFiltered || {})).map(([k, n]) => k + " (" + n + ")").join(", ") ||
          tg + ": no node fits"));
      }],
      ["Created", (e) => fmt.ago(e.CreateTime)],
    );
    return Y.table(cols, evals, { empty: empty || "No evaluations", rowAttrs: (e) => ({ "data-eval": e.ID, "data-status": e.Status }) });
  }

  // Nomad's job diff (plan and versions): fields and objects, task groups and tasks. What is
  // wholly added or deleted is one line, with its fields folded under it.
  function renderDiff(diff) {
    const sign = { Added: "+", Deleted: "-", Edited: "+/-", None: " " };
    const q = (v) => JSON.stringify(v ?? "");
    const line = (depth, type, text) =>
      h("div." + type.toLowerCase(), { style: { paddingLeft: depth * 16 + "px" } }, (sign[type] || " ") + " " + text);
    function fields(out, list, depth) {
      for (const f of list || []) {
        if (f.Type === "None") continue;
        const text = f.Type === "Added" ? f.Name + ": " + q(f.New) : f.Type === "Deleted" ? f.Name + ": " + q(f.Old) : f.Name + ": " + q(f.Old) + " => " + q(f.New);
        out.push(line(depth, f.Type, text));
      }
    }
    function objects(out, list, depth) {
      for (const o of list || []) {
        if (o.Type === "None") continue;
        out.push(line(depth, o.Type, o.Name + " {"));
        fields(out, o.Fields, depth + 1);
        objects(out, o.Objects, depth + 1);
        out.push(line(depth, o.Type === "Edited" ? "None" : o.Type, "}"));
      }
    }
    // The fields and objects of one job, group or task: folded when all of it is new or gone.
    function body(out, d, depth) {
      const inner = [];
      fields(inner, d.Fields, depth);
      objects(inner, d.Objects, depth);
      if (!inner.length) return;
      if (d.Type === "Added" || d.Type === "Deleted") {
        out.push(h("details", null, h("summary.muted", { style: { paddingLeft: depth * 16 + "px", cursor: "pointer" } }, inner.length + " fields"), inner));
      } else {
        out.push(...inner);
      }
    }
    if (!diff) return h("p.muted", null, "No changes.");
    const out = [];
    if (diff.Type === "Added" || diff.Type === "Deleted") out.push(line(0, diff.Type, 'Job: "' + diff.ID + '"'));
    body(out, diff, diff.Type === "Added" || diff.Type === "Deleted" ? 1 : 0);
    for (const tg of diff.TaskGroups || []) {
      const updates = Object.entries(tg.Updates || {}).map(([k, n]) => n + " " + k).join(", ");
      if (tg.Type === "None" && !updates) continue;
      out.push(line(0, tg.Type, 'Task Group: "' + tg.Name + '"' + (updates ? " (" + updates + ")" : "")));
      body(out, tg, 1);
      for (const t of tg.Tasks || []) {
        if (t.Type === "None") continue;
        out.push(line(1, t.Type, 'Task: "' + t.Name + '"' + (t.Annotations && t.Annotations.length ? " (" + t.Annotations.join(", ") + ")" : "")));
        body(out, t, 2);
      }
    }
    if (!out.length) return h("p.muted", null, "No changes.");
    return h("div.diff", null, out);
  }

  // --- jobs list -----------------------------------------------------------------------
  function jobsPage(ctx) {
    ctx.title("Jobs");
    const list = h("div");
    let jobs = null;
    let filter = ctx.query.get("filter") || "";
    const draw = () => {
      if (!jobs) return;
      // Periodic and dispatched children are listed on their parent's page, as in Nomad.
      const rows = jobs.filter((j) => !j.ParentID && Y.matches(filter, j.ID, j.Name, j.Type, j.Status, j.Namespace));
      const many = new Set(jobs.map((j) => j.Namespace)).size > 1;
      const cols = [
        ["Name", (j) => h("a", { href: jobHref(j.ID), "data-job": j.ID }, j.Name || j.ID)],
      ];
      if (many) cols.push(["Namespace", (j) => j.Namespace]);
      cols.push(
        ["Status", (j) => Y.badge(j.Status)],
        ["Type", (j) => j.Type + (j.Periodic ? " (periodic)" : j.ParameterizedJob ? " (parameterized)" : "")],
        ["Priority", (j) => String(j.Priority), { cls: "hide-narrow" }],
        ["Groups", (j) => String(Object.keys((j.JobSummary && j.JobSummary.Summary) || {}).length), { cls: "hide-narrow" }],
        ["Summary", (j) => (j.Periodic || j.ParameterizedJob ? childrenCell(j.JobSummary) : summaryCell(sumSummary(j.JobSummary)))],
        ["Submitted", (j) => fmt.ago(j.SubmitTime), { cls: "hide-narrow" }],
      );
      Y.fill(list, Y.table(cols, rows, { empty: jobs.length ? "No job matches the filter" : "No jobs yet: run one", rowAttrs: (j) => ({ "data-job-row": j.ID }) }));
    };
    const box = Y.filterBox(ctx, "Filter jobs by name, type or status", (v) => { filter = v; draw(); });
    Y.append(ctx.el, [
      h("h1", null, "Jobs"),
      h("div.toolbar", null, box, h("span.grow"), h("a.button.primary", { href: "/ui/jobs/run" }, "Run job")),
      list,
      legend(),
    ]);
    ctx.watch("/v1/jobs?namespace=*", (data, err) => {
      if (err) return Y.fill(list, errorBox(err));
      jobs = data;
      draw();
    });
  }

  // --- a job ---------------------------------------------------------------------------
  const JOB_TABS = [["", "Overview"], ["definition", "Definition"], ["versions", "Versions"], ["deployments", "Deployments"], ["allocations", "Allocations"], ["evaluations", "Evaluations"]];

  function jobPage(ctx, rawId, tab) {
    const id = decodeURIComponent(rawId); // child jobs' IDs hold a "/" (parent/periodic-…)
    tab = tab || "";
    ctx.title("Job " + id);
    const head = h("div");
    const body = h("div");
    Y.append(ctx.el, [
      h("div.crumbs", null, Y.link("/ui/jobs", "Jobs"), " / ", id),
      head,
      h("nav.tabs", null, JOB_TABS.map(([t, label]) => h("a", { href: jobHref(id, t), class: t === tab ? "active" : null }, label))),
      body,
    ]);
    let job = null;
    const onJob = [];
    // A missing job is said once, in the header; the sections stay empty.
    const jobErr = (el, err) => (err.status === 404 ? Y.fill(el) : Y.fill(el, errorBox(err)));
    ctx.watch("/v1/job/" + enc(id), (data, err) => {
      if (err) {
        Y.fill(head, h("h1", null, id), errorBox(err.status === 404 ? new Error("Job " + id + " not found") : err));
        return;
      }
      job = data;
      drawHead();
      for (const f of onJob) f();
      if (tab === "definition") drawDefinition();
    });
    // A job's status follows its allocations, but the job's own index moves only when the job
    // is written: so the allocations are watched on every tab (the overview and allocations
    // tabs draw them too) and the job re-read when they change.
    const onAllocs = [];
    let allocsSeen = false;
    let statusSeq = 0;
    ctx.watch("/v1/job/" + enc(id) + "/allocations?all=true", (data, err) => {
      for (const f of onAllocs) f(data, err);
      if (err || !allocsSeen) { allocsSeen = !err; return; }
      const seq = ++statusSeq;
      Y.api("GET", "/v1/job/" + enc(id), undefined, { signal: ctx.signal }).then((fresh) => {
        if (seq !== statusSeq || !job || fresh.ModifyIndex < job.ModifyIndex) return;
        job = fresh;
        drawHead();
      }).catch(() => {}); // the job watch reports errors
    });
    function drawHead() {
      const stopped = job.Stop;
      const actions = stopped
        ? h("button.primary", { type: "button", onclick: startJob }, "Start")
        : Y.confirmButton("Stop", "Yes, stop job", stopJob);
      Y.fill(head,
        h("h1", null, job.Name || job.ID, Y.badge(job.Status), h("span.grow"), actions),
        h("p.sub", null,
          [["Type", job.Type], ["Priority", job.Priority], ["Version", job.Version], ["Namespace", job.Namespace], ["Datacenters", (job.Datacenters || []).join(", ")]]
            .map(([k, v]) => h("span", { style: { marginRight: "16px" } }, k + ": ", h("strong", null, String(v ?? "")))))
      );
    }
    async function stopJob() {
      try { await Y.api("DELETE", "/v1/job/" + enc(id)); } catch (e) { head.appendChild(errorBox(e)); }
    }
    async function startJob() {
      try {
        const current = await Y.api("GET", "/v1/job/" + enc(id));
        current.Stop = false;
        await Y.api("PUT", "/v1/jobs", { Job: current });
      } catch (e) { head.appendChild(errorBox(e)); }
    }

    if (tab === "") overview();
    else if (tab === "definition") body.appendChild(h("p.muted", null, "Loading…"));
    else if (tab === "versions") versions();
    else if (tab === "deployments") deployments();
    else if (tab === "allocations") allocations();
    else if (tab === "evaluations") evaluations();
    else Y.fill(body, errorBox("No such tab: " + tab));

    function overview() {
      const sum = h("div.panel", null, h("p.muted", null, "Loading…"));
      const dep = h("div");
      const groups = h("div");
      const allocs = h("div");
      const children = h("div");
      async function scale(tg, count) {
        try {
          await Y.api("POST", "/v1/job/" + enc(id) + "/scale", { Count: count, Target: { Group: tg.Name }, Message: "scaled from the web UI" });
          Y.fill(groupsMsg);
        } catch (e) { Y.fill(groupsMsg, errorBox(e)); }
      }
      const groupsMsg = h("div");
      Y.append(body, [section("Allocations by status", sum), dep, children, section("Task groups", groupsMsg, groups), section("Allocations", allocs)]);
      let childrenWatched = false;
      const watchChildren = () => {
        if (childrenWatched || !job || !(job.Periodic || job.ParameterizedJob)) return;
        childrenWatched = true;
        const list = h("div");
        const msg = h("div");
        const launch = job.Periodic
          ? h("button", { type: "button", onclick: () => Y.api("POST", "/v1/job/" + enc(id) + "/periodic/force").catch((e) => Y.fill(msg, errorBox(e))) }, "Force launch")
          : h("button", { type: "button", onclick: () => Y.api("POST", "/v1/job/" + enc(id) + "/dispatch", { Payload: "", Meta: {} }).catch((e) => Y.fill(msg, errorBox(e))) }, "Dispatch");
        Y.fill(children, section(job.Periodic ? "Launches" : "Dispatched jobs", h("div.toolbar", null, h("span.muted", null, job.Periodic ? "cron: " + ((job.Periodic.Specs || []).join("; ") || job.Periodic.Spec || "") : "parameterized"), h("span.grow"), launch), msg, list));
        ctx.watch("/v1/jobs?prefix=" + enc(id + "/"), (data, err) => {
          if (err) return jobErr(list, err);
          Y.fill(list, Y.table([
            ["Job", (j) => Y.link(jobHref(j.ID), j.ID.slice(id.length + 1))],
            ["Status", (j) => Y.badge(j.Status)],
            ["Summary", (j) => summaryCell(sumSummary(j.JobSummary))],
            ["Submitted", (j) => fmt.ago(j.SubmitTime)],
          ], data.filter((j) => j.ParentID === id).sort((a, b) => (b.SubmitTime || 0) - (a.SubmitTime || 0)), { empty: "None yet", rowAttrs: (j) => ({ "data-child": j.ID }) }));
        });
      };
      let summary = null;
      const drawGroups = () => {
        if (!job) return;
        const tgs = job.TaskGroups || [];
        Y.fill(groups, Y.table([
          ["Name", (tg) => h("a", { href: groupHref(id, tg.Name), "data-group-link": tg.Name }, h("strong", null, tg.Name))],
          ["Count", (tg) => (job.Stop || job.Periodic || job.ParameterizedJob ? String(tg.Count) : h("span.nowrap.scale", { "data-group": tg.Name },
            h("button", { type: "button", title: "one fewer", "aria-label": "scale " + tg.Name + " down", disabled: tg.Count <= 0, onclick: () => scale(tg, tg.Count - 1) }, "\u2212"),
            h("strong", { style: { margin: "0 8px" } }, String(tg.Count)),
            h("button", { type: "button", title: "one more", "aria-label": "scale " + tg.Name + " up", onclick: () => scale(tg, tg.Count + 1) }, "+")))],
          ["Tasks", (tg) => (tg.Tasks || []).map((t) => h("div", null, t.Name, h("span.muted", null, " (" + t.Driver + ")")))],
          ["Reserved", (tg) => { const r = taskResources(tg.Tasks); return fmt.mhz(r.cpu) + " / " + fmt.mb(r.mem); }, { cls: "hide-narrow" }],
          ["Summary", (tg) => summaryCell((summary && summary.Summary && summary.Summary[tg.Name]) || {})],
        ], tgs, { empty: "No task groups" }));
      };
      // The summary changes when the job's allocations or the job do: it is re-read then,
      // rather than held open as one more blocking query (browsers allow 6 per host).
      let summarySeq = 0;
      const readSummary = async () => {
        const seq = ++summarySeq;
        let data;
        try {
          data = await Y.api("GET", "/v1/job/" + enc(id) + "/summary", undefined, { signal: ctx.signal });
        } catch (err) {
          if (!ctx.signal.aborted) jobErr(sum, err);
          return;
        }
        if (seq !== summarySeq || ctx.signal.aborted) return;
        summary = data;
        const total = sumSummary(data);
        Y.fill(sum, summaryBar(total), h("div.legend", null, describeCounts(total) || "no allocations"), legend());
        drawGroups();
      };
      onJob.push(drawGroups, readSummary, watchChildren);
      onAllocs.push((data, err) => {
        if (err) return jobErr(allocs, err);
        Y.fill(allocs, allocTable(data));
        readSummary();
      });
      ctx.watch("/v1/job/" + enc(id) + "/deployment", (data, err) => {
        if (err) return jobErr(dep, err);
        Y.fill(dep, data ? section("Latest deployment", deploymentPanel(data)) : null);
      });
    }

    function deploymentPanel(d) {
      const groups = Object.entries(d.TaskGroups || {});
      const needsPromotion = d.Status === "running" && groups.some(([, g]) => g.DesiredCanaries > 0 && !g.Promoted);
      const actions = h("div.toolbar");
      if (needsPromotion) actions.appendChild(h("button.primary", { type: "button", onclick: () => act("promote", { DeploymentID: d.ID, All: true }) }, "Promote canaries"));
      if (d.Status === "running" || d.Status === "paused") {
        actions.appendChild(h("button", { type: "button", onclick: () => act("pause", { DeploymentID: d.ID, Pause: d.Status !== "paused" }) }, d.Status === "paused" ? "Resume" : "Pause"));
        actions.appendChild(Y.confirmButton("Fail", "Yes, fail deployment", () => act("fail", { DeploymentID: d.ID })));
      }
      const msg = h("div");
      async function act(what, payload) {
        try { await Y.api("POST", "/v1/deployment/" + what + "/" + d.ID, payload); } catch (e) { Y.fill(msg, errorBox(e)); }
      }
      return h("div.panel", { "data-deployment": d.ID },
        h("h3", { style: { marginTop: 0 } }, h("span.mono", { title: d.ID }, fmt.short(d.ID)), " ", Y.badge(d.Status), h("span.muted", null, " version " + d.JobVersion)),
        h("p.sub", null, d.StatusDescription || ""),
        Y.table([
          ["Task group", ([n]) => n],
          ["Desired", ([, g]) => String(g.DesiredTotal)],
          ["Canaries", ([, g]) => String(g.DesiredCanaries || 0) + (g.Promoted ? " (promoted)" : "")],
          ["Placed", ([, g]) => String(g.PlacedAllocs)],
          ["Healthy", ([, g]) => String(g.HealthyAllocs)],
          ["Unhealthy", ([, g]) => String(g.UnhealthyAllocs)],
          ["Progress deadline", ([, g]) => fmt.ago(g.RequireProgressBy), { cls: "hide-narrow" }],
        ], groups),
        actions.childNodes.length ? actions : null,
        msg
      );
    }

    async function drawDefinition() {
      const pre = h("pre.code");
      const choice = h("div.toolbar");
      Y.fill(body, choice, pre);
      let source = null;
      try {
        const sub = await Y.api("GET", "/v1/job/" + enc(id) + "/submission?version=" + job.Version, undefined, { signal: ctx.signal });
        source = sub && sub.Source;
      } catch (e) { source = null; }
      const show = (which) => {
        pre.textContent = which === "source" ? source : JSON.stringify(job, null, 2);
        for (const b of choice.querySelectorAll("button")) b.classList.toggle("primary", b.dataset.which === which);
      };
      if (source) {
        Y.append(choice, [
          h("button", { type: "button", "data-which": "source", onclick: () => show("source") }, "Job file"),
          h("button", { type: "button", "data-which": "json", onclick: () => show("json") }, "JSON"),
        ]);
      } else {
        choice.appendChild(h("span.muted", null, "Submitted as JSON (no job file was kept)."));
      }
      show(source ? "source" : "json");
    }

    function versions() {
      const list = h("div");
      body.appendChild(list);
      ctx.watch("/v1/job/" + enc(id) + "/versions?diffs=true", (data, err) => {
        if (err) return jobErr(list, err);
        const vs = data.Versions || [];
        const diffs = data.Diffs || [];
        Y.fill(list, vs.map((v, i) => {
          const current = i === 0;
          const revert = current ? null : Y.confirmButton("Revert to this version", "Yes, revert", async () => {
            try { await Y.api("POST", "/v1/job/" + enc(id) + "/revert", { JobID: id, JobVersion: v.Version }); }
            catch (e) { list.prepend(errorBox(e)); }
          }, "");
          return h("div.panel", { "data-version": v.Version },
            h("h3", { style: { marginTop: 0 } }, "Version " + v.Version, " ",
              v.Stable ? Y.badge("stable", "ok") : Y.badge("not stable", "dead"), " ",
              h("span.muted", null, "submitted "), fmt.ago(v.SubmitTime), " ", revert),
            i < vs.length - 1 ? renderDiff(diffs[i]) : h("p.muted", null, "First version.")
          );
        }));
      });
    }

    function deployments() {
      const list = h("div");
      body.appendChild(list);
      ctx.watch("/v1/job/" + enc(id) + "/deployments", (data, err) => {
        if (err) return jobErr(list, err);
        Y.fill(list, data.length ? data.map(deploymentPanel) : h("p.muted", null, "No deployments (only service jobs with an update strategy have them)."));
      });
    }

    function allocations() {
      const list = h("div");
      let allocs = null;
      let filter = ctx.query.get("filter") || "";
      const draw = () => allocs && Y.fill(list, allocTable(allocs.filter((a) => Y.matches(filter, a.ID, a.TaskGroup, a.NodeName, a.ClientStatus))));
      Y.append(body, [h("div.toolbar", null, Y.filterBox(ctx, "Filter by id, group, client or status", (v) => { filter = v; draw(); })), list]);
      onAllocs.push((data, err) => {
        if (err) return jobErr(list, err);
        allocs = data;
        draw();
      });
    }

    function evaluations() {
      const list = h("div");
      body.appendChild(list);
      ctx.watch("/v1/job/" + enc(id) + "/evaluations", (data, err) => {
        if (err) return jobErr(list, err);
        Y.fill(list, evalTable(data));
      });
    }
  }

  // --- a task group --------------------------------------------------------------------
  function groupPage(ctx, rawId, rawGroup) {
    const id = decodeURIComponent(rawId);
    const name = decodeURIComponent(rawGroup);
    ctx.title("Task group " + name + " · " + id);
    const head = h("div");
    const sum = h("div.panel", null, h("p.muted", null, "Loading…"));
    const tasks = h("div");
    const allocs = h("div");
    const msg = h("div");
    Y.append(ctx.el, [
      h("div.crumbs", null, Y.link("/ui/jobs", "Jobs"), " / ", Y.link(jobHref(id), id), " / ", name),
      head, msg, section("Allocations by status", sum), section("Tasks", tasks), section("Allocations", allocs),
    ]);
    let job = null;
    const group = () => (job && (job.TaskGroups || []).find((tg) => tg.Name === name)) || null;
    async function scale(count) {
      try {
        await Y.api("POST", "/v1/job/" + enc(id) + "/scale", { Count: count, Target: { Group: name }, Message: "scaled from the web UI" });
        Y.fill(msg);
      } catch (e) { Y.fill(msg, errorBox(e)); }
    }
    function drawHead() {
      const tg = group();
      if (!tg) {
        Y.fill(head, h("h1", null, name), errorBox(new Error("Job " + id + " has no task group " + name)));
        return;
      }
      const fixed = job.Stop || job.Periodic || job.ParameterizedJob;
      Y.fill(head,
        h("h1", null, name, h("span.grow"),
          fixed ? null : h("span.nowrap.scale", { "data-group": name },
            h("button", { type: "button", "aria-label": "scale " + name + " down", disabled: tg.Count <= 0, onclick: () => scale(tg.Count - 1) }, "\u2212"),
            h("strong", { style: { margin: "0 8px" } }, String(tg.Count)),
            h("button", { type: "button", "aria-label": "scale " + name + " up", onclick: () => scale(tg.Count + 1) }, "+"))),
        h("p.sub", null,
          [["Job", job.ID], ["Count", tg.Count], ["Reserved", (() => { const r = taskResources(tg.Tasks); return fmt.mhz(r.cpu) + " / " + fmt.mb(r.mem); })()]]
            .map(([k, v]) => h("span", { style: { marginRight: "16px" } }, k + ": ", h("strong", null, String(v ?? ""))))));
      Y.fill(tasks, Y.table([
        ["Name", (t) => h("strong", null, t.Name)],
        ["Driver", (t) => t.Driver],
        ["Lifecycle", (t) => (t.Lifecycle && t.Lifecycle.Hook) || "main", { cls: "hide-narrow" }],
        ["CPU", (t) => fmt.mhz((t.Resources && t.Resources.CPU) || 0)],
        ["Memory", (t) => fmt.mb((t.Resources && t.Resources.MemoryMB) || 0)],
      ], tg.Tasks || [], { empty: "No tasks" }));
    }
    let summarySeq = 0;
    async function readSummary() {
      const seq = ++summarySeq;
      let data;
      try {
        data = await Y.api("GET", "/v1/job/" + enc(id) + "/summary", undefined, { signal: ctx.signal });
      } catch (err) {
        if (!ctx.signal.aborted && err.status !== 404) Y.fill(sum, errorBox(err));
        return;
      }
      if (seq !== summarySeq || ctx.signal.aborted) return;
      const counts = (data.Summary && data.Summary[name]) || {};
      Y.fill(sum, summaryBar(counts), h("div.legend", null, describeCounts(counts) || "no allocations"), legend());
    }
    ctx.watch("/v1/job/" + enc(id), (data, err) => {
      if (err) return Y.fill(head, h("h1", null, name), errorBox(err.status === 404 ? new Error("Job " + id + " not found") : err));
      job = data;
      drawHead();
    });
    ctx.watch("/v1/job/" + enc(id) + "/allocations?all=true", (data, err) => {
      if (err) return err.status === 404 ? Y.fill(allocs) : Y.fill(allocs, errorBox(err));
      const mine = data.filter((a) => a.TaskGroup === name);
      Y.fill(allocs, allocTable(mine));
      // The group's counts are the job summary's, re-read when the allocations change.
      readSummary();
    });
  }

  // --- an allocation -------------------------------------------------------------------
  function allocPage(ctx, id) {
    ctx.title("Allocation " + fmt.short(id));
    const head = h("div");
    const info = h("div");
    const tasks = h("div");
    const logs = h("div");
    const files = h("div");
    Y.append(ctx.el, [h("div.crumbs", null, Y.link("/ui/jobs", "Jobs"), " / ", h("span.job-crumb"), "allocation ", fmt.short(id)), head, info, tasks, logs, files]);
    let logsReady = null;
    let filesShown = false;
    let usage = null;
    ctx.watch("/v1/allocation/" + id, (a, err) => {
      if (err) return Y.fill(head, h("h1", null, "Allocation " + fmt.short(id)), errorBox(err.status === 404 ? new Error("Allocation " + id + " not found") : err));
      const crumb = ctx.el.querySelector(".job-crumb");
      Y.fill(crumb, Y.link(jobHref(a.JobID), a.JobID), " / ");
      Y.fill(head,
        h("h1", null, "Allocation ", h("span.mono", { title: a.ID }, fmt.short(a.ID)), Y.badge(a.ClientStatus, a.ClientStatus + " alloc-status"),
          h("span.grow"),
          a.ClientStatus === "running" ? Y.confirmButton("Restart", "Yes, restart tasks", async () => {
            try { await Y.api("POST", "/v1/client/allocation/" + a.ID + "/restart", { TaskName: "", AllTasks: true }); } catch (e) { head.appendChild(errorBox(e)); }
          }, "") : null,
          isTerminal(a) ? null : Y.confirmButton("Stop", "Yes, stop allocation", async () => {
            try { await Y.api("POST", "/v1/allocation/" + a.ID + "/stop"); } catch (e) { head.appendChild(errorBox(e)); }
          })),
        h("p.sub", null, a.Name));
      drawInfo(a);
      drawTasks(a);
      if (!logsReady) logsReady = logViewer(ctx, logs, a);
      else logsReady.retry();
      if (!filesShown) { filesShown = true; fileBrowser(ctx, files, a.ID); }
    });
    function drawInfo(a) {
      const res = allocResources(a);
      const shared = (a.AllocatedResources && a.AllocatedResources.Shared) || {};
      const ports = shared.Ports || [];
      const nets = shared.Networks || [];
      usage = usage || h("div.muted", null, "Live resource use: waiting for the client…");
      Y.fill(info, h("div.split", null,
        h("div.panel", null, Y.kv([
          ["Job", Y.link(jobHref(a.JobID), a.JobID)],
          ["Task group", a.TaskGroup],
          ["Job version", String(a.Job ? a.Job.Version : a.JobVersion ?? "")],
          ["Client", h("a", { href: nodeHref(a.NodeID) }, a.NodeName || fmt.short(a.NodeID))],
          ["Desired", a.DesiredStatus + (a.DesiredDescription ? " (" + a.DesiredDescription + ")" : "")],
          ["Client status", a.ClientStatus + (a.ClientDescription ? " (" + a.ClientDescription + ")" : "")],
          a.DeploymentStatus ? ["Deployment health", a.DeploymentStatus.Healthy === true ? "healthy" : a.DeploymentStatus.Healthy === false ? "unhealthy" : "checking"] : null,
          ["Created", fmt.ago(a.CreateTime)],
          ["Modified", fmt.ago(a.ModifyTime)],
          a.NextAllocation ? ["Replaced by", Y.link(allocHref(a.NextAllocation), fmt.short(a.NextAllocation))] : null,
          a.PreviousAllocation ? ["Replaces", Y.link(allocHref(a.PreviousAllocation), fmt.short(a.PreviousAllocation))] : null,
        ])),
        h("div.panel", null,
          h("h3", { style: { marginTop: 0 } }, "Resources"),
          Y.kv([["CPU", fmt.mhz(res.cpu)], ["Memory", fmt.mb(res.mem)], ["Disk", fmt.mb(shared.DiskMB)]]),
          usage,
          h("h3", null, "Addresses"),
          ports.length || nets.length
            ? Y.table([
                ["Label", (p) => p.Label],
                ["Address", (p) => h("span.mono.addr", null, (p.HostIP || "") + ":" + p.Value)],
                ["To", (p) => (p.To ? String(p.To) : "-")],
              ], ports.length ? ports : nets.flatMap((n) => (n.ReservedPorts || []).concat(n.DynamicPorts || []).map((p) => ({ Label: p.Label, Value: p.Value, To: p.To, HostIP: n.IP }))))
            : h("p.muted", null, "No ports.")
        )
      ));
    }
    function drawTasks(a) {
      const states = Object.entries(a.TaskStates || {});
      const planned = Object.keys((a.AllocatedResources && a.AllocatedResources.Tasks) || {});
      for (const n of planned) if (!a.TaskStates || !a.TaskStates[n]) states.push([n, null]);
      Y.fill(tasks, section("Tasks", states.length ? states.map(([name, st]) =>
        h("div.panel", { "data-task": name },
          h("h3", { style: { marginTop: 0 } }, name, " ", Y.badge(st ? st.State : "pending"), st && st.Failed ? Y.badge("failed") : null,
            st && st.State === "running" ? h("span", { style: { marginLeft: "12px" } }, Y.confirmButton("Restart task", "Yes, restart " + name, async () => {
              try { await Y.api("POST", "/v1/client/allocation/" + a.ID + "/restart", { TaskName: name }); }
              catch (e) { tasks.prepend(errorBox(e)); }
            }, "")) : null),
          st ? Y.kv([["Started", fmt.ago(st.StartedAt)], ["Finished", fmt.ago(st.FinishedAt)], ["Restarts", String(st.Restarts || 0)], st.LastRestart ? ["Last restart", fmt.ago(st.LastRestart)] : null]) : h("p.muted", null, "Not started yet."),
          st ? h("h3", null, "Events") : null,
          st ? Y.table([
            ["Time", (e) => fmt.ago(e.Time)],
            ["Type", (e) => e.Type],
            ["Message", (e) => e.DisplayMessage || e.Message || e.DriverError || e.KillError || e.SetupError || e.DownloadError || ""],
          ], (st.Events || []).slice().reverse(), { empty: "No events" }) : null
        )) : h("p.muted", null, "No tasks.")));
    }
    // Resource use comes from the client (GET /v1/client/allocation/:id/stats, forwarded by
    // the scheduler). It has no blocking form, so it is read every 5 seconds, as a gauge.
    (async () => {
      while (!ctx.signal.aborted) {
        try {
          const s = await Y.api("GET", "/v1/client/allocation/" + id + "/stats", undefined, { signal: ctx.signal });
          const ru = (s && s.ResourceUsage) || {};
          const mem = ru.MemoryStats || {};
          const cpu = ru.CpuStats || {};
          if (usage) Y.fill(usage, h("h3", null, "Live use"), Y.kv([
            ["CPU", (cpu.TotalTicks !== undefined ? Math.round(cpu.TotalTicks) + " MHz" : "-") + (cpu.Percent !== undefined ? " (" + cpu.Percent.toFixed(1) + "% of a core)" : "")],
            ["Memory", fmt.bytes(mem.RSS || mem.Usage || 0)],
          ]));
        } catch (e) {
          if (ctx.signal.aborted) return;
          if (usage) Y.fill(usage, h("p.muted", null, "Live resource use unavailable: " + (e.message || e).toString().slice(0, 200)));
        }
        await new Promise((r) => setTimeout(r, 5000));
      }
    })();
  }

  // The allocation's files (its alloc dir, as the client serves it): a directory listing from
  // GET /v1/client/fs/ls/:alloc?path=, and a file's first 256 KiB from fs/readat.
  const FILE_PREVIEW = 256 * 1024;
  function fileBrowser(ctx, el, allocId) {
    const crumbs = h("div.crumbs.fs-path");
    const list = h("div");
    const view = h("div");
    Y.fill(el, section("Files", crumbs, list, view));
    const base = "/v1/client/fs/";
    const q = (path) => allocId + "?path=" + enc(path);
    function drawCrumbs(path, file) {
      const parts = path.split("/").filter(Boolean);
      const links = [h("a", { href: "#", "data-fs-path": "/", onclick: (e) => { e.preventDefault(); open("/"); } }, "alloc dir")];
      parts.forEach((part, i) => {
        const to = "/" + parts.slice(0, i + 1).join("/");
        const last = i === parts.length - 1;
        links.push(" / ", last && file ? h("strong", null, part)
          : h("a", { href: "#", "data-fs-path": to, onclick: (e) => { e.preventDefault(); open(to); } }, part));
      });
      Y.fill(crumbs, links);
    }
    async function open(path) {
      drawCrumbs(path, false);
      Y.fill(view);
      let entries;
      try {
        entries = await Y.api("GET", base + "ls/" + q(path), undefined, { signal: ctx.signal });
      } catch (e) {
        if (!ctx.signal.aborted) Y.fill(list, errorBox(e));
        return;
      }
      entries.sort((a, b) => (b.IsDir - a.IsDir) || a.Name.localeCompare(b.Name));
      const join = (name) => (path === "/" ? "" : path) + "/" + name;
      Y.fill(list, Y.table([
        ["Name", (f) => h("a", { href: "#", "data-fs-entry": f.Name, onclick: (e) => { e.preventDefault(); (f.IsDir ? open : show)(join(f.Name)); } }, f.Name + (f.IsDir ? "/" : ""))],
        ["Size", (f) => (f.IsDir ? "" : fmt.bytes(f.Size))],
        ["Mode", (f) => h("span.mono", null, f.FileMode || ""), { cls: "hide-narrow" }],
        ["Modified", (f) => fmt.ago(f.ModTime)],
      ], entries, { empty: "Empty directory" }));
    }
    async function show(path) {
      drawCrumbs(path, true);
      Y.fill(list);
      let text;
      try {
        text = await Y.api("GET", base + "readat/" + q(path) + "&offset=0&limit=" + FILE_PREVIEW, undefined, { signal: ctx.signal, text: true });
      } catch (e) {
        if (!ctx.signal.aborted) Y.fill(view, errorBox(e));
        return;
      }
      const binary = /[\x00-\x08\x0e-\x1f]/.test(text.slice(0, 4096));
      Y.fill(view, binary ? h("p.muted", null, "Binary file: not shown.")
        : h("pre.code.fs-file", null, text), text.length >= FILE_PREVIEW ? h("p.muted", null, "The first 256 KiB are shown.") : null);
    }
    open("/");
  }

  // The log viewer streams GET /v1/client/fs/logs/:alloc?follow=true&plain=true through the
  // scheduler; the response stays open and grows as the task writes.
  function logViewer(ctx, el, alloc) {
    const taskNames = Object.keys((alloc.AllocatedResources && alloc.AllocatedResources.Tasks) || alloc.TaskStates || {});
    let failed = false;
    // A viewer whose stream could not open (the task had not started yet, say) tries again
    // when the allocation changes.
    const viewer = { retry: () => { if (failed) restart(); } };
    if (!taskNames.length) return viewer;
    let task = taskNames[0];
    let type = "stdout";
    let stream = null;
    const pre = h("pre.log", { "aria-label": "task log", "data-log": "" });
    const status = h("span.muted");
    const follow = h("input", { type: "checkbox", checked: true, id: "log-follow" });
    const taskSel = h("select", { "aria-label": "task" }, taskNames.map((n) => h("option", { value: n }, n)));
    const typeBtns = ["stdout", "stderr"].map((t) => h("button", { type: "button", "data-stream": t, onclick: () => { type = t; restart(); } }, t));
    taskSel.addEventListener("change", () => { task = taskSel.value; restart(); });
    follow.addEventListener("change", () => (follow.checked ? restart() : stop("paused")));
    Y.append(el, [section("Logs",
      h("div.toolbar", null, taskNames.length > 1 ? taskSel : h("strong", null, task), typeBtns,
        h("label", null, follow, " follow"), h("span.grow"), status),
      pre)]);
    function stop(why) {
      if (stream) stream.abort();
      stream = null;
      status.textContent = why || "";
    }
    async function restart() {
      stop();
      for (const b of typeBtns) b.classList.toggle("primary", b.dataset.stream === type);
      pre.classList.toggle("stderr", type === "stderr");
      pre.textContent = "";
      const ctrl = new AbortController();
      stream = ctrl;
      ctx.signal.addEventListener("abort", () => ctrl.abort(), { once: true });
      const url = "/v1/client/fs/logs/" + alloc.ID + "?task=" + enc(task) + "&type=" + type + "&follow=" + (follow.checked ? "true" : "false") + "&origin=end&offset=65536&plain=true";
      status.textContent = "connecting…";
      try {
        const resp = await fetch(url, { signal: ctrl.signal });
        if (!resp.ok) {
          status.textContent = "";
          pre.textContent = "Logs unavailable: " + (await resp.text()).trim();
          failed = true;
          return;
        }
        failed = false;
        status.textContent = follow.checked ? "following" : "";
        const reader = resp.body.getReader();
        const dec = new TextDecoder();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
          pre.appendChild(document.createTextNode(dec.decode(value, { stream: true })));
          if (atBottom) pre.scrollTop = pre.scrollHeight;
        }
        if (stream === ctrl) status.textContent = "end of log";
      } catch (e) {
        if (!ctrl.signal.aborted) { status.textContent = "log stream closed: " + e.message; failed = true; }
      }
    }
    restart();
    return viewer;
  }

  // --- clients -------------------------------------------------------------------------
  // --- evaluations, across jobs ---------------------------------------------------------
  function evaluationsPage(ctx) {
    ctx.title("Evaluations");
    const list = h("div");
    let evals = null;
    let filter = ctx.query.get("filter") || "";
    const draw = () => {
      if (!evals) return;
      const rows = evals
        .filter((e) => Y.matches(filter, e.ID, e.JobID, e.TriggeredBy, e.Status))
        .sort((a, b) => (b.CreateIndex || 0) - (a.CreateIndex || 0));
      Y.fill(list, evalTable(rows, { showJob: true, empty: evals.length ? "No evaluation matches the filter" : "No evaluations" }));
    };
    Y.append(ctx.el, [
      h("h1", null, "Evaluations"),
      h("p.sub", null, "Every evaluation the scheduler keeps (finished ones are garbage-collected after an hour)."),
      h("div.toolbar", null, Y.filterBox(ctx, "Filter by id, job, trigger or status", (v) => { filter = v; draw(); })),
      list,
    ]);
    ctx.watch("/v1/evaluations", (data, err) => {
      if (err) return Y.fill(list, errorBox(err));
      evals = data;
      draw();
    });
  }

  function clientsPage(ctx) {
    ctx.title("Clients");
    const list = h("div");
    let nodes = null;
    let filter = ctx.query.get("filter") || "";
    const draw = () => {
      if (!nodes) return;
      const rows = nodes.filter((n) => Y.matches(filter, n.ID, n.Name, n.Address, n.Datacenter, n.NodeClass, n.Status));
      Y.fill(list, Y.table([
        ["Name", (n) => h("a", { href: nodeHref(n.ID), "data-node": n.ID }, n.Name)],
        ["ID", (n) => h("span.mono", { title: n.ID }, fmt.short(n.ID)), { cls: "hide-narrow" }],
        ["Status", (n) => Y.badge(n.Status)],
        ["Eligibility", (n) => (n.SchedulingEligibility === "eligible" ? "eligible" : Y.badge("ineligible", "warn"))],
        ["Drain", (n) => (n.Drain ? Y.badge("draining", "warn") : "no"), { cls: "hide-narrow" }],
        ["Address", (n) => n.Address, { cls: "hide-narrow" }],
        ["Datacenter", (n) => n.Datacenter],
        ["Class", (n) => n.NodeClass || h("span.muted", null, "none"), { cls: "hide-narrow" }],
        ["Drivers", (n) => Object.entries(n.Drivers || {}).filter(([, d]) => d.Detected && d.Healthy).map(([k]) => h("span.tag", null, k)), { cls: "hide-narrow" }],
        ["Version", (n) => n.Version, { cls: "hide-narrow" }],
      ], rows, { empty: nodes.length ? "No client matches the filter" : "No clients have registered" }));
    };
    Y.append(ctx.el, [h("h1", null, "Clients"), h("div.toolbar", null, Y.filterBox(ctx, "Filter clients", (v) => { filter = v; draw(); })), list]);
    ctx.watch("/v1/nodes", (data, err) => {
      if (err) return Y.fill(list, errorBox(err));
      nodes = data;
      draw();
    });
  }

  function clientPage(ctx, id) {
    ctx.title("Client " + fmt.short(id));
    const head = h("div");
    const info = h("div");
    const allocs = h("div");
    Y.append(ctx.el, [h("div.crumbs", null, Y.link("/ui/clients", "Clients"), " / ", fmt.short(id)), head, info, section("Allocations", allocs)]);
    let node = null;
    let nodeAllocs = [];
    ctx.watch("/v1/node/" + id, (n, err) => {
      if (err) return Y.fill(head, h("h1", null, "Client " + fmt.short(id)), errorBox(err.status === 404 ? new Error("Client " + id + " not found") : err));
      node = n;
      draw();
    });
    ctx.watch("/v1/node/" + id + "/allocations", (data, err) => {
      if (err) return Y.fill(allocs, errorBox(err));
      nodeAllocs = data;
      Y.fill(allocs, allocTable(data, { showJob: true, showNode: false }));
      if (node) draw();
    });
    async function post(path, body) {
      try { await Y.api("POST", "/v1/node/" + node.ID + "/" + path, body); } catch (e) { head.appendChild(errorBox(e)); }
    }
    function draw() {
      const n = node;
      const eligible = n.SchedulingEligibility === "eligible";
      const draining = !!n.DrainStrategy;
      Y.fill(head,
        h("h1", null, n.Name, Y.badge(n.Status), eligible ? null : Y.badge("ineligible", "warn"), draining ? Y.badge("draining", "warn") : null,
          h("span.grow"),
          h("button", { type: "button", onclick: () => post("eligibility", { NodeID: n.ID, Eligibility: eligible ? "ineligible" : "eligible" }) }, eligible ? "Mark ineligible" : "Mark eligible"),
          draining
            ? h("button", { type: "button", onclick: () => post("drain", { NodeID: n.ID, DrainSpec: null, MarkEligible: true }) }, "Stop drain")
            : Y.confirmButton("Drain", "Yes, drain client", () => post("drain", { NodeID: n.ID, DrainSpec: { Deadline: 3600e9, IgnoreSystemJobs: false } }))),
        h("p.sub.mono", null, n.ID));
      const nr = n.NodeResources || {};
      const rr = n.ReservedResources || {};
      const cpuTotal = ((nr.Cpu && nr.Cpu.CpuShares) || 0) - ((rr.Cpu && rr.Cpu.CpuShares) || 0);
      const memTotal = ((nr.Memory && nr.Memory.MemoryMB) || 0) - ((rr.Memory && rr.Memory.MemoryMB) || 0);
      let cpu = 0, mem = 0;
      for (const a of nodeAllocs.filter((a) => !isTerminal(a))) { const r = allocResources(a); cpu += r.cpu; mem += r.mem; }
      const attrs = Object.entries(n.Attributes || {}).sort();
      Y.fill(info,
        h("div.split", null,
          h("div.panel", null, Y.kv([
            ["Address", n.HTTPAddr],
            ["Datacenter", n.Datacenter],
            ["Node pool", n.NodePool || "default"],
            ["Class", n.NodeClass || "none"],
            ["Status", n.Status + (n.StatusDescription ? " (" + n.StatusDescription + ")" : "")],
            ["Drivers", Object.entries(n.Drivers || {}).map(([k, d]) => h("span.tag", { title: d.HealthDescription || "" }, k + (d.Healthy ? "" : " (unhealthy)")))],
            ["Registered", fmt.ago(n.StatusUpdatedAt)],
          ])),
          h("div.panel", null, h("h3", { style: { marginTop: 0 } }, "Resources"),
            meter("CPU", cpu, cpuTotal, fmt.mhz), meter("Memory", mem, memTotal, fmt.mb),
            Y.kv([["Allocations running", String(nodeAllocs.filter((a) => !isTerminal(a)).length)]]))
        ),
        section("Events", Y.table([
          ["Time", (e) => fmt.ago(e.Timestamp)],
          ["Subsystem", (e) => e.Subsystem],
          ["Message", (e) => e.Message],
        ], (n.Events || []).slice().reverse(), { empty: "No events" })),
        section("Attributes", Y.table([["Name", ([k]) => h("span.mono", null, k)], ["Value", ([, v]) => String(v)]], attrs, { empty: "No attributes" })),
        Object.keys(n.Meta || {}).length ? section("Meta", Y.table([["Name", ([k]) => k], ["Value", ([, v]) => String(v)]], Object.entries(n.Meta))) : null
      );
    }
  }

  function meter(label, used, total, f, segments) {
    const track = h("div.track");
    if (segments) {
      for (const s of segments) track.appendChild(s);
    } else if (total) {
      track.appendChild(h("a", { style: { width: Math.min(100, (100 * used) / total) + "%", background: "var(--ok)" } }));
    }
    return h("div.meter", null, h("div.lbl", null, h("span", null, label), h("span", null, f(used) + " / " + f(total) + " (" + fmt.pct(used, total) + ")")), track);
  }

  // --- topology ------------------------------------------------------------------------
  function colorFor(text) {
    let x = 0;
    for (const c of text) x = (x * 31 + c.charCodeAt(0)) >>> 0;
    return "hsl(" + (x % 360) + ", 55%, 52%)";
  }
  function topologyPage(ctx) {
    ctx.title("Topology");
    const stats = h("div.stats");
    const grid = h("div");
    Y.append(ctx.el, [h("h1", null, "Topology"), h("p.sub", null, "Every client as its CPU and memory, with the allocations placed on it."), stats, grid]);
    let nodes = null;
    let allocs = null;
    ctx.watch("/v1/nodes?resources=true", (data, err) => { if (err) return Y.fill(grid, errorBox(err)); nodes = data; draw(); });
    ctx.watch("/v1/allocations?resources=true&namespace=*", (data, err) => { if (err) return Y.fill(grid, errorBox(err)); allocs = data; draw(); });
    function draw() {
      if (!nodes || !allocs) return;
      const live = allocs.filter((a) => !isTerminal(a));
      const byNode = new Map();
      for (const a of live) { if (!byNode.has(a.NodeID)) byNode.set(a.NodeID, []); byNode.get(a.NodeID).push(a); }
      let cpuAll = 0, memAll = 0, cpuUsed = 0, memUsed = 0;
      const dcs = new Map();
      for (const n of nodes) {
        if (!dcs.has(n.Datacenter)) dcs.set(n.Datacenter, []);
        dcs.get(n.Datacenter).push(n);
      }
      const boxes = [];
      for (const [dc, list] of [...dcs.entries()].sort()) {
        boxes.push(h("h2", null, "Datacenter " + dc));
        const topo = h("div.topo");
        for (const n of list.sort((a, b) => a.Name.localeCompare(b.Name))) {
          const nr = n.NodeResources || {};
          const rr = n.ReservedResources || {};
          const cpuT = ((nr.Cpu && nr.Cpu.CpuShares) || 0) - ((rr.Cpu && rr.Cpu.CpuShares) || 0);
          const memT = ((nr.Memory && nr.Memory.MemoryMB) || 0) - ((rr.Memory && rr.Memory.MemoryMB) || 0);
          const mine = byNode.get(n.ID) || [];
          let cpu = 0, mem = 0;
          const cpuSegs = [], memSegs = [];
          for (const a of mine) {
            const r = allocResources(a);
            cpu += r.cpu; mem += r.mem;
            const title = a.JobID + " / " + a.TaskGroup + " (" + fmt.short(a.ID) + ", " + a.ClientStatus + "): ";
            const seg = (v, t, txt) => h("a", { href: allocHref(a.ID), "data-alloc": a.ID, class: a.ClientStatus, title: title + txt, style: { width: t ? (100 * v) / t + "%" : "0", background: colorFor(a.JobID) } });
            cpuSegs.push(seg(r.cpu, cpuT, fmt.mhz(r.cpu)));
            memSegs.push(seg(r.mem, memT, fmt.mb(r.mem)));
          }
          cpuAll += cpuT; memAll += memT; cpuUsed += cpu; memUsed += mem;
          topo.appendChild(h("div.node-box", { "data-node": n.ID },
            h("h3", null, Y.link(nodeHref(n.ID), n.Name), Y.badge(n.Status), n.SchedulingEligibility !== "eligible" ? Y.badge("ineligible", "warn") : null),
            h("div.muted", null, mine.length + " allocation" + (mine.length === 1 ? "" : "s") + " · " + (n.NodeClass || "no class") + " · " + n.Address),
            meter("CPU", cpu, cpuT, fmt.mhz, cpuSegs),
            meter("Memory", mem, memT, fmt.mb, memSegs),
            mine.length ? h("div.legend", null, [...new Set(mine.map((a) => a.JobID))].map((j) => h("span", null, h("i", { style: { background: colorFor(j) } }), j))) : null
          ));
        }
        boxes.push(topo);
      }
      Y.fill(stats,
        [["Clients", String(nodes.length)], ["Allocations", String(live.length)],
          ["CPU reserved", fmt.pct(cpuUsed, cpuAll) + " of " + fmt.mhz(cpuAll)], ["Memory reserved", fmt.pct(memUsed, memAll) + " of " + fmt.mb(memAll)]]
          .map(([l, n]) => h("div.stat", null, h("div.n", null, n), h("div.l", null, l))));
      Y.fill(grid, nodes.length ? boxes : h("p.muted", null, "No clients have registered."));
    }
  }

  // --- run a job -----------------------------------------------------------------------
  function runPage(ctx) {
    ctx.title("Run job");
    const area = h("textarea", { spellcheck: "false", "aria-label": "job file", placeholder: 'job "example" {\n  group "web" {\n    task "server" {\n      driver = "raw_exec"\n      config { command = "/bin/sleep" args = ["600"] }\n    }\n  }\n}' });
    const file = h("input", { type: "file", accept: ".nomad,.hcl,.json,.nomad.hcl", "aria-label": "upload a job file" });
    const out = h("div");
    const planBtn = h("button.primary", { type: "button" }, "Plan");
    const runBtn = h("button", { type: "button", disabled: true }, "Run");
    let planned = null;
    file.addEventListener("change", async () => {
      if (file.files && file.files[0]) { area.value = await file.files[0].text(); changed(); }
    });
    const changed = () => { planned = null; runBtn.disabled = true; runBtn.classList.remove("primary"); };
    area.addEventListener("input", changed);
    async function parse() {
      const text = area.value.trim();
      if (!text) throw new Error("Paste a job file or upload one first.");
      if (text.startsWith("{")) {
        let obj;
        try { obj = JSON.parse(text); } catch (e) { throw new Error("JSON job: " + e.message); }
        return { job: obj.Job || obj, submission: { Source: area.value, Format: "json" } };
      }
      const job = await Y.api("POST", "/v1/jobs/parse", { JobHCL: area.value, Canonicalize: true });
      return { job, submission: { Source: area.value, Format: "hcl2", VariableFlags: {}, Variables: "" } };
    }
    planBtn.addEventListener("click", async () => {
      Y.fill(out, h("p.muted", null, "Planning…"));
      try {
        const { job, submission } = await parse();
        const plan = await Y.api("POST", "/v1/job/" + enc(job.ID) + "/plan", { Job: job, Diff: true });
        planned = { job, submission };
        runBtn.disabled = false;
        runBtn.classList.add("primary");
        const updates = Object.entries((plan.Annotations && plan.Annotations.DesiredTGUpdates) || {});
        const failed = Object.entries(plan.FailedTGAllocs || {});
        Y.fill(out, section("Plan for job " + job.ID,
          h("div.panel.plan", null,
            renderDiff(plan.Diff),
            updates.length ? h("h3", null, "Scheduler dry run") : null,
            updates.map(([tg, u]) => h("div", null, h("strong", null, tg + ": "),
              Object.entries(u).filter(([, n]) => n).map(([k, n]) => n + " " + k.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase()).join(", ") || "no change")),
            failed.length
              ? failed.map(([tg, m]) => h("div.err", null, "Task group " + tg + " cannot be placed: " +
                  Object.entries(Object.assign({}, m.DimensionExhausted || {}, m.ConstraintFiltered || {})).map(([k, n]) => k + " (" + n + " nodes)").join(", ") || "no node fits"))
              : h("div.ok-box", { style: { marginTop: "10px" } }, "All task groups can be placed."),
            plan.Warnings ? h("div.muted", null, "Warnings: " + plan.Warnings) : null)));
      } catch (e) {
        Y.fill(out, errorBox(e));
      }
    });
    runBtn.addEventListener("click", async () => {
      if (!planned) return;
      runBtn.disabled = true;
      try {
        await Y.api("PUT", "/v1/jobs", { Job: planned.job, Submission: planned.submission });
        Y.navigate(jobHref(planned.job.ID));
      } catch (e) {
        runBtn.disabled = false;
        Y.fill(out, errorBox(e));
      }
    });
    Y.append(ctx.el, [
      h("div.crumbs", null, Y.link("/ui/jobs", "Jobs"), " / run"),
      h("h1", null, "Run a job"),
      h("p.sub", null, "Paste or upload a job file (HCL2 or JSON), plan it, then run it."),
      h("div.panel", null, area, h("div.toolbar", { style: { marginTop: "10px", marginBottom: 0 } }, file, h("span.grow"), planBtn, runBtn)),
      out,
    ]);
  }

  // --- ACL tokens (Nomad's /ui/settings/tokens) ----------------------------------------
  function tokensPage(ctx) {
    ctx.title("ACL Tokens");
    const input = h("input", { type: "password", id: "token-secret", placeholder: "Secret ID", autocomplete: "off", style: { width: "100%" } });
    const info = h("div", { id: "token-info" });
    async function show() {
      if (!getToken()) {
        return Y.fill(info, h("p.sub", null, "No token is set: requests run with the anonymous policy."));
      }
      try {
        const self = await Y.api("GET", "/v1/acl/token/self");
        Y.fill(info, h("div.panel", null, Y.kv([
          ["Name", self.Name || "<none>"],
          ["Type", self.Type],
          ["Accessor ID", self.AccessorID],
          ["Policies", (self.Policies || []).join(", ") || "n/a"],
          ["Expires", self.ExpirationTime || "never"],
        ])));
      } catch (e) {
        if (e.status === 400) Y.fill(info, h("p.sub", null, "ACLs are off on this cluster: no token is needed."));
        else Y.fill(info, h("div.error-box", null, "This token does not work: " + e.message));
      }
    }
    const save = h("button", { type: "button", id: "token-save", onclick: () => { setToken(input.value.trim()); input.value = ""; show(); } }, "Set token");
    const clear = h("button", { type: "button", id: "token-clear", onclick: () => { setToken(""); show(); } }, "Clear token");
    Y.append(ctx.el, [
      h("h1", null, "ACL Tokens"),
      h("p.sub", null, "The secret is kept in this browser's local storage and sent as X-Nomad-Token with every request."),
      h("div.panel", null, input, h("div.toolbar", { style: { marginTop: "10px", marginBottom: 0 } }, save, clear)),
      info,
    ]);
    show();
  }

  Y.start({
    titleSuffix: "yurt scheduler",
    navFor: (p) => (p.startsWith("/ui/allocations") ? "/ui/jobs" : p),
    routes: [
      [/^\/ui\/jobs\/?$/, jobsPage],
      [/^\/ui\/jobs\/run\/?$/, runPage],
      [/^\/ui\/jobs\/([^/]+)(?:\/(definition|versions|deployments|allocations|evaluations))?\/?$/, jobPage],
      [/^\/ui\/jobs\/([^/]+)\/([^/]+)\/?$/, groupPage],
      [/^\/ui\/allocations\/([0-9a-f-]+)\/?$/, allocPage],
      [/^\/ui\/evaluations\/?$/, evaluationsPage],
      [/^\/ui\/clients\/?$/, clientsPage],
      [/^\/ui\/clients\/([0-9a-f-]+)\/?$/, clientPage],
      [/^\/ui\/topology\/?$/, topologyPage],
      [/^\/ui\/settings\/tokens\/?$/, tokensPage],
    ],
  });
})();
