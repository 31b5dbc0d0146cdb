// allocsite viewer, the views: the top call sites table (the page opens on it).
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

  const { TB, fmtNum } = M;
  const { $, el, clear, state, appendRows, valueText, pctText, pctHeader, classTag, renderDetails } = V;

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

  Object.assign(V, { renderSites, siteCell });
})(window.AllocsiteModel, window.AllocsiteViews || (window.AllocsiteViews = {}));
