/* The catalog's web UI (Consul's /ui/<dc>/... pages), rendered from Consul's public HTTP API. */
(function () {
  "use strict";
  const Y = window.yurt;
  const { h, fmt } = Y;
  const enc = encodeURIComponent;
  const encPath = (p) => p.split("/").map(enc).join("/");
  const STATUS_ORDER = { critical: 0, warning: 1, passing: 2, maintenance: 0 };

  // --- ACL token (Consul's UI "Log in"): kept in this browser, sent on every API call ----
  const TOKEN_KEY = "consul:token";
  function savedToken() {
    try { return (JSON.parse(localStorage.getItem(TOKEN_KEY) || "null") || {}).SecretID || ""; }
    catch (e) { return ""; }
  }
  const plainFetch = window.fetch.bind(window);
  window.fetch = function (input, init) {
    const url = typeof input === "string" ? input : input.url;
    const secret = savedToken();
    if (secret && url.startsWith("/v1/")) {
      init = Object.assign({}, init);
      const headers = new Headers(init.headers || {});
      if (!headers.has("X-Consul-Token")) headers.set("X-Consul-Token", secret);
      init.headers = headers;
    }
    return plainFetch(input, init);
  };
  const dcOfPage = () => (location.pathname.split("/")[2] || "dc1");
  const errorBox = (err) => h("div.error-box", { "data-status": err && err.status ? String(err.status) : "" },
    err && err.message ? err.message : String(err),
    err && err.status === 403
      ? h("div", { "data-acl-hint": "" }, "The ACL token of this browser may not do this: ",
        h("a", { href: "/ui/" + dcOfPage() + "/acls/tokens" }, savedToken() ? "use another token" : "log in with a token"), ".")
      : null);
  const section = (title, ...kids) => h("section", null, title ? h("h2", null, title) : null, ...kids);

  function counts(checks) {
    const c = { passing: 0, warning: 0, critical: 0 };
    for (const ch of checks) c[ch.Status in c ? ch.Status : "critical"] += 1;
    return c;
  }
  function worst(checks) {
    if (!checks.length) return "passing";
    return checks.map((c) => c.Status).sort((a, b) => (STATUS_ORDER[a] ?? 0) - (STATUS_ORDER[b] ?? 0))[0];
  }
  function healthCell(checks) {
    const c = counts(checks);
    if (!checks.length) return h("span.muted", null, "no checks");
    return h("span.health", { "data-health": worst(checks), title: c.passing + " passing, " + c.warning + " warning, " + c.critical + " critical" },
      c.passing ? h("span.p", { "data-count": "passing" }, "\u2714 " + c.passing) : null,
      c.warning ? h("span.w", { "data-count": "warning" }, "\u26A0 " + c.warning) : null,
      c.critical ? h("span.c", { "data-count": "critical" }, "\u2716 " + c.critical) : null);
  }
  function checksTable(checks, { showService = false } = {}) {
    const cols = [
      ["Status", (c) => h("span", { "data-check-status": c.Status }, h("span.dot", { class: c.Status }), c.Status)],
      ["Check", (c) => [h("strong", null, c.Name), h("div.muted.mono", null, c.CheckID)]],
    ];
    if (showService) cols.push(["Service", (c) => c.ServiceName || h("span.muted", null, "node")]);
    cols.push(
      ["Type", (c) => c.Type || (c.ServiceID ? "service" : "node"), { cls: "hide-narrow" }],
      ["Output", (c) => [c.Notes ? h("div.muted", null, c.Notes) : null, c.Output ? h("pre.mono", { style: { margin: 0, whiteSpace: "pre-wrap", maxHeight: "8em", overflow: "auto" } }, c.Output) : h("span.muted", null, "no output")]],
    );
    return Y.table(cols, checks.slice().sort((a, b) => (STATUS_ORDER[a.Status] ?? 0) - (STATUS_ORDER[b.Status] ?? 0) || a.Name.localeCompare(b.Name)), { empty: "No health checks", rowAttrs: (c) => ({ "data-check": c.CheckID }) });
  }

  // --- services ------------------------------------------------------------------------
  function servicesPage(ctx, dc) {
    ctx.title("Services");
    const list = h("div");
    let services = null; // name -> tags
    let checks = [];
    let instances = {}; // name -> [{Node, ServiceID}]
    let filter = ctx.query.get("filter") || "";
    const draw = () => {
      if (!services) return;
      const nodeChecks = {};
      for (const c of checks) if (!c.ServiceID) (nodeChecks[c.Node] = nodeChecks[c.Node] || []).push(c);
      const rows = Object.keys(services).sort().map((name) => {
        const inst = instances[name] || [];
        const nodes = new Set(inst.map((i) => i.Node));
        const mine = checks.filter((c) => c.ServiceName === name && c.ServiceID).concat([...nodes].flatMap((n) => nodeChecks[n] || []));
        return { name, tags: services[name] || [], inst, checks: mine };
      }).filter((r) => Y.matches(filter, r.name, ...r.tags));
      Y.fill(list, Y.table([
        ["Service", (r) => h("a", { href: "/ui/" + dc + "/services/" + enc(r.name) + "/instances", "data-service": r.name }, r.name)],
        ["Health checks", (r) => healthCell(r.checks)],
        ["Instances", (r) => String(r.inst.length)],
        ["Tags", (r) => Y.tags(r.tags)],
      ], rows, { empty: Object.keys(services).length ? "No service matches the filter" : "No services registered", rowAttrs: (r) => ({ "data-service-row": r.name }) }));
    };
    Y.append(ctx.el, [h("h1", null, "Services"), h("div.toolbar", null, Y.filterBox(ctx, "Filter services by name or tag", (v) => { filter = v; draw(); })), list]);
    let fetching = 0;
    ctx.watch("/v1/catalog/services", async (data, err) => {
      if (err) return Y.fill(list, errorBox(err));
      services = data;
      // The instances behind each name: read once per change of the catalog, not polled.
      const token = ++fetching;
      const pairs = await Promise.all(Object.keys(data).map(async (name) => {
        try { return [name, await Y.api("GET", "/v1/catalog/service/" + enc(name), undefined, { signal: ctx.signal })]; }
        catch (e) { return [name, []]; }
      }));
      if (token !== fetching || ctx.signal.aborted) return;
      instances = Object.fromEntries(pairs);
      draw();
    });
    ctx.watch("/v1/health/state/any", (data, err) => {
      if (err) return Y.fill(list, errorBox(err));
      checks = data;
      draw();
    });
  }

  function servicePage(ctx, dc, name) {
    ctx.title("Service " + name);
    const head = h("div");
    const list = h("div");
    Y.append(ctx.el, [h("div.crumbs", null, Y.link("/ui/" + dc + "/services", "Services"), " / ", name), head,
      h("nav.tabs", null, h("a.active", { href: location.pathname }, "Instances")), list]);
    ctx.watch("/v1/health/service/" + enc(name), (data, err) => {
      if (err) return Y.fill(list, errorBox(err));
      const all = data.flatMap((e) => e.Checks || []);
      const tags = [...new Set(data.flatMap((e) => e.Service.Tags || []))];
      Y.fill(head, h("h1", null, name, healthCell(all)), tags.length ? h("p.sub", null, Y.tags(tags)) : h("p.sub", null, data.length + " instance" + (data.length === 1 ? "" : "s")));
      if (!data.length) return Y.fill(list, h("p.muted", null, "This service has no instances (any more)."));
      Y.fill(list, data.map((e) => {
        const s = e.Service;
        const addr = (s.Address || e.Node.Address) + ":" + s.Port;
        const checks = e.Checks || [];
        return h("div.panel", { "data-instance": s.ID },
          h("h3", { style: { marginTop: 0 } }, s.ID, " ", h("span", { "data-instance-health": worst(checks) }, healthCell(checks))),
          Y.kv([
            ["Node", h("a", { href: "/ui/" + dc + "/nodes/" + enc(e.Node.Node) }, e.Node.Node)],
            ["Address", h("span.mono.addr", null, addr)],
            ["Tags", (s.Tags || []).length ? Y.tags(s.Tags) : h("span.muted", null, "none")],
            Object.keys(s.Meta || {}).length ? ["Meta", Object.entries(s.Meta).map(([k, v]) => h("span.tag", null, k + "=" + v))] : null,
          ]),
          h("h3", null, "Health checks"),
          checksTable(checks)
        );
      }));
    });
  }

  // --- nodes ---------------------------------------------------------------------------
  function nodesPage(ctx, dc) {
    ctx.title("Nodes");
    const list = h("div");
    let nodes = null;
    let checks = [];
    let filter = ctx.query.get("filter") || "";
    const draw = () => {
      if (!nodes) return;
      const rows = nodes.filter((n) => Y.matches(filter, n.Node, n.Address));
      Y.fill(list, Y.table([
        ["Node", (n) => h("a", { href: "/ui/" + dc + "/nodes/" + enc(n.Node), "data-node": n.Node }, n.Node)],
        ["Node checks", (n) => healthCell(checks.filter((c) => c.Node === n.Node && !c.ServiceID))],
        ["Service checks", (n) => healthCell(checks.filter((c) => c.Node === n.Node && c.ServiceID)), { cls: "hide-narrow" }],
        ["Address", (n) => h("span.mono", null, n.Address)],
        ["ID", (n) => h("span.mono.muted", null, fmt.short(n.ID)), { cls: "hide-narrow" }],
      ], rows, { empty: nodes.length ? "No node matches the filter" : "No nodes" }));
    };
    Y.append(ctx.el, [h("h1", null, "Nodes"), h("div.toolbar", null, Y.filterBox(ctx, "Filter nodes by name or address", (v) => { filter = v; draw(); })), list]);
    ctx.watch("/v1/catalog/nodes", (data, err) => { if (err) return Y.fill(list, errorBox(err)); nodes = data; draw(); });
    ctx.watch("/v1/health/state/any", (data, err) => { if (err) return Y.fill(list, errorBox(err)); checks = data; draw(); });
  }

  function nodePage(ctx, dc, node) {
    ctx.title("Node " + node);
    const head = h("div");
    const checks = h("div");
    const services = h("div");
    Y.append(ctx.el, [h("div.crumbs", null, Y.link("/ui/" + dc + "/nodes", "Nodes"), " / ", node), head, section("Health checks", checks), section("Services", services)]);
    ctx.watch("/v1/catalog/node/" + enc(node), (data, err) => {
      if (err || !data) return Y.fill(head, h("h1", null, node), errorBox(err && err.status !== 404 ? err : new Error("Node " + node + " not found")));
      const n = data.Node;
      Y.fill(head, h("h1", null, n.Node), Y.kv([
        ["Address", h("span.mono", null, n.Address)],
        ["Datacenter", n.Datacenter || dc],
        ["ID", h("span.mono", null, n.ID || "")],
        Object.keys(n.Meta || {}).length ? ["Meta", Object.entries(n.Meta).map(([k, v]) => h("span.tag", null, k + "=" + v))] : null,
        Object.keys(n.TaggedAddresses || {}).length ? ["Tagged addresses", Object.entries(n.TaggedAddresses).map(([k, v]) => h("span.tag", null, k + "=" + v))] : null,
      ]));
      const svcs = Object.values(data.Services || {}).sort((a, b) => a.Service.localeCompare(b.Service) || a.ID.localeCompare(b.ID));
      Y.fill(services, Y.table([
        ["Service", (s) => Y.link("/ui/" + dc + "/services/" + enc(s.Service) + "/instances", s.Service)],
        ["ID", (s) => h("span.mono", null, s.ID)],
        ["Address", (s) => h("span.mono", null, (s.Address || n.Address) + ":" + s.Port)],
        ["Tags", (s) => Y.tags(s.Tags)],
      ], svcs, { empty: "No services on this node" }));
    });
    ctx.watch("/v1/health/node/" + enc(node), (data, err) => {
      if (err) return Y.fill(checks, err.status === 404 ? null : errorBox(err));
      Y.fill(checks, checksTable(data || [], { showService: true }));
    });
  }

  // --- key/value -----------------------------------------------------------------------
  const kvHref = (dc, key, suffix) => "/ui/" + dc + "/kv/" + encPath(key) + (suffix || "");
  function kvCrumbs(dc, path) {
    const parts = path.split("/").filter((p) => p);
    const out = [Y.link("/ui/" + dc + "/kv/", "Key / Value")];
    let acc = "";
    parts.forEach((p, i) => {
      acc += p + "/";
      out.push(" / ", i < parts.length - 1 || path.endsWith("/") ? Y.link(kvHref(dc, acc), p) : p);
    });
    return h("div.crumbs.kv-path", null, out);
  }
  function rawBytes(b64) {
    return b64 ? Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)) : new Uint8Array();
  }
  function decode(b64) {
    return new TextDecoder().decode(rawBytes(b64));
  }
  // Values that are not UTF-8 text are shown, not edited: saving the text would corrupt them.
  function isText(b64) {
    try { new TextDecoder("utf-8", { fatal: true }).decode(rawBytes(b64)); return true; } catch (e) { return false; }
  }

  function kvListPage(ctx, dc, folder) {
    folder = folder || "";
    ctx.title("Key/Value " + (folder || "/"));
    const list = h("div");
    const msg = h("div");
    Y.append(ctx.el, [kvCrumbs(dc, folder), h("h1", null, folder || "Key / Value"),
      h("div.toolbar", null, h("span.grow"), h("a.button.primary", { href: kvHref(dc, folder, "create") }, "Create")), msg, list]);
    ctx.watch("/v1/kv/" + encPath(folder) + "?keys&separator=/", (data, err) => {
      if (err && err.status !== 404) return Y.fill(list, errorBox(err));
      const keys = (data || []).filter((k) => k !== folder).sort();
      Y.fill(list, Y.table([
        ["Name", (k) => h("a.mono", { href: k.endsWith("/") ? kvHref(dc, k) : kvHref(dc, k, "/edit"), "data-key": k }, (k.endsWith("/") ? "\uD83D\uDCC1 " : "") + k.slice(folder.length))],
        ["Kind", (k) => (k.endsWith("/") ? "folder" : "key")],
        ["", (k) => Y.confirmButton("Delete", "Yes, delete", async () => {
          try {
            await Y.api("DELETE", "/v1/kv/" + encPath(k) + (k.endsWith("/") ? "?recurse" : ""));
          } catch (e) { Y.fill(msg, errorBox(e)); }
        }), { cls: "nowrap" }],
      ], keys, { empty: folder ? "This folder is empty" : "No keys yet", rowAttrs: (k) => ({ "data-kv-row": k }) }));
    });
  }

  function kvCreatePage(ctx, dc, folder) {
    folder = folder || "";
    ctx.title("Create key");
    const name = h("input", { type: "text", placeholder: "key name, or folder/ to make a folder", "aria-label": "key name", style: { width: "100%" } });
    const value = h("textarea", { "aria-label": "value", spellcheck: "false" });
    const msg = h("div");
    const save = h("button.primary", { type: "button" }, "Save");
    save.addEventListener("click", async () => {
      const rel = name.value.trim().replace(/^\/+/, "");
      if (!rel) return Y.fill(msg, errorBox("The key needs a name."));
      const key = folder + rel;
      const isFolder = key.endsWith("/");
      try {
        // cas=0 writes only if the key does not exist yet: creating never overwrites.
        const ok = await Y.api("PUT", "/v1/kv/" + encPath(key) + "?cas=0", isFolder ? "" : value.value);
        if (ok === false) return Y.fill(msg, errorBox("The key " + key + " already exists; edit it instead."));
        Y.navigate(isFolder ? kvHref(dc, key) : kvHref(dc, folder));
      } catch (e) { Y.fill(msg, errorBox(e)); }
    });
    Y.append(ctx.el, [kvCrumbs(dc, folder), h("h1", null, "Create a key" + (folder ? " in " + folder : "")), msg,
      h("div.panel", null, h("label", null, "Key ", h("span.muted.mono", null, folder)), name, h("div", { style: { height: "10px" } }), h("label", null, "Value"), value,
        h("div.toolbar", { style: { marginTop: "10px", marginBottom: 0 } }, h("span.grow"), h("a.button", { href: kvHref(dc, folder) }, "Cancel"), save))]);
  }

  function kvEditPage(ctx, dc, key) {
    ctx.title("Key " + key);
    const folder = key.includes("/") ? key.slice(0, key.lastIndexOf("/") + 1) : "";
    const value = h("textarea", { "aria-label": "value", spellcheck: "false" });
    const msg = h("div");
    const meta = h("div.muted", { style: { marginBottom: "12px" } });
    let loaded = null; // the entry the editor started from: its ModifyIndex is the CAS index
    let latest = null;
    let dirty = false;
    value.addEventListener("input", () => { dirty = true; });
    const load = (entry) => {
      const same = !dirty && loaded && decode(entry.Value) === value.value;
      loaded = entry;
      value.value = decode(entry.Value);
      const binary = !isText(entry.Value);
      value.readOnly = binary;
      save.disabled = binary;
      if (binary) value.value = "(binary value, " + rawBytes(entry.Value).length + " bytes: not editable here)";
      dirty = false;
      if (!same) Y.fill(msg); // our own save coming back keeps its "Saved." note
      Y.fill(meta, "Modify index " + entry.ModifyIndex + " · create index " + entry.CreateIndex + (entry.Flags ? " · flags " + entry.Flags : "") + (entry.Session ? " · locked by session " + entry.Session : ""));
    };
    const stale = (what) => Y.fill(msg, h("div.error-box", { "data-stale": "" },
      what + " The key changed since you opened it (modify index " + (latest ? latest.ModifyIndex : "?") + " is newer than " + loaded.ModifyIndex + "). ",
      h("button", { type: "button", onclick: () => latest && load(latest) }, "Load the latest value")));
    const save = h("button.primary", { type: "button" }, "Save");
    save.addEventListener("click", async () => {
      if (!loaded) return;
      try {
        const ok = await Y.api("PUT", "/v1/kv/" + encPath(key) + "?cas=" + loaded.ModifyIndex, value.value);
        if (ok === false) return stale("Not saved.");
        dirty = false;
        Y.fill(msg, h("div.ok-box", null, "Saved."));
      } catch (e) { Y.fill(msg, errorBox(e)); }
    });
    const del = Y.confirmButton("Delete", "Yes, delete", async () => {
      if (!loaded) return;
      try {
        const ok = await Y.api("DELETE", "/v1/kv/" + encPath(key) + "?cas=" + loaded.ModifyIndex);
        if (ok === false) return stale("Not deleted.");
        Y.navigate(kvHref(dc, folder));
      } catch (e) { Y.fill(msg, errorBox(e)); }
    });
    Y.append(ctx.el, [kvCrumbs(dc, key), h("h1.kv-path", null, key), meta, msg,
      h("div.panel", null, value, h("div.toolbar", { style: { marginTop: "10px", marginBottom: 0 } }, del, h("span.grow"), save))]);
    ctx.watch("/v1/kv/" + encPath(key), (data, err) => {
      if (err) {
        if (err.status === 404) {
          latest = null;
          return Y.fill(msg, h("div.error-box", { "data-gone": "" }, "This key does not exist (any more)."));
        }
        return Y.fill(msg, errorBox(err));
      }
      latest = data[0];
      // Someone else's change replaces the text only if this editor has not been typed in.
      if (!loaded || (!dirty && latest.ModifyIndex !== loaded.ModifyIndex)) load(latest);
      else if (latest.ModifyIndex !== loaded.ModifyIndex) {
        Y.fill(msg, h("div.error-box", { "data-changed": "" }, "Changed on the server (modify index " + latest.ModifyIndex + ") while you were editing. ",
          h("button", { type: "button", onclick: () => load(latest) }, "Load the latest value")));
      }
    });
  }

  // --- tokens: log in and out ---------------------------------------------------------
  function tokensPage(ctx, dc) {
    ctx.title("Tokens");
    const who = h("div");
    const input = h("input", { type: "password", name: "secret", placeholder: "SecretID", autocomplete: "off", style: { minWidth: "24em" } });
    const msg = h("div");
    const show = async () => {
      const secret = savedToken();
      if (!secret) return Y.fill(who, h("p.muted", { "data-logged-out": "" }, "No token: requests use the catalog's default or anonymous token."));
      try {
        const t = await Y.api("GET", "/v1/acl/token/self");
        Y.fill(who, h("div.panel", { "data-logged-in": t.AccessorID },
          h("div", null, h("strong", null, "AccessorID: "), h("span.mono", null, t.AccessorID)),
          h("div", null, h("strong", null, "Description: "), t.Description || h("span.muted", null, "none")),
          h("div", null, h("strong", null, "Policies: "), (t.Policies || []).map((p) => p.Name).join(", ") || h("span.muted", null, "none")),
          h("button", { type: "button", onclick: () => { localStorage.removeItem(TOKEN_KEY); Y.fill(msg); show(); } }, "Log out")));
      } catch (err) {
        Y.fill(who, errorBox(err));
      }
    };
    const login = async (ev) => {
      ev.preventDefault();
      const secret = input.value.trim();
      if (!secret) return;
      try {
        const resp = await fetch("/v1/acl/token/self", { headers: { "X-Consul-Token": secret } });
        const text = await resp.text();
        if (resp.status === 401) return Y.fill(msg, h("div.error-box", null, "ACLs are not enabled in this catalog: no token is needed."));
        if (!resp.ok) return Y.fill(msg, h("div.error-box", { "data-login-error": "" }, text.trim() || resp.statusText));
        const t = JSON.parse(text);
        localStorage.setItem(TOKEN_KEY, JSON.stringify({ AccessorID: t.AccessorID, SecretID: secret }));
        input.value = "";
        Y.fill(msg);
        show();
      } catch (err) {
        Y.fill(msg, errorBox(err));
      }
    };
    Y.append(ctx.el, [h("h1", null, "Tokens"),
      h("p.muted", null, "The token is kept in this browser (localStorage) and sent as X-Consul-Token with every request of these pages."),
      h("form.toolbar", { onsubmit: login }, input, h("button", { type: "submit" }, "Log in")), msg, who]);
    show();
  }

  function redirect(ctx, to) { Y.navigate(to, { replace: true }); }

  Y.start({
    titleSuffix: "yurt catalog",
    routes: [
      [/^\/ui\/([^/]+)\/services\/?$/, servicesPage],
      [/^\/ui\/([^/]+)\/services\/([^/]+)\/?$/, (ctx, dc, name) => redirect(ctx, "/ui/" + dc + "/services/" + enc(name) + "/instances")],
      [/^\/ui\/([^/]+)\/services\/([^/]+)\/instances\/?$/, servicePage],
      [/^\/ui\/([^/]+)\/nodes\/?$/, nodesPage],
      [/^\/ui\/([^/]+)\/nodes\/([^/]+)(?:\/(?:health-checks|services))?\/?$/, nodePage],
      [/^\/ui\/([^/]+)\/kv\/?$/, (ctx, dc) => kvListPage(ctx, dc, "")],
      [/^\/ui\/([^/]+)\/kv\/create$/, (ctx, dc) => kvCreatePage(ctx, dc, "")],
      [/^\/ui\/([^/]+)\/kv\/(.+\/)create$/, kvCreatePage],
      [/^\/ui\/([^/]+)\/kv\/(.+)\/edit$/, kvEditPage],
      [/^\/ui\/([^/]+)\/kv\/(.+\/)$/, kvListPage],
      [/^\/ui\/([^/]+)\/acls\/tokens\/?$/, tokensPage],
    ],
  });
})();
