// allocsite viewer, the views: what they share. DOM helpers, the page's state, the
// metric cells every table builds its columns with, long lists, and the details panel.
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

  const { TB, TBK, TL, MB, MBK, GB, GBK, EB, EBK, RB, WB, fmtNum, fmtPct, fmtBytes, frameLabel } = M;

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

  // ---------------------------------------------------------------- the files as the views show them

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

  // The current file as the views show it: with library frames collapsed or not.
  const viewOf = (p) => (state.collapse ? M.collapsedView(p) : p);

  // The pps a file's views cover: the search (for the current file) and dh_view's filters.
  function ppsOf(p, withSearch) {
    let pps = withSearch && state.match && state.filter ? M.ppsMatching(p, state.match) : M.allPps(p);
    return M.filterPps(p, pps, state.filters);
  }

  const minShare = () => state.thresholdPct / 100;

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

  // ---------------------------------------------------------------- long lists

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

  Object.assign(V, {
    $, el, clear, state, appendRows, viewOf, ppsOf, minShare, sourceText,
    valueText, pctText, pctHeader, metricCells, metricHeader, classTag, selectNode, renderDetails, stackList,
  });
})(window.AllocsiteModel, window.AllocsiteViews || (window.AllocsiteViews = {}));
