// allocsite viewer, the views: the page's DOM code (top call sites, call tree, flame
// graph, bottom-up, comparison, details, loading and wiring). The numbers come from
// model.js (window.AllocsiteModel), which must be loaded first.
//
// SPDX-License-Identifier: MIT OR Apache-2.0
//
// A classic script, no imports, no network: src/report/html.rs inlines it into
// index.html. Every string that comes from a data file is put in the page with
// textContent / createTextNode, never as HTML.
"use strict";

(function () {
  const M = window.AllocsiteModel;
  const { NF, TB, TBK, TL, MB, MBK, GB, GBK, EB, EBK, RB, WB, FRAME_HERE } = M;
  const { fmtNum, fmtPct, fmtBytes, fmtSigned, DhatError, parseDhat, metricsFor } = M;
  const { hasKids, sortedKids, frameLabel } = M;

  const MAX_ROWS = 300;    // rows rendered per list before a "show more" button

  // ---------------------------------------------------------------- small DOM helpers

  const $ = (id) => document.getElementById(id);

  // el("div", {class: "x", title: "t"}, child, "text", ...): text children become text nodes.
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "class") e.className = v;
        else if (k === "text") e.textContent = v;
        else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
        else e.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (const k of kids) {
      if (k === undefined || k === null || k === false) continue;
      e.appendChild(typeof k === "string" || typeof k === "number" ? document.createTextNode(String(k)) : k);
    }
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  // ---------------------------------------------------------------- state

  const state = {
    current: null,     // profile
    baseline: null,    // profile
    metrics: [],
    metric: null,
    order: "callers",
    thresholdPct: 1,
    search: "",
    filter: true,
    collapse: false,   // collapse std, allocsite, system and dependency frames
    filters: { short: false, tiny: false, live: false },
    match: null,       // Uint8Array over frames of `current`, or null when no search
    pps: null,         // the current file's pps after search and filters
    trees: null,       // { main } for the current order, filter and collapsing
    expanded: new Set(),
    selected: null,    // a tree node, or { site } for a call site
    flameZoom: null,
    flameRects: [],
    diff: null,        // { rects, zoom, matcher } of the diff flame graph
    sitesSort: null,   // { col: metric id | "name" | "pps", dir: 1 | -1 }
    tab: "panel-sites",
    bottomUp: null,
  };

  // ---------------------------------------------------------------- loading

  function setStatus(s) { document.body.dataset.status = s; }

  function showMessage(text, kindClass) {
    const m = $("message");
    m.hidden = !text;
    m.className = kindClass || "";
    m.textContent = text || "";
  }

  // role: "current" or "baseline". `source` tells files apart that have the same name:
  // { modified } for a file from disk.
  function loadText(text, name, role, source) {
    const t0 = performance.now();
    let profile;
    try {
      profile = parseDhat(text);
      document.body.dataset.parseMs = (performance.now() - t0).toFixed(1);
    } catch (e) {
      if (!(e instanceof DhatError)) throw e;
      const which = role === "baseline" ? "baseline file" : "file";
      showMessage(`Could not load ${which} "${M.clip(name || "embedded data", 300)}": ${e.message}.`, "error");
      setStatus("error");
      return false;
    }
    // A report written by the profiler has no file name: its command names it.
    profile.name = M.clip(name || profile.meta.cmd.trim() || "embedded data", 300);
    profile.source = source || {};
    showMessage("");
    try {
      show(profile, role);
    } catch (e) {
      // A file the parser accepted must display; if a view fails anyway, say so rather
      // than leave the page half drawn (and keep the error for the console and tests).
      console.error(e);
      document.body.dataset.renderError = String(e && e.message);
      showMessage(`Could not show ${role === "baseline" ? "baseline file" : "file"} "${profile.name}": ${e && e.message}.`, "error");
      setStatus("error");
      return false;
    }
    const ms = performance.now() - t0;
    document.body.dataset.loadMs = ms.toFixed(1);
    setStatus("loaded");
    return true;
  }

  function show(profile, role) {
    if (role === "baseline") {
      state.baseline = profile;
      if (state.current) renderAll();
      showTab("panel-compare");
    } else {
      state.current = profile;
      state.metrics = metricsFor(profile);
      const keep = state.metric && state.metrics.find((m) => m.id === state.metric.id);
      state.metric = keep || state.metrics[0];
      state.sitesSort = null;
      state.collapse = M.looksLikeRust(profile);
      $("collapse").checked = state.collapse;
      const avail = M.filtersAvailable(profile);
      for (const [k, id] of [["short", "f-short"], ["tiny", "f-tiny"], ["live", "f-live"]]) {
        $(id).disabled = !avail[k];
        if (!avail[k]) { $(id).checked = false; state.filters[k] = false; }
      }
      $("f-short").parentElement.title = avail.short
        ? `Only blocks whose average lifetime is at most ${fmtNum(profile.meta.tuth)} ${profile.meta.tu} (tuth)`
        : "Needs block lifetimes (bklt), which this file does not record";
      fillMetricSelect();
      renderAll();
    }
  }

  function loadFile(file, role) {
    if (file.size > M.MAX_TEXT) {
      // Reading it would fail (or take the tab down): say so before trying.
      showMessage(`Could not load ${role === "baseline" ? "baseline file" : "file"} "${M.clip(file.name, 300)}": ${M.tooLargeMessage(file.size)}.`, "error");
      setStatus("error");
      return;
    }
    showMessage(`Loading "${M.clip(file.name, 300)}"…`, "info");
    setStatus("loading");
    file.text().then(
      (text) => loadText(text, file.name, role, { modified: file.lastModified }),
      (err) => { showMessage(`Could not read "${M.clip(file.name, 300)}": ${err}`, "error"); setStatus("error"); });
  }

  function loadEmbedded() {
    const cur = $("allocsite-data");
    const base = $("allocsite-data-baseline");
    if (cur && cur.textContent.trim() !== "") {
      if (loadText(cur.textContent, cur.dataset.name, "current") &&
          base && base.textContent.trim() !== "") {
        loadText(base.textContent, base.dataset.name, "baseline");
      }
    }
  }

  // What tells two loaded files apart besides their name: command, pid, file time.
  function sourceText(p) {
    const parts = [];
    if (typeof p.meta.cmd === "string" && p.meta.cmd !== p.name) parts.push(p.meta.cmd);
    if (p.meta.pid !== undefined) parts.push(`pid ${p.meta.pid}`);
    if (p.source.modified) {
      const d = new Date(p.source.modified), z = (n) => String(n).padStart(2, "0");
      parts.push(`modified ${d.getFullYear()}-${z(d.getMonth() + 1)}-${z(d.getDate())} ${z(d.getHours())}:${z(d.getMinutes())}:${z(d.getSeconds())}`);
    }
    return parts.join(", ");
  }

  // ---------------------------------------------------------------- rendering: common

  function fillMetricSelect() {
    const sel = clear($("metric"));
    for (const m of state.metrics) sel.appendChild(el("option", { value: m.id, text: m.label }));
    sel.value = state.metric.id;
  }

  // The current file as the views show it: with library frames collapsed or not.
  const viewOf = (p) => (state.collapse ? M.collapsedView(p) : p);

  // The pps a file's views cover: the search (for the current file) and dh_view's filters.
  function ppsOf(p, withSearch) {
    let pps = withSearch && state.match && state.filter ? M.ppsMatching(p, state.match) : M.allPps(p);
    return M.filterPps(p, pps, state.filters);
  }

  // Rebuilds the trees (order, filters or collapsing changed) and redraws every view.
  function renderAll() {
    const p = state.current;
    if (!p) return;
    state.match = M.matchFrames(p, state.search);
    state.pps = ppsOf(p, true);
    state.trees = { main: M.mainTree(viewOf(p), state.pps, state.order, "All program points") };
    state.expanded = new Set();
    state.selected = null;
    state.flameZoom = null;
    state.diff = null;
    state.bottomUp = null;
    $("drop-hint").hidden = true;
    $("tabs").hidden = false;
    const b = state.baseline;
    let names = p.name;
    if (b) names += `  (baseline: ${b.name}${b.name === p.name ? ` — ${sourceText(b)}` : ""})`;
    $("file-name").textContent = names;
    document.title = `allocsite viewer - ${p.name}`;
    renderSummary();
    renderViews();
    showTab(state.tab);
  }

  // Redraws the views without rebuilding trees (metric or threshold changed).
  function renderViews() {
    renderDetails();
    // Views are drawn when their tab is shown (showTab), or now if visible.
    state.dirty = { "panel-sites": true, "panel-tree": true, "panel-flame": true, "panel-bottomup": true, "panel-compare": true };
    renderTab(state.tab);
  }

  function renderTab(id) {
    if (!state.current || !state.dirty || !state.dirty[id]) return;
    state.dirty[id] = false;
    guarded(() => {
      if (id === "panel-sites") renderSites();
      else if (id === "panel-tree") renderTree();
      else if (id === "panel-flame") renderFlame();
      else if (id === "panel-bottomup") renderBottomUp();
      else if (id === "panel-compare") renderCompare();
    });
  }

  // Runs a redraw; a failure is shown on the page instead of escaping as an uncaught error.
  function guarded(draw) {
    try {
      draw();
    } catch (e) {
      console.error(e);
      document.body.dataset.renderError = String(e && e.message);
      showMessage(`Could not draw this view: ${e && e.message}.`, "error");
    }
  }

  const minShare = () => state.thresholdPct / 100;

  function summaryItem(dl, label, value, id, raw) {
    dl.appendChild(el("dt", { text: label }));
    dl.appendChild(el("dd", { id, "data-value": raw, text: value }));
  }

  function renderSummary() {
    const p = state.current, m = p.meta, t = p.totals, u = p.units;
    const box = clear($("summary"));
    box.hidden = false;
    const dl = el("dl");
    summaryItem(dl, "Total", fmtBytes(t[TB], u.bytes), "total-bytes", t[TB]);
    summaryItem(dl, "Blocks", `${fmtNum(t[TBK])} ${u.blocks}`, "total-blocks", t[TBK]);
    if (m.bklt) {
      summaryItem(dl, "Peak (t-gmax)", `${fmtNum(m.tg)} ${m.tu} (${fmtPct(m.tg, m.te)} of the run)`, "peak-time", m.tg);
      summaryItem(dl, "At peak", `${fmtBytes(t[GB], u.bytes)} in ${fmtNum(t[GBK])} ${u.blocks}`, "peak-bytes", t[GB]);
      summaryItem(dl, "At end", `${fmtBytes(t[EB], u.bytes)} in ${fmtNum(t[EBK])} ${u.blocks}`, "end-bytes", t[EB]);
    }
    if (m.bkacc) {
      summaryItem(dl, "Reads / writes", `${fmtBytes(t[RB], u.bytes)} / ${fmtBytes(t[WB], u.bytes)}`, "access-bytes", t[RB]);
    }
    summaryItem(dl, "Run time (t-end)", `${fmtNum(m.te)} ${m.tu}`, "end-time", m.te);
    summaryItem(dl, "Time units", `tu = ${m.tu}, Mtu = ${m.Mtu}` + (m.bklt ? `; short-lived below ${fmtNum(m.tuth)} ${m.tu}` : ""), "time-units");
    summaryItem(dl, "Command", m.cmd, "command");
    summaryItem(dl, "Mode", `${m.mode} (pid ${m.pid}; ${fmtNum(p.n)} program points, ${fmtNum(p.frames.text.length)} frames)`, "mode");
    let est = "no: exact counts";
    if (p.sampled) {
      est = "yes: per-site figures are sampled estimates";
      if (p.ext && typeof p.ext.sampleBytes === "number") est += ` (about one sample per ${fmtBytes(p.ext.sampleBytes, "bytes")} allocated)`;
    }
    summaryItem(dl, "Sampled", est, "sampled", p.sampled ? "true" : "false");
    if (state.pps && state.pps.length !== p.n) {
      summaryItem(dl, "Shown", `${fmtNum(state.pps.length)} of ${fmtNum(p.n)} program points (search or filters)`, "shown", state.pps.length);
    }
    box.appendChild(dl);
  }

  function showTab(id) {
    state.tab = id;
    for (const b of document.querySelectorAll("#tabs [role=tab]")) {
      const on = b.dataset.panel === id;
      b.setAttribute("aria-selected", on ? "true" : "false");
      $(b.dataset.panel).hidden = !on || !state.current;
    }
    renderTab(id);
  }

  // ---------------------------------------------------------------- metric cells

  const valueText = M.valueText;
  const pctText = (metric, sums) => M.pctText(state.current, metric, sums);
  const pctHeader = (metric) => (metric.ratio ? "% of run" : "%");

  // The figures of one row: value, percentage and (optionally) a bar. Every table
  // (tree, folded rows, bottom-up) builds its metric columns with this. Cells show the
  // number only (the header row names the unit), with the full text as a tooltip.
  function metricCells(metric, sums, { bar = true } = {}) {
    const cells = [
      el("span", { class: "val", title: valueText(metric, sums), text: M.cellText(metric, sums) }),
      el("span", { class: "pct", text: pctText(metric, sums) }),
    ];
    if (bar) {
      const w = (100 * M.barFraction(state.current, metric, sums)).toFixed(1);
      cells.push(el("span", { class: "bar" }, el("span", { style: `width:${w}%` })));
    }
    return cells;
  }

  // The header row over such cells: "Total (bytes (est.))", "%", ...
  function metricHeader(metric, { bar = true, toggle = true } = {}) {
    return [
      toggle ? el("span", {}) : null,
      el("span", { class: "val", text: `${metric.short} (${M.unitText(metric)})` }),
      el("span", { class: "pct", text: pctHeader(metric) }),
      bar ? el("span", {}) : null,
    ];
  }

  // A frame's class as a small tag: "std", "dependency serde_json 1.0.154", ...
  function classTag(profile, f) {
    if (f < 0) return null;
    const c = M.frameClasses(profile), cls = M.CLASSES[c.cls[f]];
    if (cls === "user") return null;
    const text = cls === "dependency" && c.crate[f] ? `${c.crate[f]}${c.version[f] ? " " + c.version[f] : ""}` : cls;
    return el("span", { class: `tag tag-${cls}`, title: `${cls} frame`, text });
  }

  // ---------------------------------------------------------------- top call sites view

  function renderSites() {
    const box = clear($("sites"));
    const p = state.current;
    const metrics = state.metrics;
    if (!state.sitesSort) state.sitesSort = { col: state.metric.id, dir: -1 };
    const sort = state.sitesSort;
    const rows = M.callSites(p, state.pps);
    const sortMetric = metrics.find((m) => m.id === sort.col) || state.metric;
    const labels = new Map(rows.map((r) => [r, M.siteLabel(p, r)]));
    const text = (r) => { const l = labels.get(r); return `${l.func} ${l.loc}`; };
    const key = sort.col === "name" ? null : sort.col === "pps" ? (r) => r.pps : (r) => sortMetric.value(r.sums);
    rows.sort((a, b) => {
      const d = key ? key(a) - key(b) : text(a) < text(b) ? -1 : text(a) > text(b) ? 1 : 0;
      return sort.dir * d || (b.sums[TB] - a.sums[TB]) || (text(a) < text(b) ? -1 : 1);
    });
    $("sites-hint").textContent = `${fmtNum(rows.length)} call sites: the first frame of each stack in your code (a dependency's when no frame is yours), ` +
      "with the call it made. Stacks through the same line are one site. Click a column to sort; click a row for its details.";
    const table = el("table", { class: "sites", id: "sites-table" });
    const head = el("tr");
    const th = (col, label, unit, cls) => {
      const on = sort.col === col;
      const cell = el("th", { scope: "col", class: cls, "aria-sort": on ? (sort.dir < 0 ? "descending" : "ascending") : "none" });
      const b = el("button", { type: "button", "data-sort": col, title: `Sort by ${label}` }, label,
        unit ? el("span", { class: "unit", text: unit }) : null, el("span", { class: "arrow", text: on ? (sort.dir < 0 ? " ▼" : " ▲") : "" }));
      b.addEventListener("click", () => {
        if (sort.col === col) sort.dir = -sort.dir;
        else { sort.col = col; sort.dir = col === "name" ? 1 : -1; }
        renderSites();
        const again = document.querySelector(`#sites-table th button[data-sort="${col}"]`);
        if (again) again.focus();
      });
      cell.appendChild(b);
      return cell;
    };
    head.appendChild(th("name", "Call site", null, "site"));
    head.appendChild(el("th", { scope: "col", class: "share", text: `${pctHeader(sortMetric)} ${sortMetric.short}` }));
    for (const m of metrics) head.appendChild(th(m.id, m.short, M.unitText(m), "num"));
    head.appendChild(th("pps", "Stacks", null, "num"));
    table.appendChild(el("thead", {}, head));
    const body = el("tbody");
    appendRows(body, rows, (r) => siteRow(p, r, labels.get(r), sortMetric, metrics), 0, (b) => el("tr", {}, el("td", { colspan: metrics.length + 3 }, b)));
    table.appendChild(body);
    box.appendChild(table);
  }

  function siteCell(p, r, l) {
    const td = el("td", { class: "site frames" });
    if (l.callee) td.append(el("span", { class: "callee", text: l.callee }), el("span", { class: "arrow", text: " ← " }));
    td.appendChild(el("span", { class: "site-fn fn", text: l.func }));
    if (l.loc) td.appendChild(el("span", { class: "loc", text: ` (${l.loc})` }));
    if (r.site.cls !== "user") td.appendChild(classTag(p, r.site.frame) || el("span", { class: "tag tag-unknown", text: r.site.cls }));
    return td;
  }

  function siteRow(p, r, l, sortMetric, metrics) {
    const tr = el("tr", { class: "site-row", tabindex: "0", "data-class": r.site.cls });
    tr.appendChild(siteCell(p, r, l));
    const w = (100 * sortMetric.share(r.sums)).toFixed(1);
    tr.appendChild(el("td", { class: "share" }, el("span", { class: "pct", text: pctText(sortMetric, r.sums) }),
      el("span", { class: "bar" }, el("span", { style: `width:${w}%` }))));
    for (const m of metrics) tr.appendChild(el("td", { class: "num", "data-metric": m.id, title: valueText(m, r.sums), text: M.cellText(m, r.sums) }));
    tr.appendChild(el("td", { class: "num", text: fmtNum(r.pps) }));
    const select = () => {
      for (const e of document.querySelectorAll(".site-row.selected")) e.classList.remove("selected");
      tr.classList.add("selected");
      state.selected = { site: r, profile: p };
      renderDetails();
    };
    tr.addEventListener("click", select);
    tr.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(); } });
    return tr;
  }

  // ---------------------------------------------------------------- call tree view

  function renderTree() {
    const box = clear($("tree"));
    const tree = state.trees.main;
    $("tree-hint").textContent = (state.order === "callers"
      ? "Each top-level row is an allocation site (innermost frame); expand it to see who called it."
      : "Top-level rows are outermost frames (main, thread starts); expand to walk down to the allocation sites.") +
      (state.collapse ? " Runs of std, allocsite and dependency frames show as the call that entered them." : "");
    box.appendChild(el("div", { class: "row head" }, ...metricHeader(state.metric), el("span", { class: "frames", text: "Frames" })));
    box.appendChild(nodeElement(tree.root, true));
  }

  // One tree row plus a container for its children.
  function nodeElement(node, isRoot) {
    const profile = state.current, metric = state.metric;
    const wrap = el("div", { class: "node", role: "treeitem" });
    wrap._node = node;
    const nodeHasKids = hasKids(node);
    const expanded = isRoot || state.expanded.has(node);
    const row = el("div", { class: "row" });
    const toggle = el("button", {
      class: "toggle", type: "button", "aria-label": expanded ? "collapse" : "expand",
      text: nodeHasKids ? (expanded ? "▼" : "▶") : "─", disabled: !nodeHasKids,
    });
    row.appendChild(toggle);
    row.append(...metricCells(metric, node.sums));
    const label = el("span", { class: "frames" });
    if (isRoot) {
      label.appendChild(el("span", { class: "fn", text: `${node.label} (${fmtNum(node.pps.length)} program points)` }));
    } else {
      appendFrameText(label, profile, node.frames[0]);
      if (node.frames.length > 1) {
        const more = el("button", { class: "more", type: "button", text: `+${node.frames.length - 1} ${node.frames.length === 2 ? "frame" : "frames"}` });
        more.addEventListener("click", (e) => {
          e.stopPropagation();
          more.remove();
          const chain = el("div", {});
          appendRows(chain, node.frames.slice(1), (f) => {
            const line = el("div", { class: "chain" });
            appendFrameText(line, profile, f);
            return line;
          });
          label.appendChild(chain);
        });
        label.appendChild(more);
      }
    }
    if (nodeMatches(node)) wrap.classList.add("match");
    row.appendChild(label);
    row.addEventListener("click", (e) => {
      if (e.target === toggle) return;
      selectNode(node, wrap);
    });
    wrap.appendChild(row);
    const kidsBox = el("div", { class: "kids", role: "group" });
    wrap.appendChild(kidsBox);
    if (expanded && nodeHasKids) {
      wrap.setAttribute("aria-expanded", "true");
      fillKids(node, kidsBox);
    } else if (nodeHasKids) {
      wrap.setAttribute("aria-expanded", "false");
    }
    toggle.addEventListener("click", () => {
      if (isRoot) return;
      if (state.expanded.has(node)) {
        state.expanded.delete(node);
        clear(kidsBox);
        toggle.textContent = "▶";
        wrap.setAttribute("aria-expanded", "false");
      } else {
        state.expanded.add(node);
        fillKids(node, kidsBox);
        toggle.textContent = "▼";
        wrap.setAttribute("aria-expanded", "true");
      }
    });
    return wrap;
  }

  function nodeMatches(node) {
    if (!state.match) return false;
    for (const f of node.frames) if (f >= 0 && state.match[f]) return true;
    return false;
  }

  function appendFrameText(parent, profile, f) {
    const l = frameLabel(profile, f);
    const fnSpan = el("span", { class: "fn", text: l.func });
    if (f >= 0 && state.match && state.match[f]) fnSpan.classList.add("hit");
    parent.appendChild(fnSpan);
    if (l.loc) parent.appendChild(el("span", { class: "loc", text: ` (${l.loc})` }));
    const tag = classTag(profile, f);
    if (tag) parent.appendChild(tag);
    parent.title = l.long ? l.text + " (name cut; select the row for the whole of it)" : l.text;
  }

  function fillKids(node, box) {
    clear(box);
    const { sig, insig } = sortedKids(node, state.metric, minShare());
    appendRows(box, sig, (k) => nodeElement(k, false));
    if (insig.length) box.appendChild(insigRow(insig, box));
  }

  // Appends up to MAX_ROWS rows, then a button to show the rest (wrapped by `wrap` where
  // the container needs it, e.g. a table row).
  function appendRows(box, items, make, start, wrap) {
    const from = start || 0, to = Math.min(items.length, from + MAX_ROWS);
    for (let i = from; i < to; i++) box.appendChild(make(items[i]));
    if (to < items.length) {
      const b = el("button", { class: "show-more", type: "button", text: `Show ${fmtNum(Math.min(MAX_ROWS, items.length - to))} more of ${fmtNum(items.length - to)}` });
      const holder = wrap ? wrap(b) : b;
      b.addEventListener("click", () => { holder.remove(); appendRows(box, items, make, to, wrap); });
      box.appendChild(holder);
    }
  }

  // dh_view folds small nodes into "[N insignificant]"; here that row can be opened.
  function insigRow(insig, box) {
    const sums = new Float64Array(NF);
    for (const k of insig) for (let i = 0; i < NF; i++) sums[i] += k.sums[i];
    const metric = state.metric;
    const wrap = el("div", { class: "node insig" });
    const row = el("div", { class: "row" });
    const toggle = el("button", { class: "toggle", type: "button", "aria-label": "show insignificant nodes", text: "▶" });
    row.append(toggle, ...metricCells(metric, sums),
      el("span", { class: "frames" }, el("span", { class: "fn", text: `[${insig.length} insignificant]` })));
    wrap.appendChild(row);
    toggle.addEventListener("click", () => {
      wrap.remove();
      appendRows(box, insig, (k) => nodeElement(k, false));
    });
    return wrap;
  }

  // ---------------------------------------------------------------- details panel

  function selectNode(node, rowEl) {
    for (const e of document.querySelectorAll(".node.selected, .site-row.selected")) e.classList.remove("selected");
    if (rowEl) rowEl.classList.add("selected");
    state.selected = node;
    renderDetails();
  }

  function renderDetails() {
    const box = clear($("details"));
    const sel = state.selected;
    box.hidden = !sel;
    if (!sel) return;
    const isSite = !!sel.site;
    const p = isSite ? sel.profile : sel.tree.profile;
    const s = isSite ? sel.site.sums : sel.sums, u = p.units, m = p.meta, t = p.totals;
    const npps = isSite ? sel.site.pps : sel.pps.length;
    box.appendChild(el("h2", { text: isSite ? "Selected call site" : "Selected node" }));
    const close = el("button", { class: "close", type: "button", text: "×", "aria-label": "close details" });
    close.addEventListener("click", () => selectNode(null));
    box.appendChild(close);
    if (isSite) {
      const l = M.siteLabel(p, sel.site), r = sel.site;
      const where = el("p", { class: "frames" }, el("span", { class: "fn", text: l.func }), l.loc ? el("span", { class: "loc", text: ` (${l.loc})` }) : null);
      box.appendChild(where);
      const cls = r.site.cls;
      const what = cls === "user" ? "your code" : cls === "dependency" ? `a dependency${r.site.crate ? ` (${r.site.crate}${r.site.version ? " " + r.site.version : ""})` : ""}, standing in: no frame of these stacks is in your code`
        : `${cls}: no frame of these stacks is in your code or a dependency`;
      box.appendChild(el("p", { class: "hint", text: `In ${what}.` + (l.callee ? ` Calls ${l.callee} (in the biggest stack).` : "") }));
    }
    const dl = el("dl");
    const add = (k, v) => { dl.appendChild(el("dt", { text: k })); dl.appendChild(el("dd", { text: v })); };
    add("Program points", fmtNum(npps));
    add("Total", `${fmtBytes(s[TB], u.bytes)} (${fmtPct(s[TB], t[TB])}) in ${fmtNum(s[TBK])} ${u.blocks} (${fmtPct(s[TBK], t[TBK])}), avg size ${fmtNum(s[TBK] ? s[TB] / s[TBK] : 0)} ${u.bytes}`);
    if (m.bklt) {
      add("Avg lifetime", `${fmtNum(s[TBK] ? s[TL] / s[TBK] : 0)} ${m.tu} (${fmtPct(s[TBK] ? s[TL] / s[TBK] : 0, m.te)} of the run)`);
      add(npps === 1 ? "Max live" : "Max live (sum of per-site maxima)", `${fmtBytes(s[MB], u.bytes)} in ${fmtNum(s[MBK])} ${u.blocks}`);
      add("At t-gmax", `${fmtBytes(s[GB], u.bytes)} (${fmtPct(s[GB], t[GB])}) in ${fmtNum(s[GBK])} ${u.blocks}`);
      add("At t-end", `${fmtBytes(s[EB], u.bytes)} (${fmtPct(s[EB], t[EB])}) in ${fmtNum(s[EBK])} ${u.blocks}`);
    }
    if (m.bkacc) {
      add("Reads", `${fmtBytes(s[RB], u.bytes)} (${fmtNum(s[TB] ? s[RB] / s[TB] : 0)}/${u.byte})`);
      add("Writes", `${fmtBytes(s[WB], u.bytes)} (${fmtNum(s[TB] ? s[WB] / s[TB] : 0)}/${u.byte})`);
    }
    box.appendChild(dl);
    if (isSite) {
      box.appendChild(stackList(p, p.fs[sel.site.example], npps > 1 ? "The biggest stack (allocation site first)" : "Stack (allocation site first)"));
      return;
    }
    // The path from the tree root to this node, in tree order.
    const parts = [];
    for (let n = sel; n && n.parent; n = n.parent) parts.push(n.frames);
    const path = [].concat(...parts.reverse());
    if (path.length) box.appendChild(stackList(p, path, sel.tree.dir === 1 ? "Frames (allocation site first)" : "Frames (outermost first)"));
  }

  // A stack as a numbered list (the first MAX_ROWS frames, then "show more"). A name cut
  // for display gets a button that shows the whole of it, up to FULL_MAX characters.
  const FULL_MAX = 1000000;
  function stackList(p, frames, title) {
    const wrap = el("div", { class: "stack-box" }, el("h3", { text: title }));
    const ol = el("ol", { class: "stack" });
    appendRows(ol, frames, (f) => {
      const l = frameLabel(p, f);
      const li = el("li", {}, el("span", { class: "frame-text", text: l.text }));
      const tag = classTag(p, f);
      if (tag) li.appendChild(tag);
      if (l.long) {
        const full = M.fullText(p, f);
        const b = el("button", { class: "more", type: "button", text: `show all ${fmtNum(full.length)} characters` });
        b.addEventListener("click", () => {
          const shownText = full.length > FULL_MAX ? full.slice(0, FULL_MAX) : full;
          li.replaceChild(el("pre", { class: "full-name", text: shownText }), li.firstChild);
          b.replaceWith(el("span", { class: "hint", text: full.length > FULL_MAX ? ` (the first ${fmtNum(FULL_MAX)} of ${fmtNum(full.length)} characters)` : "" }));
        });
        li.appendChild(b);
      }
      return li;
    }, 0, (b) => el("li", { class: "more-li" }, b));
    wrap.appendChild(ol);
    return wrap;
  }

  // ---------------------------------------------------------------- flame graphs

  const ROW_H = 18;

  function flameColor(profile, frame, ancestor) {
    if (frame === null) return "#b9c4d0";
    if (frame === FRAME_HERE) return "#d8d8d8";
    if (state.match) return state.match[frame] ? "#f5b400" : "#d9d9d9";
    // Colour by crate/module (first path segment) so related frames look alike; library
    // frames (std, allocsite, system) in greys and blues, so the user's code stands out.
    const cls = M.CLASSES[M.frameClasses(profile).cls[frame]];
    const fn = profile.frames.func[frame];
    const key = fn.replace(/^<+/, "").split(/::|\s|\(/)[0];
    let h = 0;
    for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0;
    const light = ancestor ? 84 : 66 + (h % 10);
    if (cls === "std" || cls === "allocsite" || cls === "system") return `hsl(210, ${12 + (h % 12)}%, ${light + 4}%)`;
    if (cls === "dependency") return `hsl(${190 + (h % 40)}, ${35 + (h % 20)}%, ${light}%)`;
    return `hsl(${10 + (h % 45)}, ${55 + (h % 30)}%, ${ancestor ? 82 : 62 + (h % 10)}%)`;
  }

  // Draws laid-out rects (see M.layoutFlame) on a canvas `width` pixels wide.
  function drawFlame(canvas, rects, width, color, label) {
    let rows = 0;
    for (const r of rects) rows = Math.max(rows, r.row + 1);
    const height = rows * ROW_H;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = width + "px";
    canvas.style.height = height + "px";
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = "12px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    const charW = ctx.measureText("m").width * 0.8;
    for (const r of rects) {
      const y = r.row * ROW_H;
      ctx.fillStyle = color(r);
      ctx.fillRect(r.x, y, Math.max(r.w - 0.5, 0.5), ROW_H - 1);
      if (r.w > 24) {
        const text = label(r);
        const maxChars = Math.floor((r.w - 6) / charW);
        const shown = text.length > maxChars ? text.slice(0, Math.max(0, maxChars - 1)) + "…" : text;
        ctx.fillStyle = "#1b1b1b";
        ctx.fillText(shown, r.x + 3, y + ROW_H / 2);
      }
    }
  }

  // Canvases stop drawing past 32,767 pixels: deeper stacks are cut there.
  const maxFlameRows = () => Math.max(10, Math.floor(32000 / (ROW_H * (window.devicePixelRatio || 1))));

  const rectLabel = (p, r) => (r.frame === null ? r.node.label || "all" : frameLabel(p, r.frame).func);

  function renderFlame() {
    if (!state.current) return;
    const canvas = $("flame"), wrap = $("flame-wrap");
    const width = Math.max(300, wrap.clientWidth || 900);
    const rects = M.layoutFlame(state.trees.main.root, state.flameZoom, state.metric, width, maxFlameRows());
    state.flameRects = rects;
    const p = state.current;
    drawFlame(canvas, rects, width, (r) => flameColor(p, r.frame, r.ancestor), (r) => rectLabel(p, r));
    const zoom = state.flameZoom;
    const widthNote = state.metric.ratio ? ` Widths are ${p.units.blocks}; the average lifetime is in the tooltips.` : "";
    $("flame-zoom").textContent = (zoom
      ? `Zoomed to: ${frameLabel(p, zoom.frames[0]).func} (${valueText(state.metric, zoom.sums)}). Click a bar above to zoom out.`
      : `Showing everything: ${valueText(state.metric, state.trees.main.root.sums)}. Click a bar to zoom in.`) + widthNote;
    $("flame-reset").disabled = !zoom;
  }

  function flameHit(canvas, rects, ev) {
    const b = canvas.getBoundingClientRect();
    const x = ev.clientX - b.left, y = ev.clientY - b.top;
    const row = Math.floor(y / ROW_H);
    for (const r of rects) if (r.row === row && x >= r.x && x < r.x + r.w) return r;
    return null;
  }

  function placeTip(tip, wrapEl, ev) {
    tip.hidden = false;
    const wrapBox = wrapEl.getBoundingClientRect();
    const left = Math.min(ev.clientX - wrapBox.left + 12, wrapBox.width - 320);
    tip.style.left = Math.max(0, left) + "px";
    tip.style.top = (ev.clientY - wrapBox.top + 14) + "px";
  }

  function setupFlame() {
    const canvas = $("flame"), tip = $("flame-tip");
    canvas.addEventListener("mousemove", (ev) => {
      const r = flameHit(canvas, state.flameRects, ev);
      if (!r) { tip.hidden = true; return; }
      const p = state.current, metric = state.metric;
      clear(tip);
      const name = r.frame === null ? r.node.label || "all program points" : frameLabel(p, r.frame).text;
      tip.appendChild(el("div", { class: "fn", text: name }));
      tip.appendChild(el("div", { text: `${valueText(metric, r.node.sums)} (${pctText(metric, r.node.sums)}${metric.ratio ? " of the run" : ""})` }));
      tip.appendChild(el("div", { class: "hint", text: `${fmtNum(r.node.pps.length)} program points` }));
      placeTip(tip, $("flame-wrap"), ev);
    });
    canvas.addEventListener("mouseleave", () => { tip.hidden = true; });
    canvas.addEventListener("click", (ev) => {
      const r = flameHit(canvas, state.flameRects, ev);
      if (!r) return;
      state.flameZoom = r.node.parent ? r.node : null; // clicking the root resets
      renderFlame();
    });
    $("flame-reset").addEventListener("click", () => { state.flameZoom = null; renderFlame(); });
    window.addEventListener("resize", () => {
      if (state.tab === "panel-flame") renderFlame();
      if (state.tab === "panel-compare" && state.diff) renderDiffFlame();
    });
  }

  // ---------------------------------------------------------------- bottom-up view

  function renderBottomUp() {
    const box = clear($("bottomup"));
    if (!state.current) return;
    const group = $("bu-group").value, sortBy = $("bu-sort").value;
    const view = viewOf(state.current);
    if (!state.bottomUp || state.bottomUp.group !== group) state.bottomUp = M.bottomUp(view, state.trees.main.root.pps, group);
    const bu = state.bottomUp, metric = state.metric;
    const rows = bu.rows.slice().sort((a, b) => (metric.value(b[sortBy]) - metric.value(a[sortBy])) ||
      (metric.value(b.total) - metric.value(a.total)) || (a.name < b.name ? -1 : 1));
    const shown = rows.filter((r) => M.significant(metric, r.total, minShare()));
    const hidden = rows.length - shown.length;
    const table = el("div", { class: "bu-table", role: "tree" });
    const unit = `(${M.unitText(metric)})`;
    table.appendChild(el("div", { class: "bu-head" },
      el("span", { class: "val", text: `Self ${unit}` }), el("span", { class: "pct", text: pctHeader(metric) }),
      el("span", { class: "val", text: `Total ${unit}` }), el("span", { class: "pct", text: pctHeader(metric) }),
      el("span", { text: group === "func" ? "Function" : "Source line" })));
    appendRows(table, shown, (r) => bottomUpRow(r, bu, view));
    box.appendChild(table);
    if (hidden > 0) box.appendChild(el("p", { class: "hint", text: `${fmtNum(hidden)} entries below the fold threshold are not listed (set “Fold below” to “nothing” to list them).` }));
  }

  function bottomUpRow(r, bu, view) {
    const metric = state.metric;
    const wrap = el("div", { class: "node bu-row" });
    const row = el("div", { class: "row" });
    const toggle = el("button", { class: "toggle", type: "button", "aria-label": "show callers", text: "▶" });
    row.append(toggle, ...metricCells(metric, r.self, { bar: false }), ...metricCells(metric, r.total, { bar: false }));
    const name = el("span", { class: "frames" }, el("span", { class: "fn", title: M.clip(r.name, 10000), text: M.clip(r.name) }));
    if (state.match && r.name.toLowerCase().includes(state.search.trim().toLowerCase())) { wrap.classList.add("match"); name.firstChild.classList.add("hit"); }
    row.appendChild(name);
    wrap.appendChild(row);
    const kids = el("div", { class: "kids", role: "group" });
    wrap.appendChild(kids);
    toggle.addEventListener("click", () => {
      if (kids.firstChild) { clear(kids); toggle.textContent = "▶"; return; }
      toggle.textContent = "▼";
      const root = M.callersTree(view, bu, r.id).root;
      const { sig, insig } = sortedKids(root, metric, minShare());
      appendRows(kids, sig, (k) => nodeElement(k, false));
      if (insig.length) kids.appendChild(insigRow(insig, kids));
    });
    return wrap;
  }

  // ---------------------------------------------------------------- comparison view

  function renderCompare() {
    const box = clear($("compare"));
    const cur = state.current, base = state.baseline;
    state.diff = null;
    if (!cur) return;
    if (!base) {
      box.appendChild(el("p", { class: "drop-hint", text: "Load a baseline (an earlier run) with “Compare with baseline…” or drop it here to see which call sites grew, shrank, are new or are gone." }));
      return;
    }
    // The metric list comes from the current file; the baseline may lack the counter.
    const metric = state.metric;
    const unit = metric.unit;
    const fmt = (n) => (unit.startsWith("byte") ? fmtBytes(n, unit) : `${fmtNum(n)} ${unit}`);
    const bt = metric.value(base.totals), ct = metric.value(cur.totals);
    const pctOf = (d, b) => (b ? ` (${fmtSigned(Math.round(1e4 * d / Math.abs(b)) / 100)}%)` : "");
    box.appendChild(el("p", { id: "cmp-totals", class: "cmp-totals" },
      el("b", { text: metric.label }), `: baseline "${base.name}" ${fmt(bt)} → current "${cur.name}" ${fmt(ct)}, change `,
      el("span", { class: ct > bt ? "up" : ct < bt ? "down" : "", text: `${fmtSigned(ct - bt)} ${unit}${pctOf(ct - bt, bt)}` })));
    const srcs = el("ul", { id: "cmp-sources", class: "hint" },
      el("li", { text: `Baseline: ${base.name}${sourceText(base) ? ` — ${sourceText(base)}` : ""}` }),
      el("li", { text: `Current: ${cur.name}${sourceText(cur) ? ` — ${sourceText(cur)}` : ""}` }));
    box.appendChild(srcs);
    if (base.meta.mode !== cur.meta.mode) box.appendChild(el("p", { class: "warn", text: `The files have different modes ("${base.meta.mode}" and "${cur.meta.mode}"); the comparison may not be meaningful.` }));
    if (base.sampled || cur.sampled) box.appendChild(el("p", { class: "hint", text: "At least one file holds sampled estimates: small differences can be sampling noise." }));
    const res = M.compareSites(base, cur, metric, ppsOf(base, false), ppsOf(cur, false));
    box.appendChild(el("p", { class: "hint", text: "Call sites are matched by their line in your code (function, file and line), whatever the stacks above and below them." }));

    // Diff flame graph: the current run's tree, widths by the metric, colour by change.
    const flame = el("section", { class: "cmp-flame" },
      el("h2", { text: "Diff flame graph" }),
      el("p", { class: "hint" }, "Widths: the current run. Colour: ", el("span", { class: "swatch up", text: "grew" }), " ",
        el("span", { class: "swatch down", text: "shrank" }), " ", el("span", { class: "swatch new", text: "new" }), " ",
        el("span", { class: "swatch same", text: "unchanged" }), ". Hover for the figures, click to zoom."),
      el("div", { id: "diff-wrap", class: "flame-wrap" }, el("canvas", { id: "diff-flame" }), el("div", { id: "diff-tip", class: "flame-tip", role: "tooltip", hidden: true })));
    const sections = [
      ["grew", "Grew", "call sites in both runs whose value went up"],
      ["shrank", "Shrank", "call sites in both runs whose value went down"],
      ["appeared", "New", "call sites only in the current run"],
      ["disappeared", "Gone", "call sites only in the baseline"],
    ];
    const ids = { grew: "grew", shrank: "shrank", appeared: "new", disappeared: "gone" };
    const summary = el("ul", { class: "cmp-summary", id: "cmp-summary" });
    for (const [id, title] of sections) {
      const tot = res.totals[id];
      summary.appendChild(el("li", { class: id, "data-count": res[id].length },
        el("b", { text: `${title}: ${fmtNum(res[id].length)}` }), ` (${fmtSigned(tot.delta)} ${unit}${bt ? `, ${fmtSigned(Math.round(1e4 * tot.delta / Math.abs(bt)) / 100)}% of the baseline` : ""})`));
    }
    summary.appendChild(el("li", { id: "cmp-unchanged", text: `${fmtNum(res.unchanged)} sites unchanged.` }));
    box.appendChild(summary);
    for (const [id, title, what] of sections) {
      const list = res[id], tot = res.totals[id];
      const sec = el("section", { id: `cmp-${ids[id]}`, class: "cmp-section", "data-count": list.length });
      sec.appendChild(el("h2", { text: `${title} (${fmtNum(list.length)})` }));
      sec.appendChild(el("p", { class: "hint", text: `${what}; together ${fmtSigned(tot.delta)} ${unit}${pctOf(tot.delta, tot.before)}.` }));
      if (list.length) {
        const table = el("table", { class: "cmp-table" });
        table.appendChild(el("thead", {}, el("tr", {},
          el("th", { class: "num", text: `Change (${unit})` }), el("th", { class: "num", text: "%" }),
          el("th", { class: "num", text: `Baseline → current (${unit})` }), el("th", { text: "Call site" }))));
        appendRows(table, list, (r) => compareRow(r, metric), 0, (b) => el("tbody", {}, el("tr", {}, el("td", { colspan: 4 }, b))));
        sec.appendChild(table);
      }
      box.appendChild(sec);
    }
    box.appendChild(flame);
    state.diff = { zoom: null, rects: [] };
    renderDiffFlame();
    setupDiffFlame();
  }

  // A site of the comparison: one row, and under it (on click) the biggest stack.
  function compareRow(r, metric) {
    const frag = el("tbody", { class: "cmp-row" });
    const tr = el("tr", { class: "cmp-main", tabindex: "0", "aria-expanded": "false" });
    const pct = r.pct === Infinity ? "new" : `${fmtSigned(Math.round(r.pct * 100) / 100)}%`;
    const cell = (v) => M.fmtCell(v, metric.unit);
    tr.append(
      el("td", { class: "num delta " + (r.delta > 0 ? "up" : r.delta < 0 ? "down" : ""), text: (r.delta > 0 ? "+" : "") + cell(r.delta) }),
      el("td", { class: "num", text: pct }),
      el("td", { class: "num", text: `${cell(r.before)} → ${cell(r.after)}` }),
      siteCell(r.profile, { site: { cls: r.cls, frame: r.frame } }, r.label));
    const detail = el("tr", { class: "cmp-stack", hidden: true }, el("td", { colspan: 4 }, stackList(r.profile, r.profile.fs[r.example], "The biggest stack (allocation site first)")));
    const toggle = () => {
      detail.hidden = !detail.hidden;
      tr.setAttribute("aria-expanded", detail.hidden ? "false" : "true");
    };
    tr.addEventListener("click", toggle);
    tr.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); } });
    frag.append(tr, detail);
    return frag;
  }

  function renderDiffFlame() {
    const d = state.diff, cur = state.current, base = state.baseline;
    const canvas = $("diff-flame"), wrap = $("diff-wrap");
    if (!d || !canvas || !base) return;
    if (!d.curTree) {
      d.curTree = M.mainTree(viewOf(cur), ppsOf(cur, false), state.order, "All program points");
      d.baseTree = M.mainTree(viewOf(base), ppsOf(base, false), state.order, "All program points");
      d.matcher = M.baselineMatcher(cur, d.baseTree);
    }
    const metric = state.metric;
    const width = Math.max(300, wrap.clientWidth || 900);
    d.rects = M.layoutFlame(d.curTree.root, d.zoom, metric, width, maxFlameRows());
    const color = (r) => {
      const bn = d.matcher(r.node);
      const after = metric.value(r.node.sums), before = bn ? metric.value(bn.sums) : 0;
      return diffColor(before, after, !bn);
    };
    drawFlame(canvas, d.rects, width, color, (r) => rectLabel(cur, r));
  }

  // Red for growth, blue for shrinkage, by the relative change; a stronger red for new.
  function diffColor(before, after, isNew) {
    if (isNew) return after === 0 ? "#dcdcdc" : "hsl(0, 75%, 58%)";
    const m = Math.max(Math.abs(before), Math.abs(after));
    const rel = m === 0 ? 0 : (after - before) / m;
    if (Math.abs(rel) < 0.005) return "#d9d9d9";
    const light = 90 - Math.round(Math.min(1, Math.abs(rel)) * 30);
    return rel > 0 ? `hsl(0, 70%, ${light}%)` : `hsl(212, 70%, ${light}%)`;
  }

  function setupDiffFlame() {
    const canvas = $("diff-flame"), tip = $("diff-tip"), d = state.diff;
    canvas.addEventListener("mousemove", (ev) => {
      const r = flameHit(canvas, d.rects, ev);
      if (!r) { tip.hidden = true; return; }
      const metric = state.metric, bn = d.matcher(r.node);
      const after = metric.value(r.node.sums), before = bn ? metric.value(bn.sums) : 0;
      clear(tip);
      tip.appendChild(el("div", { class: "fn", text: r.frame === null ? "all program points" : frameLabel(state.current, r.frame).text }));
      tip.appendChild(el("div", { text: `${bn ? valueText(metric, bn.sums) : "not in the baseline"} → ${valueText(metric, r.node.sums)}` }));
      const delta = after - before;
      tip.appendChild(el("div", { class: delta > 0 ? "up" : delta < 0 ? "down" : "", text: `${fmtSigned(delta)} ${metric.unit}${before ? ` (${fmtSigned(Math.round(1e4 * delta / Math.abs(before)) / 100)}%)` : ""}` }));
      placeTip(tip, $("diff-wrap"), ev);
    });
    canvas.addEventListener("mouseleave", () => { tip.hidden = true; });
    canvas.addEventListener("click", (ev) => {
      const r = flameHit(canvas, d.rects, ev);
      if (!r) return;
      d.zoom = r.node.parent ? r.node : null;
      renderDiffFlame();
    });
  }

  // ---------------------------------------------------------------- wiring

  function setup() {
    $("file-input").addEventListener("change", (e) => { if (e.target.files[0]) loadFile(e.target.files[0], "current"); e.target.value = ""; });
    $("baseline-input").addEventListener("change", (e) => {
      if (!e.target.files[0]) return;
      if (!state.current) { showMessage("Open the current file first, then the baseline to compare it with.", "error"); return; }
      loadFile(e.target.files[0], "baseline");
      e.target.value = "";
    });
    $("metric").addEventListener("change", (e) => {
      state.metric = state.metrics.find((m) => m.id === e.target.value) || state.metrics[0];
      state.sitesSort = { col: state.metric.id, dir: -1 };
      guarded(renderViews);
    });
    $("order").addEventListener("change", (e) => { state.order = e.target.value; guarded(renderAll); });
    $("threshold").addEventListener("change", (e) => { state.thresholdPct = Number(e.target.value); guarded(renderViews); });
    let searchTimer = 0;
    $("search").addEventListener("input", (e) => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => { state.search = e.target.value; guarded(renderAll); }, 150);
    });
    $("search-filter").addEventListener("change", (e) => { state.filter = e.target.checked; guarded(renderAll); });
    $("collapse").addEventListener("change", (e) => { state.collapse = e.target.checked; guarded(renderAll); });
    for (const [k, id] of [["short", "f-short"], ["tiny", "f-tiny"], ["live", "f-live"]]) {
      $(id).addEventListener("change", (e) => { state.filters[k] = e.target.checked; guarded(renderAll); });
    }
    $("bu-group").addEventListener("change", () => guarded(renderBottomUp));
    $("bu-sort").addEventListener("change", () => guarded(renderBottomUp));
    for (const b of document.querySelectorAll("#tabs [role=tab]")) b.addEventListener("click", () => showTab(b.dataset.panel));
    setupFlame();

    // Drag and drop: anywhere loads the current file; the comparison panel loads a baseline.
    document.addEventListener("dragover", (e) => { e.preventDefault(); document.body.classList.add("dragging"); });
    document.addEventListener("dragleave", (e) => { if (!e.relatedTarget) document.body.classList.remove("dragging"); });
    document.addEventListener("drop", (e) => {
      e.preventDefault();
      document.body.classList.remove("dragging");
      const files = e.dataTransfer && e.dataTransfer.files;
      if (!files || !files.length) return;
      const onCompare = e.target instanceof Element && e.target.closest("#panel-compare");
      if (onCompare && state.current) loadFile(files[0], "baseline");
      else {
        loadFile(files[0], "current");
        if (files[1]) showMessage("Only the first dropped file was opened; drop the baseline on the Comparison tab.", "info");
      }
    });

    loadEmbedded();
  }

  // A small hook for tests and for debugging from the console.
  window.allocsiteViewer = {
    state,
    model: M,
    parse: parseDhat,
    loadText: (text, name, role) => loadText(text, name || "text", role || "current"),
    loadFile: (file, role) => loadFile(file, role || "current"),
    flameRects: () => state.flameRects.map((r) => ({
      x: r.x, y: r.row * ROW_H, w: r.w, h: ROW_H,
      label: r.frame === null ? r.node.label || "all" : frameLabel(state.current, r.frame).func, ancestor: !!r.ancestor,
    })),
    diffRects: () => (state.diff ? state.diff.rects.map((r) => {
      const bn = state.diff.matcher(r.node), m = state.metric;
      return { x: r.x, y: r.row * ROW_H, w: r.w, label: r.frame === null ? "all" : frameLabel(state.current, r.frame).func,
        before: bn ? m.value(bn.sums) : null, after: m.value(r.node.sums) };
    }) : []),
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
