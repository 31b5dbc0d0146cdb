// allocsite viewer: reads DHAT JSON (dhatFileVersion 2) and shows a call tree, a flame
// graph, a bottom-up view and a comparison of two runs.
//
// SPDX-License-Identifier: MIT OR Apache-2.0
//
// One classic script, no imports, no network: src/report/html.rs inlines it into
// index.html. Every string that comes from a data file is put in the page with
// textContent / createTextNode, never as HTML.
//
// Data model. A DHAT file has `pps` (program points: one per distinct stack) and `ftbl`
// (frame strings). Each pp has counters (tb, tbk, ...) and `fs`, a list of ftbl indices
// where fs[0] is the innermost frame (the allocation site) and the last is the
// outermost (main). We copy the counters into one Float64Array (NF numbers per pp) and
// build trees lazily: a tree node holds the list of pps that pass through it and, for
// each of them, the position in `fs` of the next frame to look at. Children are only
// grouped when a node is expanded or drawn, so a 100,000-pp file costs one pass over the
// pps to show the top level.
"use strict";

(function () {
  // ---------------------------------------------------------------- constants

  const FIELDS = ["tb", "tbk", "tl", "mb", "mbk", "gb", "gbk", "eb", "ebk", "rb", "wb"];
  const NF = FIELDS.length;
  const TB = 0, TBK = 1, TL = 2, MB = 3, MBK = 4, GB = 5, GBK = 6, EB = 7, EBK = 8, RB = 9, WB = 10;

  // Synthetic frame ids used in trees.
  const FRAME_HERE = -1;   // "the stack ends here" child of an internal node

  const MAX_ROWS = 300;    // rows rendered per list before a "show more" button

  const numFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
  const pctFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2, minimumFractionDigits: 2 });

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

  // ---------------------------------------------------------------- formatting

  function fmtNum(n) {
    if (!Number.isFinite(n)) return n > 0 ? "∞" : n < 0 ? "-∞" : "n/a";
    return numFmt.format(n);
  }

  function fmtPct(num, den) {
    if (den === 0) return num === 0 ? "0.00%" : "∞";
    return pctFmt.format((100 * num) / den) + "%";
  }

  // "8,760 bytes" plus a binary-prefixed size for byte-like units: "8,760 bytes (8.55 KiB)".
  function fmtBytes(n, unit) {
    let s = `${fmtNum(n)} ${unit}`;
    if (/^bytes?\b/.test(unit) && Math.abs(n) >= 1024) {
      const units = ["KiB", "MiB", "GiB", "TiB"];
      let v = Math.abs(n), i = -1;
      while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
      s += ` (${n < 0 ? "-" : ""}${numFmt.format(Math.round(v * 100) / 100)} ${units[i]})`;
    }
    return s;
  }

  function fmtSigned(n) {
    return (n > 0 ? "+" : "") + fmtNum(n);
  }

  // ---------------------------------------------------------------- JSON error location

  class DhatError extends Error {}

  // JSON.parse messages differ between engines and sometimes carry no position, so when
  // parsing fails we re-scan the text with a small validator that reports where the
  // first problem is, and whether the text simply stopped early (a truncated file).
  function locateJsonError(text) {
    let i = 0;
    const n = text.length;
    const fail = (what) => { throw { pos: i, what }; };
    const ws = () => { while (i < n && (text[i] === " " || text[i] === "\n" || text[i] === "\r" || text[i] === "\t")) i++; };
    const expectChar = (c, what) => { if (text[i] !== c) fail(what || `expected '${c}'`); i++; };
    function value(depth) {
      ws();
      if (i >= n) fail("expected a value");
      const c = text[i];
      if (c === "{") {
        i++; ws();
        if (text[i] === "}") { i++; return; }
        for (;;) {
          ws();
          if (text[i] !== '"') fail("expected a double-quoted property name");
          string(); ws();
          expectChar(":", "expected ':' after a property name");
          value(depth + 1); ws();
          if (text[i] === ",") { i++; continue; }
          expectChar("}", "expected ',' or '}' after a property value");
          return;
        }
      }
      if (c === "[") {
        i++; ws();
        if (text[i] === "]") { i++; return; }
        for (;;) {
          value(depth + 1); ws();
          if (text[i] === ",") { i++; continue; }
          expectChar("]", "expected ',' or ']' after an array element");
          return;
        }
      }
      if (c === '"') return string();
      if (c === "-" || (c >= "0" && c <= "9")) {
        const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
        if (!m) fail("malformed number");
        i += m[0].length;
        return;
      }
      for (const lit of ["true", "false", "null"]) {
        if (text.startsWith(lit, i)) { i += lit.length; return; }
        if (lit.startsWith(text.slice(i, n)) && n - i < lit.length) { i = n; fail("expected a value"); }
      }
      fail(`unexpected character ${JSON.stringify(c)}`);
    }
    function string() {
      i++; // opening quote
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c === 34) { i++; return; }
        if (c === 92) { i += 2; continue; }
        if (c < 32) fail("control character inside a string");
        i++;
      }
      fail("unterminated string");
    }
    try {
      value(0); ws();
      if (i < n) fail("unexpected text after the end of the JSON value");
      return null;
    } catch (e) {
      if (e instanceof Error) throw e;
      const before = text.slice(0, Math.min(e.pos, n));
      const line = (before.match(/\n/g) || []).length + 1;
      const column = e.pos - (before.lastIndexOf("\n") + 1) + 1;
      return { pos: e.pos, line, column, what: e.what, truncated: e.pos >= n };
    }
  }

  function describeJsonError(text, engineError) {
    const loc = locateJsonError(text);
    if (!loc) return `not JSON: ${engineError.message}`;
    if (loc.truncated) {
      return `the file is truncated: the JSON ends at line ${loc.line} column ${loc.column} before it is complete (${loc.what})`;
    }
    return `not JSON at line ${loc.line} column ${loc.column}: ${loc.what}`;
  }

  // ---------------------------------------------------------------- parsing + validation

  const kind = (v) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : `a ${typeof v}`);

  // Parses and validates DHAT text. Returns a profile object or throws DhatError with a
  // message that names the problem. The rules follow Valgrind's dh_main.c file-format
  // notes: the fields dh_view requires are required here too; the counters a mode does
  // not record are optional and read as 0.
  function parseDhat(text) {
    if (text.trim() === "") throw new DhatError("the file is empty");
    let d;
    try {
      d = JSON.parse(text);
    } catch (e) {
      throw new DhatError(describeJsonError(text, e));
    }
    if (d === null || typeof d !== "object" || Array.isArray(d)) {
      throw new DhatError(`not a DHAT file: the JSON top level is ${kind(d)}, expected an object`);
    }
    if (!("dhatFileVersion" in d)) throw new DhatError('not a DHAT file: missing field "dhatFileVersion"');
    if (d.dhatFileVersion !== 2) {
      throw new DhatError(`unsupported file version: dhatFileVersion is ${JSON.stringify(d.dhatFileVersion)}, expected 2`);
    }
    const required = ["mode", "verb", "bklt", "bkacc", "tu", "Mtu", "cmd", "pid", "te", "pps", "ftbl"];
    if (d.bklt) required.push("tg", "tuth");
    for (const f of required) {
      if (!(f in d)) throw new DhatError(`missing field "${f}" at the top level`);
    }
    if (!Array.isArray(d.pps)) throw new DhatError(`field "pps" is ${kind(d.pps)}, expected an array`);
    if (!Array.isArray(d.ftbl)) throw new DhatError(`field "ftbl" is ${kind(d.ftbl)}, expected an array`);
    for (const f of ["te"].concat(d.bklt ? ["tg"] : [])) {
      if (typeof d[f] !== "number") throw new DhatError(`field "${f}" is ${kind(d[f])}, expected a number`);
    }
    const ftbl = d.ftbl;
    for (let i = 0; i < ftbl.length; i++) {
      if (typeof ftbl[i] !== "string") throw new DhatError(`ftbl[${i}] is ${kind(ftbl[i])}, expected a string`);
    }

    const n = d.pps.length;
    const nframes = ftbl.length;
    const vals = new Float64Array(n * NF);
    const fs = new Array(n);
    const totals = new Float64Array(NF);
    const need = ["tb", "tbk", "fs"];
    if (d.bklt) need.push("mb", "mbk", "gb", "gbk", "eb", "ebk");
    if (d.bkacc) need.push("rb", "wb");
    for (let p = 0; p < n; p++) {
      const pp = d.pps[p];
      if (pp === null || typeof pp !== "object" || Array.isArray(pp)) {
        throw new DhatError(`program point pps[${p}] is ${kind(pp)}, expected an object`);
      }
      for (const f of need) {
        if (!(f in pp)) throw new DhatError(`program point pps[${p}] is missing field "${f}"`);
      }
      const base = p * NF;
      for (let k = 0; k < NF; k++) {
        const v = pp[FIELDS[k]];
        if (v === undefined) continue; // e.g. tl, or counters the mode does not record
        if (typeof v !== "number") {
          throw new DhatError(`program point pps[${p}] field "${FIELDS[k]}" is ${kind(v)}, expected a number`);
        }
        vals[base + k] = v;
        totals[k] += v;
      }
      const f = pp.fs;
      if (!Array.isArray(f)) throw new DhatError(`program point pps[${p}] field "fs" is ${kind(f)}, expected an array`);
      for (let j = 0; j < f.length; j++) {
        const x = f[j];
        if (!Number.isInteger(x) || x < 0 || x >= nframes) {
          throw new DhatError(`program point pps[${p}] has frame index ${JSON.stringify(x)} at fs[${j}], ` +
            `but ftbl has ${nframes} entries (valid indices 0 to ${nframes - 1})`);
        }
      }
      fs[p] = f;
    }

    const meta = {};
    for (const [k, v] of Object.entries(d)) if (k !== "pps" && k !== "ftbl") meta[k] = v;
    const units = {
      byte: typeof d.bu === "string" ? d.bu : "byte",
      bytes: typeof d.bsu === "string" ? d.bsu : "bytes",
      blocks: typeof d.bksu === "string" ? d.bksu : "blocks",
    };
    const ext = d.allocsite && typeof d.allocsite === "object" ? d.allocsite : null;
    const sampled = (ext && ext.sampled === true) || /est/i.test(units.bytes + " " + units.blocks + " " + units.byte);
    return { meta, ext, units, sampled, frames: describeFrames(ftbl), n, vals, fs, totals };
  }

  // Splits every frame string once: "0x4AA1D9F: func (file.c:332)" -> func, location,
  // and the text without the address (used for search and for matching between runs).
  function describeFrames(ftbl) {
    const n = ftbl.length;
    const text = new Array(n), func = new Array(n), loc = new Array(n);
    for (let i = 0; i < n; i++) {
      const t = ftbl[i].replace(/^0x[0-9a-fA-F]+:\s*/, "");
      text[i] = t;
      let f = t, l = "";
      // The location is the last balanced "(...)" at the end, after a space. Function
      // names can contain parentheses themselves, so match from the right.
      if (t.endsWith(")")) {
        let depth = 0;
        for (let j = t.length - 1; j >= 0; j--) {
          const c = t[j];
          if (c === ")") depth++;
          else if (c === "(" && --depth === 0) {
            if (j > 0 && t[j - 1] === " ") { f = t.slice(0, j - 1); l = t.slice(j + 1, -1); }
            break;
          }
        }
      }
      func[i] = f;
      loc[i] = l;
    }
    // Frames that differ only in their address (inlined code, or the same line reached
    // from several call instructions) are the same to a reader: trees group them by
    // canon[i], the first index with the same text.
    const canon = new Int32Array(n), seen = new Map();
    for (let i = 0; i < n; i++) {
      const first = seen.get(text[i]);
      if (first === undefined) { seen.set(text[i], i); canon[i] = i; } else canon[i] = first;
    }
    return { raw: ftbl, text, func, loc, canon, lower: null };
  }

  // ---------------------------------------------------------------- metrics

  // Every metric is computed from a node's summed counters. `weight` decides flame
  // widths and what counts as insignificant; it equals the value for additive metrics.
  function metricsFor(profile) {
    const u = profile.units, m = profile.meta;
    const list = [
      { id: "tb", label: `Total (${u.bytes})`, unit: u.bytes, value: (s) => s[TB] },
      { id: "tbk", label: `Total (${u.blocks})`, unit: u.blocks, value: (s) => s[TBK] },
    ];
    if (m.bklt) {
      list.push(
        { id: "mb", label: `Max live (${u.bytes}; sum of per-site maxima)`, unit: u.bytes, value: (s) => s[MB] },
        { id: "gb", label: `At the global peak, t-gmax (${u.bytes})`, unit: u.bytes, value: (s) => s[GB] },
        { id: "eb", label: `At the end, t-end (${u.bytes})`, unit: u.bytes, value: (s) => s[EB] },
        { id: "lt", label: `Average lifetime (${m.tu})`, unit: String(m.tu), ratio: true,
          value: (s) => (s[TBK] === 0 ? 0 : s[TL] / s[TBK]), weight: (s) => s[TBK] });
    }
    if (m.bkacc) {
      list.push(
        { id: "rb", label: `Reads (${u.bytes})`, unit: u.bytes, value: (s) => s[RB] },
        { id: "wb", label: `Writes (${u.bytes})`, unit: u.bytes, value: (s) => s[WB] });
    }
    for (const x of list) if (!x.weight) x.weight = x.value;
    return list;
  }

  // ---------------------------------------------------------------- lazy trees

  // A node: frames (a chain of frame indices, merged while there is a single child),
  // pps (Int32Array of pp indices), pos (Int32Array: next fs position per pp), sums.
  // `dir` is +1 to walk from the allocation site outwards, -1 to walk from main inwards.
  class Node {
    constructor(tree, parent, frames, pps, pos) {
      this.tree = tree;
      this.parent = parent;
      this.frames = frames;
      this.pps = pps;
      this.pos = pos;
      this.kids = null;
      this.sums = sumPps(tree.profile, pps);
      this.depth = parent ? parent.depth + parent.frames.length : 0; // rows above this node
    }
  }

  function sumPps(profile, pps) {
    const s = new Float64Array(NF), v = profile.vals;
    for (let i = 0; i < pps.length; i++) {
      const b = pps[i] * NF;
      for (let k = 0; k < NF; k++) s[k] += v[b + k];
    }
    return s;
  }

  // Builds a tree over `pps`. startPos(p) gives each pp's first fs position.
  function makeTree(profile, pps, dir, startPos, label) {
    const tree = { profile, dir };
    const pos = new Int32Array(pps.length);
    for (let i = 0; i < pps.length; i++) pos[i] = startPos(pps[i]);
    tree.root = new Node(tree, null, [], pps, pos);
    tree.root.label = label;
    return tree;
  }

  // Groups a node's pps by their next frame, creating child nodes (once).
  function kidsOf(node) {
    if (node.kids) return node.kids;
    const { profile, dir } = node.tree;
    const fs = profile.fs, pps = node.pps, pos = node.pos, canon = profile.frames.canon;
    const groups = new Map(); // frame -> array of i (indices into pps)
    for (let i = 0; i < pps.length; i++) {
      const f = fs[pps[i]], p = pos[i];
      const key = p >= 0 && p < f.length ? canon[f[p]] : FRAME_HERE;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      g.push(i);
    }
    node.kids = [];
    // A node whose stacks all end here is a leaf.
    if (groups.size === 1 && groups.has(FRAME_HERE)) return node.kids;
    for (const [key, idx] of groups) {
      const kp = new Int32Array(idx.length), kpos = new Int32Array(idx.length);
      for (let j = 0; j < idx.length; j++) {
        kp[j] = pps[idx[j]];
        kpos[j] = key === FRAME_HERE ? -2 : pos[idx[j]] + dir;
      }
      const frames = [key];
      if (key !== FRAME_HERE) extendChain(fs, canon, kp, kpos, frames, dir);
      node.kids.push(new Node(node.tree, node, frames, kp, kpos));
    }
    return node.kids;
  }

  // dh_view-style path compression: while every pp of a new node continues with the
  // same frame, fold that frame into the node instead of making a one-child chain.
  function extendChain(fs, canon, kp, kpos, frames, dir) {
    for (;;) {
      const f0 = fs[kp[0]], p0 = kpos[0];
      if (p0 < 0 || p0 >= f0.length) return;
      const next = canon[f0[p0]];
      for (let j = 1; j < kp.length; j++) {
        const f = fs[kp[j]], p = kpos[j];
        if (p < 0 || p >= f.length || canon[f[p]] !== next) return;
      }
      frames.push(next);
      for (let j = 0; j < kp.length; j++) kpos[j] += dir;
    }
  }

  // Whether a node has children, without building them: true unless every pp's
  // stack ends at this node.
  function hasKids(node) {
    if (node.kids) return node.kids.length > 0;
    const fs = node.tree.profile.fs, pps = node.pps, pos = node.pos;
    for (let i = 0; i < pps.length; i++) if (pos[i] >= 0 && pos[i] < fs[pps[i]].length) return true;
    return false;
  }

  // Sorted kids split into significant ones and the folded rest.
  function sortedKids(node, metric, thresholdWeight) {
    const kids = kidsOf(node).slice();
    const v = (n) => metric.value(n.sums);
    kids.sort((a, b) => (v(b) - v(a)) || (b.sums[TB] - a.sums[TB]) || (b.pps.length - a.pps.length));
    const sig = [], insig = [];
    for (const k of kids) (Math.abs(metric.weight(k.sums)) >= thresholdWeight && metric.weight(k.sums) !== 0 ? sig : insig).push(k);
    // Never fold a single node: "1 insignificant" hides nothing useful.
    if (insig.length === 1) { sig.push(insig[0]); insig.length = 0; }
    return { sig, insig };
  }

  function frameLabel(profile, f) {
    if (f === FRAME_HERE) return { func: "(stack ends here)", loc: "", text: "(stack ends here)" };
    const fr = profile.frames;
    return { func: fr.func[f], loc: fr.loc[f], text: fr.text[f] };
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
    computeMatch();
    let pps;
    if (state.match && state.filter) {
      const keep = [];
      for (let i = 0; i < p.n; i++) if (ppMatches(p, i)) keep.push(i);
      pps = Int32Array.from(keep);
    } else {
      pps = new Int32Array(p.n);
      for (let i = 0; i < p.n; i++) pps[i] = i;
    }
    const dir = state.order === "callers" ? 1 : -1;
    state.trees = {
      main: makeTree(p, pps, dir, dir === 1 ? () => 0 : (i) => p.fs[i].length - 1, "All program points"),
    };
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

  function computeMatch() {
    const p = state.current;
    const q = state.search.trim().toLowerCase();
    if (!q) { state.match = null; return; }
    const fr = p.frames;
    if (!fr.lower) fr.lower = fr.text.map((t) => t.toLowerCase());
    const m = new Uint8Array(fr.text.length);
    for (let i = 0; i < m.length; i++) if (fr.lower[i].includes(q)) m[i] = 1;
    state.match = m;
  }

  function ppMatches(p, i) {
    const f = p.fs[i], m = state.match;
    for (let j = 0; j < f.length; j++) if (m[f[j]]) return true;
    return false;
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

  function valueText(metric, sums) {
    const v = metric.value(sums);
    return metric.unit.startsWith("byte") ? fmtBytes(v, metric.unit) : `${fmtNum(v)} ${metric.unit}`;
  }

  // Percentage column: share of the file's total, or for a ratio (average lifetime) the
  // share of the program's run time, as dh_view does.
  function pctText(metric, sums) {
    if (metric.ratio) return fmtPct(metric.value(sums), state.current.meta.te) + " of run";
    return fmtPct(metric.value(sums), metric.value(state.current.totals));
  }

  function barFraction(metric, sums) {
    const tot = Math.abs(metric.weight(state.current.totals));
    return tot === 0 ? 0 : Math.min(1, Math.abs(metric.weight(sums)) / tot);
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
    row.appendChild(el("span", { class: "val", text: valueText(metric, node.sums) }));
    row.appendChild(el("span", { class: "pct", text: pctText(metric, node.sums) }));
    const bar = el("span", { class: "bar" }, el("span", { style: `width:${(100 * barFraction(metric, node.sums)).toFixed(1)}%` }));
    row.appendChild(bar);
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
    row.append(toggle,
      el("span", { class: "val", text: valueText(metric, sums) }),
      el("span", { class: "pct", text: pctText(metric, sums) }),
      el("span", { class: "bar" }, el("span", { style: `width:${(100 * barFraction(metric, sums)).toFixed(1)}%` })),
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

  // Lays out an icicle chart: root on top, children below, widths by metric weight.
  // Nodes narrower than half a pixel are not laid out (nor are their children built).
  function layoutFlame(width) {
    const metric = state.metric, rects = [];
    const root = state.trees.main.root;
    const zoom = state.flameZoom || root;
    // Ancestors of the zoomed node are drawn full width above it, to click back up.
    const chain = [];
    for (let n = zoom.parent; n; n = n.parent) chain.unshift(n);
    let row = 0;
    for (const a of chain) {
      const k = a === root ? 1 : a.frames.length;
      for (let i = 0; i < k; i++) rects.push({ x: 0, w: width, row: row++, node: a, frame: a === root ? null : a.frames[i], ancestor: true });
    }
    const total = Math.abs(metric.weight(zoom.sums)) || 1;
    const scale = width / total;
    function place(node, x, w, r) {
      const k = node === root ? 1 : node.frames.length;
      for (let i = 0; i < k; i++) rects.push({ x, w, row: r + i, node, frame: node === root ? null : node.frames[i] });
      let cx = x;
      const kids = kidsOf(node).slice().sort((a, b) => Math.abs(metric.weight(b.sums)) - Math.abs(metric.weight(a.sums)));
      for (const kid of kids) {
        const kw = Math.abs(metric.weight(kid.sums)) * scale;
        if (kw < 0.5) break; // sorted, so the rest are smaller still
        place(kid, cx, kw, r + k);
        cx += kw;
      }
    }
    place(zoom, 0, width, row);
    return rects;
  }

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
    const rects = layoutFlame(width);
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

  // For every function (or source line): "self" sums the pps whose innermost frame is
  // in it, "total" sums the pps that have it anywhere in the stack (once per pp).
  function computeBottomUp(group) {
    const p = state.current, fr = p.frames;
    const keyOf = new Int32Array(fr.text.length);
    const names = [], ids = new Map();
    for (let f = 0; f < keyOf.length; f++) {
      let k = fr.func[f];
      if (group === "line" && fr.loc[f] && !fr.loc[f].startsWith("in ")) k = fr.loc[f].replace(/^(.*:\d+):\d+$/, "$1");
      let id = ids.get(k);
      if (id === undefined) { id = names.length; names.push(k); ids.set(k, id); }
      keyOf[f] = id;
    }
    const self = new Float64Array(names.length * NF), total = new Float64Array(names.length * NF);
    const stamp = new Int32Array(names.length).fill(-1);
    const pps = state.trees.main.root.pps; // respects the search filter
    for (let i = 0; i < pps.length; i++) {
      const pp = pps[i], f = p.fs[pp], b = pp * NF;
      if (f.length) { const o = keyOf[f[0]] * NF; for (let k = 0; k < NF; k++) self[o + k] += p.vals[b + k]; }
      for (let j = 0; j < f.length; j++) {
        const id = keyOf[f[j]];
        if (stamp[id] === i) continue;
        stamp[id] = i;
        const o = id * NF;
        for (let k = 0; k < NF; k++) total[o + k] += p.vals[b + k];
      }
    }
    const rows = [];
    for (let id = 0; id < names.length; id++) {
      if (stamp[id] === -1) continue; // not in any (filtered) stack
      rows.push({ id, name: names[id], self: self.subarray(id * NF, id * NF + NF), total: total.subarray(id * NF, id * NF + NF) });
    }
    return { group, keyOf, rows, pps };
  }

  function renderBottomUp() {
    const box = clear($("bottomup"));
    if (!state.current) return;
    const group = $("bu-group").value, sortBy = $("bu-sort").value;
    if (!state.bottomUp || state.bottomUp.group !== group) state.bottomUp = computeBottomUp(group);
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
    row.append(toggle,
      el("span", { class: "val", text: valueText(metric, r.self) }),
      el("span", { class: "pct", text: pctText(metric, r.self) }),
      el("span", { class: "val", text: valueText(metric, r.total) }),
      el("span", { class: "pct", text: pctText(metric, r.total) }));
    const name = el("span", { class: "frames" }, el("span", { class: "fn", text: r.name }));
    if (state.match && r.name.toLowerCase().includes(state.search.trim().toLowerCase())) { wrap.classList.add("match"); name.firstChild.classList.add("hit"); }
    row.appendChild(name);
    wrap.appendChild(row);
    const kids = el("div", { class: "kids", role: "group" });
    wrap.appendChild(kids);
    toggle.addEventListener("click", () => {
      if (kids.firstChild) { clear(kids); toggle.textContent = "▶"; return; }
      toggle.textContent = "▼";
      // Callers: a tree over the pps containing this entry, starting at the frame just
      // outside its first (innermost) occurrence and walking outwards.
      const sel = [], start = [];
      for (let i = 0; i < bu.pps.length; i++) {
        const f = p.fs[bu.pps[i]];
        for (let j = 0; j < f.length; j++) if (bu.keyOf[f[j]] === r.id) { sel.push(bu.pps[i]); start.push(j + 1); break; }
      }
      const tree = { profile: p, dir: 1 };
      const root = new Node(tree, null, [], Int32Array.from(sel), Int32Array.from(start));
      tree.root = root;
      const { sig, insig } = sortedKids(root, metric, thresholdWeight());
      appendRows(kids, sig, (k) => nodeElement(k, false));
      if (insig.length) kids.appendChild(insigRow(insig, kids));
    });
    return wrap;
  }

  // ---------------------------------------------------------------- comparison view

  // Program points are matched between runs by their frame strings with the "0x…:"
  // addresses removed. Several pps can map to one key (same symbols, other addresses);
  // they are summed.
  function siteMap(profile) {
    if (profile.sites) return profile.sites;
    const map = new Map(), text = profile.frames.text;
    for (let i = 0; i < profile.n; i++) {
      const f = profile.fs[i];
      let key = "";
      for (let j = 0; j < f.length; j++) key += (j ? "\n" : "") + text[f[j]];
      let s = map.get(key);
      if (!s) map.set(key, (s = { key, sums: new Float64Array(NF), pps: 0 }));
      const b = i * NF;
      for (let k = 0; k < NF; k++) s.sums[k] += profile.vals[b + k];
      s.pps++;
    }
    profile.sites = map;
    return map;
  }

  function compareProfiles(base, cur, metric) {
    const bm = siteMap(base), cm = siteMap(cur);
    const out = { grew: [], shrank: [], appeared: [], disappeared: [], unchanged: 0 };
    const v = (s) => metric.value(s.sums);
    for (const [key, c] of cm) {
      const b = bm.get(key);
      if (!b) { out.appeared.push({ key, before: 0, after: v(c), delta: v(c) }); continue; }
      const d = v(c) - v(b);
      if (d > 0) out.grew.push({ key, before: v(b), after: v(c), delta: d });
      else if (d < 0) out.shrank.push({ key, before: v(b), after: v(c), delta: d });
      else out.unchanged++;
    }
    for (const [key, b] of bm) if (!cm.has(key)) out.disappeared.push({ key, before: v(b), after: 0, delta: -v(b) });
    const byDelta = (a, b) => (Math.abs(b.delta) - Math.abs(a.delta)) || (a.key < b.key ? -1 : 1);
    for (const k of ["grew", "shrank", "appeared", "disappeared"]) out[k].sort(byDelta);
    return out;
  }

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
    const res = compareProfiles(base, cur, metric);
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
