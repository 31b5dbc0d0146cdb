// allocsite viewer, the views: the page's DOM code (call tree, flame graph, bottom-up,
// comparison, details, loading and wiring). The numbers come from model.js
// (window.AllocsiteModel), which must be loaded first.
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
  const { fmtNum, fmtPct, fmtBytes, fmtSigned, DhatError, parseDhat, describeFrames, metricsFor } = M;
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
    match: null,       // Uint8Array over frames of `current`, or null when no search
    trees: null,       // { main } for the current order and filter
    expanded: new Set(),
    selected: null,
    flameZoom: null,
    flameRects: [],
    tab: "panel-tree",
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

  // role: "current" or "baseline".
  function loadText(text, name, role) {
    const t0 = performance.now();
    let profile;
    try {
      profile = parseDhat(text);
      document.body.dataset.parseMs = (performance.now() - t0).toFixed(1);
    } catch (e) {
      if (!(e instanceof DhatError)) throw e;
      const which = role === "baseline" ? "baseline file" : "file";
      showMessage(`Could not load ${which} "${name}": ${e.message}.`, "error");
      setStatus("error");
      return false;
    }
    profile.name = name;
    showMessage("");
    if (role === "baseline") {
      state.baseline = profile;
      if (state.current) renderAll();
      showTab("panel-compare");
    } else {
      state.current = profile;
      state.metrics = metricsFor(profile);
      const keep = state.metric && state.metrics.find((m) => m.id === state.metric.id);
      state.metric = keep || state.metrics[0];
      fillMetricSelect();
      renderAll();
    }
    const ms = performance.now() - t0;
    document.body.dataset.loadMs = ms.toFixed(1);
    setStatus("loaded");
    return true;
  }

  function loadFile(file, role) {
    showMessage(`Loading "${file.name}"…`, "info");
    setStatus("loading");
    file.text().then(
      (text) => loadText(text, file.name, role),
      (err) => { showMessage(`Could not read "${file.name}": ${err}`, "error"); setStatus("error"); });
  }

  function loadEmbedded() {
    const cur = $("allocsite-data");
    const base = $("allocsite-data-baseline");
    if (cur && cur.textContent.trim() !== "") {
      if (loadText(cur.textContent, cur.dataset.name || "embedded data", "current") &&
          base && base.textContent.trim() !== "") {
        loadText(base.textContent, base.dataset.name || "embedded baseline", "baseline");
      }
    }
  }

  // ---------------------------------------------------------------- rendering: common

  function fillMetricSelect() {
    const sel = clear($("metric"));
    for (const m of state.metrics) sel.appendChild(el("option", { value: m.id, text: m.label }));
    sel.value = state.metric.id;
  }

  // Rebuilds the trees (order or filter changed) and redraws every view.
  function renderAll() {
    const p = state.current;
    if (!p) return;
    state.match = M.matchFrames(p, state.search);
    const pps = state.match && state.filter ? M.ppsMatching(p, state.match) : M.allPps(p);
    state.trees = { main: M.mainTree(p, pps, state.order, "All program points") };
    state.expanded = new Set();
    state.selected = null;
    state.flameZoom = null;
    state.bottomUp = null;
    $("drop-hint").hidden = true;
    $("tabs").hidden = false;
    $("file-name").textContent = p.name + (state.baseline ? `  (baseline: ${state.baseline.name})` : "");
    document.title = `allocsite viewer - ${p.name}`;
    renderSummary();
    renderViews();
    showTab(state.tab);
  }

  // Redraws the views without rebuilding trees (metric or threshold changed).
  function renderViews() {
    renderTree();
    renderDetails();
    // The other views are drawn when their tab is shown (showTab), or now if visible.
    state.dirty = { "panel-flame": true, "panel-bottomup": true, "panel-compare": true };
    renderTab(state.tab);
  }

  function renderTab(id) {
    if (!state.current || !state.dirty || !state.dirty[id]) return;
    state.dirty[id] = false;
    if (id === "panel-flame") renderFlame();
    else if (id === "panel-bottomup") renderBottomUp();
    else if (id === "panel-compare") renderCompare();
  }

  function thresholdWeight() {
    return (state.thresholdPct / 100) * Math.abs(state.metric.weight(state.current.totals));
  }

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
    summaryItem(dl, "Command", String(m.cmd), "command");
    summaryItem(dl, "Mode", `${m.mode} (pid ${m.pid}; ${fmtNum(p.n)} program points, ${fmtNum(p.frames.text.length)} frames)`, "mode");
    let est = "no: exact counts";
    if (p.sampled) {
      est = "yes: per-site figures are sampled estimates";
      if (p.ext && typeof p.ext.sampleBytes === "number") est += ` (about one sample per ${fmtBytes(p.ext.sampleBytes, "bytes")} allocated)`;
    }
    summaryItem(dl, "Sampled", est, "sampled", p.sampled ? "true" : "false");
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

  // ---------------------------------------------------------------- call tree view

  const valueText = M.valueText;
  const pctText = (metric, sums) => M.pctText(state.current, metric, sums);

  // The figures of one row: value, percentage and (optionally) a bar. Every table
  // (tree, folded rows, bottom-up, call sites) builds its metric columns with this.
  function metricCells(metric, sums, { bar = true } = {}) {
    const cells = [
      el("span", { class: "val", text: valueText(metric, sums) }),
      el("span", { class: "pct", text: pctText(metric, sums) }),
    ];
    if (bar) {
      const w = (100 * M.barFraction(state.current, metric, sums)).toFixed(1);
      cells.push(el("span", { class: "bar" }, el("span", { style: `width:${w}%` })));
    }
    return cells;
  }

  function renderTree() {
    const box = clear($("tree"));
    const tree = state.trees.main;
    $("tree-hint").textContent = state.order === "callers"
      ? "Each top-level row is an allocation site (innermost frame); expand it to see who called it."
      : "Top-level rows are outermost frames (main, thread starts); expand to walk down to the allocation sites.";
    const root = tree.root;
    box.appendChild(nodeElement(root, true));
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
          for (let i = 1; i < node.frames.length; i++) {
            const line = el("div", { class: "chain" });
            appendFrameText(line, profile, node.frames[i]);
            label.appendChild(line);
          }
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
    parent.title = profile.frames.raw[f] || l.text;
  }

  function fillKids(node, box) {
    clear(box);
    const { sig, insig } = sortedKids(node, state.metric, thresholdWeight());
    appendRows(box, sig, (k) => nodeElement(k, false));
    if (insig.length) box.appendChild(insigRow(insig, box));
  }

  // Appends up to MAX_ROWS rows, then a button to show the rest.
  function appendRows(box, items, make, start) {
    const from = start || 0, to = Math.min(items.length, from + MAX_ROWS);
    for (let i = from; i < to; i++) box.appendChild(make(items[i]));
    if (to < items.length) {
      const b = el("button", { class: "show-more", type: "button", text: `Show ${fmtNum(Math.min(MAX_ROWS, items.length - to))} more of ${fmtNum(items.length - to)}` });
      b.addEventListener("click", () => { b.remove(); appendRows(box, items, make, to); });
      box.appendChild(b);
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
    for (const e of document.querySelectorAll(".node.selected")) e.classList.remove("selected");
    if (rowEl) rowEl.classList.add("selected");
    state.selected = node;
    renderDetails();
  }

  function renderDetails() {
    const box = clear($("details"));
    const node = state.selected;
    box.hidden = !node;
    if (!node) return;
    const p = node.tree.profile, s = node.sums, u = p.units, m = p.meta, t = p.totals;
    box.appendChild(el("h2", { text: "Selected node" }));
    const close = el("button", { class: "close", type: "button", text: "×", "aria-label": "close details" });
    close.addEventListener("click", () => selectNode(null));
    box.appendChild(close);
    const dl = el("dl");
    const add = (k, v) => { dl.appendChild(el("dt", { text: k })); dl.appendChild(el("dd", { text: v })); };
    add("Program points", fmtNum(node.pps.length));
    add("Total", `${fmtBytes(s[TB], u.bytes)} (${fmtPct(s[TB], t[TB])}) in ${fmtNum(s[TBK])} ${u.blocks} (${fmtPct(s[TBK], t[TBK])}), avg size ${fmtNum(s[TBK] ? s[TB] / s[TBK] : 0)} ${u.bytes}`);
    if (m.bklt) {
      add("Avg lifetime", `${fmtNum(s[TBK] ? s[TL] / s[TBK] : 0)} ${m.tu} (${fmtPct(s[TBK] ? s[TL] / s[TBK] : 0, m.te)} of the run)`);
      add(node.pps.length === 1 ? "Max live" : "Max live (sum of per-site maxima)", `${fmtBytes(s[MB], u.bytes)} in ${fmtNum(s[MBK])} ${u.blocks}`);
      add("At t-gmax", `${fmtBytes(s[GB], u.bytes)} (${fmtPct(s[GB], t[GB])}) in ${fmtNum(s[GBK])} ${u.blocks}`);
      add("At t-end", `${fmtBytes(s[EB], u.bytes)} (${fmtPct(s[EB], t[EB])}) in ${fmtNum(s[EBK])} ${u.blocks}`);
    }
    if (m.bkacc) {
      add("Reads", `${fmtBytes(s[RB], u.bytes)} (${fmtNum(s[TB] ? s[RB] / s[TB] : 0)}/${u.byte})`);
      add("Writes", `${fmtBytes(s[WB], u.bytes)} (${fmtNum(s[TB] ? s[WB] / s[TB] : 0)}/${u.byte})`);
    }
    box.appendChild(dl);
    // The path from the tree root to this node, in tree order.
    const path = [];
    for (let n = node; n && n.parent; n = n.parent) path.unshift(...n.frames);
    if (path.length) {
      box.appendChild(el("h3", { text: node.tree.dir === 1 ? "Frames (allocation site first)" : "Frames (outermost first)" }));
      const ol = el("ol", { class: "stack" });
      for (const f of path) ol.appendChild(el("li", { text: frameLabel(p, f).text }));
      box.appendChild(ol);
    }
  }

  // ---------------------------------------------------------------- flame graph

  const ROW_H = 18;

  function flameColor(profile, frame, ancestor) {
    if (frame === null) return "#b9c4d0";
    if (frame === FRAME_HERE) return "#d8d8d8";
    if (state.match) return state.match[frame] ? "#f5b400" : "#d9d9d9";
    // Colour by crate/module (first path segment) so related frames look alike.
    const fn = profile.frames.func[frame];
    const key = fn.replace(/^<+/, "").split(/::|\s|\(/)[0];
    let h = 0;
    for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0;
    const light = ancestor ? 82 : 62 + (h % 10);
    return `hsl(${10 + (h % 45)}, ${55 + (h % 30)}%, ${light}%)`;
  }

  function renderFlame() {
    if (!state.current) return;
    const canvas = $("flame"), wrap = $("flame-wrap");
    const width = Math.max(300, wrap.clientWidth || 900);
    const rects = M.layoutFlame(state.trees.main.root, state.flameZoom, state.metric, width);
    state.flameRects = rects;
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
    const p = state.current;
    const charW = ctx.measureText("m").width * 0.8;
    for (const r of rects) {
      const y = r.row * ROW_H;
      ctx.fillStyle = flameColor(p, r.frame, r.ancestor);
      ctx.fillRect(r.x, y, Math.max(r.w - 0.5, 0.5), ROW_H - 1);
      if (r.w > 24) {
        const text = r.frame === null ? r.node.label || "all" : frameLabel(p, r.frame).func;
        const maxChars = Math.floor((r.w - 6) / charW);
        const shown = text.length > maxChars ? text.slice(0, Math.max(0, maxChars - 1)) + "…" : text;
        ctx.fillStyle = "#1b1b1b";
        ctx.fillText(shown, r.x + 3, y + ROW_H / 2);
      }
    }
    const zoom = state.flameZoom;
    $("flame-zoom").textContent = zoom
      ? `Zoomed to: ${frameLabel(p, zoom.frames[0]).func} (${valueText(state.metric, zoom.sums)}). Click a bar above to zoom out.`
      : `Showing everything: ${valueText(state.metric, state.trees.main.root.sums)}. Click a bar to zoom in.`;
    $("flame-reset").disabled = !zoom;
  }

  function flameHit(ev) {
    const canvas = $("flame");
    const b = canvas.getBoundingClientRect();
    const x = ev.clientX - b.left, y = ev.clientY - b.top;
    const row = Math.floor(y / ROW_H);
    for (const r of state.flameRects) if (r.row === row && x >= r.x && x < r.x + r.w) return r;
    return null;
  }

  function setupFlame() {
    const canvas = $("flame"), tip = $("flame-tip");
    canvas.addEventListener("mousemove", (ev) => {
      const r = flameHit(ev);
      if (!r) { tip.hidden = true; return; }
      const p = state.current, metric = state.metric;
      clear(tip);
      const name = r.frame === null ? r.node.label || "all program points" : frameLabel(p, r.frame).text;
      tip.appendChild(el("div", { class: "fn", text: name }));
      tip.appendChild(el("div", { text: `${valueText(metric, r.node.sums)} (${pctText(metric, r.node.sums)})` }));
      tip.appendChild(el("div", { class: "hint", text: `${fmtNum(r.node.pps.length)} program points` }));
      tip.hidden = false;
      const wrapBox = $("flame-wrap").getBoundingClientRect();
      const left = Math.min(ev.clientX - wrapBox.left + 12, wrapBox.width - 320);
      tip.style.left = Math.max(0, left) + "px";
      tip.style.top = (ev.clientY - wrapBox.top + 14) + "px";
    });
    canvas.addEventListener("mouseleave", () => { tip.hidden = true; });
    canvas.addEventListener("click", (ev) => {
      const r = flameHit(ev);
      if (!r) return;
      state.flameZoom = r.node.parent ? r.node : null; // clicking the root resets
      renderFlame();
    });
    $("flame-reset").addEventListener("click", () => { state.flameZoom = null; renderFlame(); });
    window.addEventListener("resize", () => { if (state.tab === "panel-flame") renderFlame(); });
  }

  // ---------------------------------------------------------------- bottom-up view

  function renderBottomUp() {
    const box = clear($("bottomup"));
    if (!state.current) return;
    const group = $("bu-group").value, sortBy = $("bu-sort").value;
    if (!state.bottomUp || state.bottomUp.group !== group) state.bottomUp = M.bottomUp(state.current, state.trees.main.root.pps, group); // respects the search filter
    const bu = state.bottomUp, metric = state.metric;
    const rows = bu.rows.slice().sort((a, b) => (metric.value(b[sortBy]) - metric.value(a[sortBy])) ||
      (metric.value(b.total) - metric.value(a.total)) || (a.name < b.name ? -1 : 1));
    const tw = thresholdWeight();
    const shown = rows.filter((r) => Math.abs(metric.weight(r.total)) >= tw && metric.weight(r.total) !== 0);
    const hidden = rows.length - shown.length;
    const table = el("div", { class: "bu-table", role: "tree" });
    table.appendChild(el("div", { class: "bu-head" },
      el("span", { class: "val", text: "Self" }), el("span", { class: "pct", text: "" }),
      el("span", { class: "val", text: "Total" }), el("span", { class: "pct", text: "" }),
      el("span", { text: group === "func" ? "Function" : "Source line" })));
    appendRows(table, shown, (r) => bottomUpRow(r, bu));
    box.appendChild(table);
    if (hidden > 0) box.appendChild(el("p", { class: "hint", text: `${fmtNum(hidden)} entries below the fold threshold are not listed (set “Fold below” to “nothing” to list them).` }));
  }

  function bottomUpRow(r, bu) {
    const metric = state.metric, p = state.current;
    const wrap = el("div", { class: "node bu-row" });
    const row = el("div", { class: "row" });
    const toggle = el("button", { class: "toggle", type: "button", "aria-label": "show callers", text: "▶" });
    row.append(toggle, ...metricCells(metric, r.self, { bar: false }), ...metricCells(metric, r.total, { bar: false }));
    const name = el("span", { class: "frames" }, el("span", { class: "fn", text: r.name }));
    if (state.match && r.name.toLowerCase().includes(state.search.trim().toLowerCase())) { wrap.classList.add("match"); name.firstChild.classList.add("hit"); }
    row.appendChild(name);
    wrap.appendChild(row);
    const kids = el("div", { class: "kids", role: "group" });
    wrap.appendChild(kids);
    toggle.addEventListener("click", () => {
      if (kids.firstChild) { clear(kids); toggle.textContent = "▶"; return; }
      toggle.textContent = "▼";
      const root = M.callersTree(p, bu, r.id).root;
      const { sig, insig } = sortedKids(root, metric, thresholdWeight());
      appendRows(kids, sig, (k) => nodeElement(k, false));
      if (insig.length) kids.appendChild(insigRow(insig, kids));
    });
    return wrap;
  }

  // ---------------------------------------------------------------- comparison view

  function renderCompare() {
    const box = clear($("compare"));
    const cur = state.current, base = state.baseline;
    if (!cur) return;
    if (!base) {
      box.appendChild(el("p", { class: "drop-hint", text: "Load a baseline (an earlier run) with “Compare with baseline…” or drop it here to see which allocation sites grew, shrank, appeared or disappeared." }));
      return;
    }
    // The metric list comes from the current file; the baseline may lack the counter.
    const metric = state.metric;
    const unit = metric.unit;
    const fmt = (n) => (unit.startsWith("byte") ? fmtBytes(n, unit) : `${fmtNum(n)} ${unit}`);
    const bt = metric.value(base.totals), ct = metric.value(cur.totals);
    box.appendChild(el("p", { id: "cmp-totals", class: "cmp-totals" },
      el("b", { text: metric.label }), `: baseline "${base.name}" ${fmt(bt)} → current "${cur.name}" ${fmt(ct)}, change `,
      el("span", { class: ct > bt ? "up" : ct < bt ? "down" : "", text: `${fmtSigned(ct - bt)} ${unit}${bt ? ` (${fmtSigned(Math.round(1e4 * (ct - bt) / bt) / 100)}%)` : ""}` })));
    if (base.meta.mode !== cur.meta.mode) box.appendChild(el("p", { class: "warn", text: `The files have different modes ("${base.meta.mode}" and "${cur.meta.mode}"); the comparison may not be meaningful.` }));
    if (base.sampled || cur.sampled) box.appendChild(el("p", { class: "hint", text: "At least one file holds sampled estimates: small differences can be sampling noise." }));
    const res = M.compareProfiles(base, cur, metric);
    const sections = [
      ["grew", "Grew", "sites in both runs whose value went up"],
      ["shrank", "Shrank", "sites in both runs whose value went down"],
      ["appeared", "Appeared", "sites only in the current run"],
      ["disappeared", "Disappeared", "sites only in the baseline"],
    ];
    for (const [id, title, what] of sections) {
      const list = res[id];
      const sec = el("section", { id: `cmp-${id}`, class: "cmp-section", "data-count": list.length });
      sec.appendChild(el("h2", { text: `${title} (${fmtNum(list.length)})` }, ));
      sec.appendChild(el("p", { class: "hint", text: what }));
      const table = el("div", { class: "cmp-table" });
      appendRows(table, list, (r) => compareRow(r, fmt, unit));
      sec.appendChild(table);
      box.appendChild(sec);
    }
    box.appendChild(el("p", { class: "hint", id: "cmp-unchanged", text: `${fmtNum(res.unchanged)} sites unchanged.` }));
  }

  function compareRow(r, fmt, unit) {
    const frames = r.key === "" ? ["(empty stack)"] : r.key.split("\n");
    const first = describeFrames([frames[0]]);
    const d = el("details", { class: "cmp-row" });
    const summary = el("summary", {},
      el("span", { class: "delta " + (r.delta > 0 ? "up" : r.delta < 0 ? "down" : ""), text: `${fmtSigned(r.delta)} ${unit}` }),
      el("span", { class: "val", text: `${fmt(r.before)} → ${fmt(r.after)}` }),
      el("span", { class: "frames" }, el("span", { class: "site-fn fn", text: first.func[0] }),
        first.loc[0] ? el("span", { class: "loc", text: ` (${first.loc[0]})` }) : null,
        frames.length > 1 ? el("span", { class: "loc", text: ` ← ${describeFrames([frames[1]]).func[0]}` }) : null));
    d.appendChild(summary);
    const ol = el("ol", { class: "stack" });
    for (const f of frames) ol.appendChild(el("li", { text: f }));
    d.appendChild(ol);
    return d;
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
      renderViews();
    });
    $("order").addEventListener("change", (e) => { state.order = e.target.value; renderAll(); });
    $("threshold").addEventListener("change", (e) => { state.thresholdPct = Number(e.target.value); renderViews(); });
    let searchTimer = 0;
    $("search").addEventListener("input", (e) => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => { state.search = e.target.value; renderAll(); }, 150);
    });
    $("search-filter").addEventListener("change", (e) => { state.filter = e.target.checked; renderAll(); });
    $("bu-group").addEventListener("change", renderBottomUp);
    $("bu-sort").addEventListener("change", renderBottomUp);
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
    parse: parseDhat,
    loadText: (text, name, role) => loadText(text, name || "text", role || "current"),
    flameRects: () => state.flameRects.map((r) => ({
      x: r.x, y: r.row * ROW_H, w: r.w, h: ROW_H,
      label: r.frame === null ? r.node.label || "all" : frameLabel(state.current, r.frame).func, ancestor: !!r.ancestor,
    })),
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
