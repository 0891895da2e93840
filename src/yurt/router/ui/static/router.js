/* The router's web UI (Fabio's :9998 pages): the routing table with its filter and the
   manual routes editor, rendered from Fabio's /api/ endpoints. */
(function () {
  "use strict";
  const Y = window.yurt;
  const { h } = Y;
  const errorBox = (err) => h("div.error-box", null, err && err.message ? err.message : String(err));
  let config = null;
  const configReady = Y.api("GET", "/api/config").then((c) => {
    config = c || {};
    const title = config["ui.title"];
    if (title) {
      const brand = document.querySelector("header.top .brand small");
      if (brand) brand.textContent = "router · " + title;
    }
    return config;
  }).catch(() => (config = {}));

  // Fabio's /api/routes has no blocking form: it is re-read every 2 seconds while the tab is
  // visible, and the table is redrawn only when the answer changed.
  function pollRoutes(ctx, cb) {
    let last = null;
    (async () => {
      while (!ctx.signal.aborted) {
        if (document.visibilityState !== "hidden") {
          try {
            const text = await Y.api("GET", "/api/routes", undefined, { signal: ctx.signal, text: true });
            Y.setLive(true);
            if (text !== last) { last = text; cb(JSON.parse(text) || [], null); }
          } catch (e) {
            if (ctx.signal.aborted) return;
            Y.setLive(false);
            last = null;
            cb(null, e);
          }
        }
        await new Promise((r) => {
          const t = setTimeout(r, 2000);
          ctx.signal.addEventListener("abort", () => { clearTimeout(t); r(); }, { once: true });
        });
      }
    })();
  }

  function routesPage(ctx) {
    ctx.title("Routes");
    const list = h("div");
    const count = h("span.muted");
    let routes = null;
    let filter = ctx.query.get("filter") || "";
    const draw = () => {
      if (!routes) return;
      // Fabio's filter: every word must appear somewhere in the route.
      const words = filter.toLowerCase().split(/\s+/).filter((w) => w);
      const rows = routes.map((r, i) => Object.assign({ n: i + 1 }, r)).filter((r) => {
        const hay = [r.service, r.src, r.dst, r.opts, (r.tags || []).join(" ")].join(" ").toLowerCase();
        return words.every((w) => hay.includes(w));
      });
      count.textContent = rows.length + " of " + routes.length + " route" + (routes.length === 1 ? "" : "s");
      Y.fill(list, Y.table([
        ["#", (r) => String(r.n), { cls: "hide-narrow" }],
        ["Service", (r) => h("strong", null, r.service)],
        ["Source", (r) => h("span.mono", null, r.src)],
        // Only web addresses become links: a manual route's text must never run as a URL.
        ["Destination", (r) => (/^https?:\/\//.test(r.dst) ? h("a.mono", { href: r.dst, target: "_blank", rel: "noopener" }, r.dst) : h("span.mono", null, r.dst))],
        ["Options", (r) => (r.opts ? h("span.mono", null, r.opts) : h("span.muted", null, "-")), { cls: "hide-narrow" }],
        ["Weight", (r) => (Math.round((r.weight || 0) * 10000) / 100) + "%"],
        ["Tags", (r) => Y.tags(r.tags), { cls: "hide-narrow" }],
      ], rows, { empty: routes.length ? "No route matches the filter" : "The routing table is empty: no healthy service has a urlprefix- tag, and no manual route is set", rowAttrs: (r) => ({ "data-route": r.src, "data-service": r.service }) }));
    };
    Y.append(ctx.el, [
      h("h1", null, "Routes"),
      h("p.sub", null, "The routing table: built from the catalog's healthy services with urlprefix- tags, and the manual overrides."),
      h("div.toolbar", null, Y.filterBox(ctx, "Filter routes (service, source, destination, tags)", (v) => { filter = v; draw(); }), h("span.grow"), count),
      list,
    ]);
    pollRoutes(ctx, (data, err) => {
      if (err) return Y.fill(list, errorBox(err));
      routes = data;
      draw();
    });
  }

  function manualPage(ctx, path) {
    path = (path || "").replace(/\/+$/, "");
    ctx.title("Manual overrides");
    const paths = h("div");
    const area = h("textarea", { "aria-label": "manual routes", spellcheck: "false", placeholder: "route add <service> <source> <destination> [weight <w>] [tags \"a,b\"] [opts \"strip=/x\"]\nroute del <service> [<source> [<destination>]]\nroute weight <service> <source> weight <w> [tags \"a,b\"]" });
    const msg = h("div");
    const version = h("span.muted");
    const save = h("button.primary", { type: "button" }, "Save");
    const reload = h("button", { type: "button" }, "Reload");
    let current = null; // {value, version} as last read
    const apiPath = "/api/manual" + (path ? "/" + path.split("/").map(encodeURIComponent).join("/") : "");
    async function load() {
      try {
        current = await Y.api("GET", apiPath, undefined, { signal: ctx.signal });
        area.value = current.value;
        version.textContent = "version " + current.version;
        Y.fill(msg);
      } catch (e) { if (!ctx.signal.aborted) Y.fill(msg, errorBox(e)); }
    }
    reload.addEventListener("click", load);
    save.addEventListener("click", async () => {
      if (!current) return;
      save.disabled = true;
      try {
        await Y.api("PUT", apiPath, { value: area.value, version: current.version });
        await load();
        Y.fill(msg, h("div.ok-box", null, "Saved. The routing table picks the change up from the catalog."));
      } catch (e) {
        if (e.status === 409) {
          Y.fill(msg, h("div.error-box", { "data-conflict": "" }, "Not saved: the routes were changed by someone else since you loaded them (version " + current.version + "). ",
            h("button", { type: "button", onclick: load }, "Load theirs")));
        } else if (e.status === 403) {
          Y.fill(msg, errorBox("Not saved: this router's UI is read-only (ui.access = ro)."));
        } else {
          Y.fill(msg, errorBox("Not saved: " + e.message));
        }
      } finally { save.disabled = false; }
    });
    Y.append(ctx.el, [
      h("h1", null, "Manual overrides"),
      h("p.sub", null, "Route commands kept in the catalog's key/value store under ", h("code", null, (config && config["registry.consul.kvpath"]) || "fabio/config"), ", applied on top of the routes from service tags."),
      h("div.split", { style: { gridTemplateColumns: "minmax(0, 220px) minmax(0, 1fr)" } },
        h("div.panel", null, h("h3", { style: { marginTop: 0 } }, "Paths"), paths),
        h("div", null, msg, h("div.panel", null,
          h("div.toolbar", null, h("strong.mono", null, path ? path : "(main)"), h("span.grow"), version),
          area,
          h("div.toolbar", { style: { marginTop: "10px", marginBottom: 0 } }, h("span.grow"), reload, save))))
    ]);
    Y.api("GET", "/api/paths", undefined, { signal: ctx.signal }).then((list) => {
      const all = [""].concat((list || []).map((p) => p.replace(/^\/+/, "")).filter((p) => p));
      Y.fill(paths, all.map((p) => h("div", null, p === path ? h("strong", null, p || "(main)") : Y.link(p ? "/manual/" + p : "/manual", p || "(main)"))));
    }).catch((e) => { if (!ctx.signal.aborted) Y.fill(paths, h("span.muted", null, "paths unavailable: " + e.message)); });
    configReady.then((c) => {
      if (c["ui.access"] === "ro") { area.readOnly = true; save.disabled = true; save.title = "ui.access is ro"; }
    });
    load();
  }

  Y.start({
    titleSuffix: "yurt router",
    navFor: (p) => (p === "/" ? "/routes" : p),
    routes: [
      [/^\/(?:routes)?$/, routesPage],
      [/^\/manual(?:\/(.*))?$/, manualPage],
    ],
  });
})();
