/* yurt's shared UI helpers: DOM building, a small client-side router, blocking-query
   watches (long polls on X-Consul-Index / X-Nomad-Index) and formatting. No build step. */
(function () {
  "use strict";
  const Y = (window.yurt = {});

  // --- DOM -----------------------------------------------------------------------------
  // h("tr.cls", {onclick, title, ...}, child, [children], "text") -> Element. Text is always
  // set as text, never as HTML, so data from the APIs cannot inject markup.
  Y.h = function (tag, props, ...kids) {
    const parts = tag.split(".");
    const el = document.createElement(parts[0] || "div");
    if (parts.length > 1) el.className = parts.slice(1).join(" ");
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
        else if (k === "class") el.className = (el.className ? el.className + " " : "") + v;
        else if (k === "text") el.textContent = v;
        else if (k === "value") el.value = v;
        else if (k === "checked" || k === "disabled" || k === "selected") el[k] = !!v;
        else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
        else el.setAttribute(k, v === true ? "" : String(v));
      }
    }
    Y.append(el, kids);
    return el;
  };
  Y.append = function (el, kids) {
    for (const kid of kids) {
      if (kid === null || kid === undefined || kid === false) continue;
      if (Array.isArray(kid)) Y.append(el, kid);
      else if (kid instanceof Node) el.appendChild(kid);
      else el.appendChild(document.createTextNode(String(kid)));
    }
    return el;
  };
  Y.fill = function (el, ...kids) {
    el.replaceChildren();
    return Y.append(el, kids);
  };
  Y.link = (href, text, cls) => Y.h("a" + (cls ? "." + cls : ""), { href }, text);
  Y.badge = (text, cls) => Y.h("span.badge", { class: cls || String(text).toLowerCase() }, text);
  Y.tags = (tags) => (tags || []).map((t) => Y.h("span.tag", null, t));
  Y.kv = (pairs) =>
    Y.h("dl.kv", null, pairs.filter((p) => p).map(([k, v]) => [Y.h("dt", null, k), Y.h("dd", null, v)]));

  // A table: cols = [[title, (row) => cell, {cls}]]; rows may be empty.
  Y.table = function (cols, rows, { empty = "Nothing to show", rowAttrs } = {}) {
    const head = Y.h("tr", null, cols.map(([t, , o]) => Y.h("th", { class: o && o.cls }, t)));
    const body = Y.h("tbody");
    if (!rows.length) {
      body.appendChild(Y.h("tr", null, Y.h("td.empty", { colspan: cols.length }, empty)));
    }
    for (const row of rows) {
      body.appendChild(
        Y.h("tr", rowAttrs ? rowAttrs(row) : null,
          cols.map(([, f, o]) => Y.h("td", { class: o && o.cls }, f(row))))
      );
    }
    return Y.h("div.table-wrap", null, Y.h("table", null, Y.h("thead", null, head), body));
  };

  // --- formatting ----------------------------------------------------------------------
  const toMs = (t) => {
    if (t === null || t === undefined || t === 0 || t === "") return null;
    if (typeof t === "number") return t > 1e15 ? t / 1e6 : t > 1e12 ? t : t * 1000; // ns / ms / s
    if (typeof t === "string") {
      if (t.startsWith("0001-")) return null;
      const ms = Date.parse(t);
      return isNaN(ms) ? null : ms;
    }
    return null;
  };
  const ago = (ms) => {
    const s = Math.round((Date.now() - ms) / 1000);
    const a = Math.abs(s);
    const txt = a < 5 ? "just now" : a < 60 ? a + "s" : a < 3600 ? Math.floor(a / 60) + "m" :
      a < 86400 ? Math.floor(a / 3600) + "h" : Math.floor(a / 86400) + "d";
    return a < 5 ? txt : s >= 0 ? txt + " ago" : "in " + txt;
  };
  Y.fmt = {
    ms: toMs,
    time(t) {
      const ms = toMs(t);
      return ms === null ? "-" : new Date(ms).toLocaleString();
    },
    // A <time> that keeps saying how long ago it was (refreshed by a local timer, not the API).
    ago(t) {
      const ms = toMs(t);
      if (ms === null) return Y.h("span.muted", null, "-");
      return Y.h("time.ago", { "data-ms": ms, title: new Date(ms).toLocaleString() }, ago(ms));
    },
    short: (id) => (id ? String(id).slice(0, 8) : ""),
    mb(mb) {
      if (mb === null || mb === undefined) return "-";
      return mb >= 1024 ? (mb / 1024).toFixed(mb % 1024 ? 1 : 0) + " GiB" : mb + " MiB";
    },
    bytes(b) {
      if (b === null || b === undefined) return "-";
      const u = ["B", "KiB", "MiB", "GiB", "TiB"];
      let i = 0;
      while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
      return (i ? b.toFixed(1) : b) + " " + u[i];
    },
    mhz: (n) => (n === null || n === undefined ? "-" : n + " MHz"),
    dur(ns) {
      if (!ns) return "0s";
      let s = ns / 1e9;
      if (s < 1) return Math.round(ns / 1e6) + "ms";
      const parts = [];
      for (const [u, d] of [["h", 3600], ["m", 60]]) {
        if (s >= d) { parts.push(Math.floor(s / d) + u); s %= d; }
      }
      if (s) parts.push((Number.isInteger(s) ? s : s.toFixed(1)) + "s");
      return parts.join("");
    },
    pct: (a, b) => (b ? Math.round((100 * a) / b) + "%" : "-"),
  };
  setInterval(() => {
    for (const el of document.querySelectorAll("time.ago")) el.textContent = ago(+el.dataset.ms);
  }, 10000);

  // --- HTTP ----------------------------------------------------------------------------
  Y.indexOf = (resp) =>
    parseInt(resp.headers.get("X-Nomad-Index") || resp.headers.get("X-Consul-Index") || "0", 10) || 0;

  // fetch JSON (or text with {text: true}); errors carry the server's message and status.
  Y.api = async function (method, url, body, opts = {}) {
    const init = { method, headers: {}, signal: opts.signal };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      if (typeof body !== "string") init.headers["Content-Type"] = "application/json";
    }
    const resp = await fetch(url, init);
    const text = await resp.text();
    if (!resp.ok) {
      const err = new Error(text.trim() || resp.status + " " + resp.statusText);
      err.status = resp.status;
      throw err;
    }
    if (opts.text) return text;
    return text ? JSON.parse(text) : null;
  };

  const live = { failures: 0 };
  function setLive(ok) {
    const el = document.getElementById("live");
    if (!el) return;
    live.failures = ok ? 0 : live.failures + 1;
    el.classList.toggle("down", !ok);
    el.textContent = ok ? "live" : "reconnecting…";
  }
  Y.setLive = setLive;
  const sleep = (ms, signal) =>
    new Promise((res) => {
      const t = setTimeout(res, ms);
      if (signal) signal.addEventListener("abort", () => { clearTimeout(t); res(); }, { once: true });
    });

  // A blocking query kept open for as long as `signal` is not aborted: the first request
  // answers at once, each next one carries ?index=<last X-*-Index> and returns only when the
  // data changed (or `wait` passed). cb(data, error, index) runs on each change.
  Y.watch = function (url, cb, { signal, wait = "60s" } = {}) {
    (async () => {
      let index = 0;
      let first = true;
      let backoff = 0;
      while (!(signal && signal.aborted)) {
        const sep = url.includes("?") ? "&" : "?";
        const u = first ? url : url + sep + "index=" + index + "&wait=" + wait;
        try {
          const resp = await fetch(u, { signal });
          const next = Y.indexOf(resp);
          if (resp.status === 404 && next) {
            // Consul answers a missing key or node with 404 and an index: still a blocking
            // query, so keep waiting for it to appear.
            const err = new Error((await resp.text()).trim() || "Not found");
            err.status = 404;
            setLive(true);
            backoff = 0;
            if (first || next !== index) cb(null, err, next);
            first = false;
            index = next < index ? 0 : Math.max(next, 1);
            continue;
          }
          if (!resp.ok) {
            const text = (await resp.text()).trim();
            const err = new Error(text || resp.status + " " + resp.statusText);
            err.status = resp.status;
            cb(null, err, 0);
            first = true;
            backoff = Math.min(Math.max(backoff * 2, 1000), 15000);
            await sleep(backoff, signal);
            continue;
          }
          const data = await resp.json();
          setLive(true);
          backoff = 0;
          if (first || next !== index) cb(data, null, next);
          first = false;
          // Consul's and Nomad's advice: an index that goes backwards means start over.
          index = next < index ? 0 : Math.max(next, 1);
        } catch (e) {
          if (signal && signal.aborted) return;
          setLive(false);
          backoff = Math.min(Math.max(backoff * 2, 500), 10000);
          await sleep(backoff, signal);
        }
      }
    })();
  };

  // --- router --------------------------------------------------------------------------
  // routes: [[RegExp, render(ctx, ...groups)]]. A page gets ctx = {el, signal, watch,
  // query, title}; leaving it aborts its watches.
  Y.start = function ({ routes, navFor, titleSuffix }) {
    const root = document.getElementById("app");
    let controller = null;
    function render() {
      if (controller) controller.abort();
      controller = new AbortController();
      const signal = controller.signal;
      const path = decodeURI(location.pathname);
      const ctx = {
        el: root,
        signal,
        query: new URLSearchParams(location.search),
        watch: (url, cb, opts) => Y.watch(url, cb, Object.assign({ signal }, opts || {})),
        title: (t) => { document.title = t + " - " + titleSuffix; },
      };
      root.replaceChildren();
      const navKey = navFor ? navFor(path) : path;
      for (const a of document.querySelectorAll("header.top nav a")) {
        a.classList.toggle("active", navKey.startsWith(a.getAttribute("data-nav")));
      }
      for (const [re, fn] of routes) {
        const m = re.exec(path);
        if (m) {
          try {
            fn(ctx, ...m.slice(1));
          } catch (e) {
            root.append(Y.h("div.error-box", null, String(e && e.stack ? e.stack : e)));
            throw e;
          }
          return;
        }
      }
      ctx.title("Not found");
      Y.append(root, [Y.h("h1", null, "Not found"), Y.h("p.sub", null, "No page at " + path)]);
    }
    Y.navigate = function (href, { replace = false } = {}) {
      if (replace) history.replaceState(null, "", href);
      else history.pushState(null, "", href);
      render();
      window.scrollTo(0, 0);
    };
    Y.routable = (url) => routes.some(([re]) => re.test(decodeURI(url.pathname)));
    // A link of this UI, or null (another origin, a new window, a download).
    const routedHref = (a) => {
      if (!a || a.target || a.hasAttribute("download")) return null;
      const url = new URL(a.href, location.href);
      if (url.origin !== location.origin || !Y.routable(url)) return null;
      return url.pathname + url.search + url.hash;
    };
    const plain = (ev) => ev.button === 0 && !(ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey);
    document.addEventListener("click", (ev) => {
      if (ev.defaultPrevented || !plain(ev)) return;
      const href = routedHref(ev.target.closest && ev.target.closest("a[href]"));
      if (href === null) return;
      ev.preventDefault();
      Y.navigate(href);
    });
    // The live pages re-render as their blocking queries answer: a link replaced between
    // the press and the release gets no click, so a release on the same link (the new
    // element) after a press on the old one follows it.
    let pressed = null;
    document.addEventListener("pointerdown", (ev) => {
      pressed = plain(ev) && ev.target.closest ? ev.target.closest("a[href]") : null;
    }, true);
    document.addEventListener("pointerup", (ev) => {
      const was = pressed;
      pressed = null;
      if (!was || was.isConnected || !plain(ev)) return;
      const a = ev.target.closest && ev.target.closest("a[href]");
      const href = a && a.href === was.href ? routedHref(a) : null;
      if (href !== null) Y.navigate(href);
    }, true);
    window.addEventListener("popstate", render);
    render();
  };

  // Two clicks to do something destructive: the first arms the button, the second acts.
  Y.confirmButton = function (label, confirmLabel, action, cls = "danger") {
    const btn = Y.h("button." + cls, { type: "button" }, label);
    let armed = false;
    let timer = null;
    btn.addEventListener("click", async () => {
      if (!armed) {
        armed = true;
        btn.textContent = confirmLabel;
        btn.classList.add("confirm");
        timer = setTimeout(() => { armed = false; btn.textContent = label; btn.classList.remove("confirm"); }, 5000);
        return;
      }
      clearTimeout(timer);
      armed = false;
      btn.disabled = true;
      try { await action(); } finally {
        btn.disabled = false; btn.textContent = label; btn.classList.remove("confirm");
      }
    });
    return btn;
  };

  // A filter box bound to ?filter= in the URL, so a filtered view can be linked to.
  Y.filterBox = function (ctx, placeholder, onChange) {
    const input = Y.h("input", { type: "search", placeholder, value: ctx.query.get("filter") || "", "aria-label": placeholder });
    input.addEventListener("input", () => {
      const url = new URL(location.href);
      if (input.value) url.searchParams.set("filter", input.value);
      else url.searchParams.delete("filter");
      history.replaceState(null, "", url.pathname + url.search);
      onChange(input.value);
    });
    return input;
  };
  Y.matches = (filter, ...fields) => {
    if (!filter) return true;
    const f = filter.toLowerCase();
    return fields.some((x) => x !== null && x !== undefined && String(x).toLowerCase().includes(f));
  };
})();
