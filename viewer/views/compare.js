// allocsite viewer, the views: the comparison of two runs (call sites that grew, shrank,
// are new or are gone, and the diff flame graph).
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

  const { fmtNum, fmtBytes, fmtSigned, frameLabel } = M;
  const { $, el, clear, state, appendRows, viewOf, ppsOf, sourceText, valueText, stackList } = V;
  const { drawFlame, flameHit, placeTip, maxFlameRows, rectLabel, siteCell } = V;

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

  Object.assign(V, { renderCompare, renderDiffFlame });
})(window.AllocsiteModel, window.AllocsiteViews || (window.AllocsiteViews = {}));
