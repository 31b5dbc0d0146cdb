// allocsite viewer, the views: the shell. Loading files (picked, dropped or embedded in
// a report), the summary, the tabs, redrawing what changed, the controls' wiring, and the
// `window.allocsiteViewer` hook for tests. Loaded last: it starts the page.
//
// SPDX-License-Identifier: MIT OR Apache-2.0
//
// A classic script, no imports, no network: one of the views' files (views/*.js), which
// index.html loads in order after the model (model/*.js, the global `AllocsiteModel`, M)
// and src/report/html.rs inlines in the same order. Each adds what the later ones use to
// the global `AllocsiteViews` (V), and reads what the files before it added; views/shell.js
// comes last and starts the page. Every string that comes from a data file is put in the
// page with textContent / createTextNode, never as HTML.
(function (M, V) {
  "use strict";

  const { TB, TBK, GB, GBK, EB, EBK, RB, WB, fmtNum, fmtPct, fmtBytes, DhatError, parseDhat, metricsFor, frameLabel } = M;
  const { $, el, clear, state, viewOf, ppsOf, sourceText, renderDetails } = V;
  const { renderSites, renderTree, renderFlame, setupFlame, renderBottomUp, renderCompare, ROW_H } = V;

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

  // ---------------------------------------------------------------- rendering: common

  function fillMetricSelect() {
    const sel = clear($("metric"));
    for (const m of state.metrics) sel.appendChild(el("option", { value: m.id, text: m.label }));
    sel.value = state.metric.id;
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
})(window.AllocsiteModel, window.AllocsiteViews || (window.AllocsiteViews = {}));
