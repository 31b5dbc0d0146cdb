// allocsite viewer, the views: the call tree, the flame graph (and the drawing the
// comparison's diff flame graph shares) and the bottom-up table.
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

  const { NF, FRAME_HERE, fmtNum, hasKids, sortedKids, frameLabel } = M;
  const { $, el, clear, state, appendRows, viewOf, minShare, valueText, pctText, pctHeader } = V;
  const { metricCells, metricHeader, classTag, selectNode } = V;

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
      if (state.tab === "panel-compare" && state.diff) V.renderDiffFlame(); // views/compare.js
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

  Object.assign(V, {
    renderTree, renderFlame, setupFlame, renderBottomUp,
    ROW_H, drawFlame, flameHit, placeTip, maxFlameRows, rectLabel,
  });
})(window.AllocsiteModel, window.AllocsiteViews || (window.AllocsiteViews = {}));
