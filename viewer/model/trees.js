// allocsite viewer, the model: metrics, lazy call trees, dh_view's filters, search, the
// flame graph layout and the bottom-up table.
//
// SPDX-License-Identifier: MIT OR Apache-2.0
//
// A classic script, no imports, no build step: one of the model's files (model/*.js), which
// index.html loads in order before the views and src/report/html.rs inlines in the same
// order. Each adds its functions to the global `AllocsiteModel` (M), and reads what the
// files before it added. No DOM: under Node, tests/load-model.mjs runs the same files.
//
// A tree node holds the list of pps that pass through it and, for each of them, the
// position in `fs` of the next frame to look at. Children are only grouped when a node is
// expanded or drawn, so a 100,000-pp file costs one pass over the pps to show the top
// level.
(function (M) {
  "use strict";

  const { NF, TB, TBK, TL, MB, GB, EB, RB, WB, FRAME_HERE, MAX_NAME, fmtNum, fmtPct, fmtBytes, clip } = M;

  // ---------------------------------------------------------------- metrics

  // Every metric is computed from a node's summed counters. `weight` decides flame
  // widths (which must add up); it equals the value for additive metrics and is the
  // block count for the average lifetime. `share` (0..1) decides bar lengths and what
  // "Fold below" folds: the share of the file's total, or for the average lifetime
  // (a ratio) the share of the program's run time, as the percentage column says.
  function metricsFor(profile) {
    const u = profile.units, m = profile.meta;
    const list = [
      { id: "tb", short: "Total", label: `Total (${u.bytes})`, unit: u.bytes, value: (s) => s[TB] },
      { id: "tbk", short: "Blocks", label: `Total (${u.blocks})`, unit: u.blocks, value: (s) => s[TBK] },
    ];
    if (m.bklt) {
      list.push(
        { id: "mb", short: "Max live", label: `Max live (${u.bytes}; sum of per-site maxima)`, unit: u.bytes, value: (s) => s[MB] },
        { id: "gb", short: "At t-gmax", label: `At the global peak, t-gmax (${u.bytes})`, unit: u.bytes, value: (s) => s[GB] },
        { id: "eb", short: "At t-end", label: `At the end, t-end (${u.bytes})`, unit: u.bytes, value: (s) => s[EB] },
        { id: "lt", short: "Avg lifetime", label: `Average lifetime (${m.tu})`, unit: String(m.tu), ratio: true,
          value: (s) => (s[TBK] === 0 ? 0 : s[TL] / s[TBK]), weight: (s) => s[TBK] });
    }
    if (m.bkacc) {
      list.push(
        { id: "rb", short: "Reads", label: `Reads (${u.bytes})`, unit: u.bytes, value: (s) => s[RB] },
        { id: "wb", short: "Writes", label: `Writes (${u.bytes})`, unit: u.bytes, value: (s) => s[WB] });
    }
    const te = typeof m.te === "number" ? m.te : 0;
    for (const x of list) {
      if (!x.weight) x.weight = x.value;
      const total = Math.abs(x.value(profile.totals));
      x.share = x.ratio
        ? (s) => (te > 0 ? Math.min(1, Math.max(0, x.value(s) / te)) : 0)
        : (s) => (total > 0 ? Math.min(1, Math.abs(x.value(s)) / total) : 0);
    }
    return list;
  }

  // The value of a metric as text with its unit: bytes with a binary-prefixed size
  // ("9,437,184 bytes (est.) (9 MiB)"), other units plain. For details and tooltips.
  function valueText(metric, sums) {
    const v = metric.value(sums);
    return metric.unit.startsWith("byte") ? fmtBytes(v, metric.unit) : `${fmtNum(v)} ${metric.unit}`;
  }

  // The value for a table cell, whose column header names the unit: "9,437,184 (9 MiB)".
  // Short enough that cells do not run into each other.
  function cellText(metric, sums) {
    return fmtCell(metric.value(sums), metric.unit);
  }

  function fmtCell(v, unit) {
    if (!String(unit).startsWith("byte") || !(Math.abs(v) >= 1024)) return fmtNum(v);
    const s = fmtBytes(v, "bytes");
    return fmtNum(v) + s.slice(s.indexOf(" ("));
  }

  // The unit as a column header shows it: "bytes (est.)", "blocks", "µs".
  function unitText(metric) {
    return String(metric.unit);
  }

  // Percentage column: share of the file's total, or for a ratio (average lifetime) the
  // share of the program's run time, as dh_view does (the column header says which).
  function pctText(profile, metric, sums) {
    if (metric.ratio) return fmtPct(metric.value(sums), profile.meta.te);
    return fmtPct(metric.value(sums), metric.value(profile.totals));
  }

  // Width of a bar (0..1): the metric's share (see metricsFor).
  function barFraction(profile, metric, sums) {
    return metric.share(sums);
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

  // The tree of all (or the given) pps, allocation site first ("callers", dir +1) or
  // from main down ("topdown", dir -1).
  function mainTree(profile, pps, order, label) {
    const dir = order === "topdown" ? -1 : 1;
    return makeTree(profile, pps, dir, dir === 1 ? () => 0 : (i) => profile.fs[i].length - 1, label);
  }

  function allPps(profile) {
    const pps = new Int32Array(profile.n);
    for (let i = 0; i < profile.n; i++) pps[i] = i;
    return pps;
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

  // Whether a node (or row) is shown rather than folded: its share of the metric is at
  // least `minShare` (0..1), and it has any of it.
  function significant(metric, sums, minShare) {
    return metric.share(sums) >= minShare && metric.value(sums) !== 0;
  }

  // Sorted kids split into significant ones and the folded rest.
  function sortedKids(node, metric, minShare) {
    const kids = kidsOf(node).slice();
    const v = (n) => metric.value(n.sums);
    kids.sort((a, b) => (v(b) - v(a)) || (b.sums[TB] - a.sums[TB]) || (b.pps.length - a.pps.length));
    const sig = [], insig = [];
    for (const k of kids) (significant(metric, k.sums, minShare) ? sig : insig).push(k);
    // Never fold a single node: "1 insignificant" hides nothing useful.
    if (insig.length === 1) { sig.push(insig[0]); insig.length = 0; }
    return { sig, insig };
  }

  // Callers of the pps that contain a bottom-up entry: a tree over those pps, starting
  // at the frame just outside the entry's first (innermost) occurrence, walking outwards.
  function callersTree(profile, bu, id) {
    const sel = [], start = [];
    for (let i = 0; i < bu.pps.length; i++) {
      const f = profile.fs[bu.pps[i]];
      for (let j = 0; j < f.length; j++) if (bu.keyOf[f[j]] === id) { sel.push(bu.pps[i]); start.push(j + 1); break; }
    }
    const tree = { profile, dir: 1 };
    tree.root = new Node(tree, null, [], Int32Array.from(sel), Int32Array.from(start));
    return tree;
  }

  // A frame's parts for display, each cut to MAX_NAME characters (`long` says whether
  // anything was cut; fullText(profile, f) has the whole text).
  function frameLabel(profile, f) {
    if (f === FRAME_HERE) return { func: "(stack ends here)", loc: "", text: "(stack ends here)", long: false };
    const fr = profile.frames;
    const t = fr.text[f];
    return { func: clip(fr.func[f]), loc: clip(fr.loc[f], 500), text: clip(t), long: t.length > MAX_NAME };
  }

  function fullText(profile, f) {
    return f === FRAME_HERE ? "(stack ends here)" : profile.frames.text[f];
  }

  // ---------------------------------------------------------------- dh_view's filters

  // dh_view's "short-lived" (average lifetime at most tuth), "tiny" (average size at most
  // 16 bytes) and "still live at the end" (eb > 0). Those that need lifetimes are only
  // available when the file records them (bklt).
  const TINY_BYTES = 16;
  function filtersAvailable(profile) {
    const bklt = !!profile.meta.bklt;
    return { short: bklt && typeof profile.meta.tuth === "number", tiny: true, live: bklt };
  }

  function filterPps(profile, pps, opts) {
    const avail = filtersAvailable(profile);
    const short = opts.short && avail.short, tiny = opts.tiny && avail.tiny, live = opts.live && avail.live;
    if (!short && !tiny && !live) return pps;
    const v = profile.vals, tuth = profile.meta.tuth, keep = [];
    for (let i = 0; i < pps.length; i++) {
      const b = pps[i] * NF, tbk = v[b + TBK];
      if (short && !(tbk > 0 && v[b + TL] / tbk <= tuth)) continue;
      if (tiny && !(tbk > 0 && v[b + TB] / tbk <= TINY_BYTES)) continue;
      if (live && !(v[b + EB] > 0)) continue;
      keep.push(pps[i]);
    }
    return Int32Array.from(keep);
  }

  // ---------------------------------------------------------------- search

  // Marks the frames whose text contains `query` (case-insensitive); null for no query.
  function matchFrames(profile, query) {
    const q = query.trim().toLowerCase();
    if (!q) return null;
    const fr = profile.frames;
    if (!fr.lower) fr.lower = fr.text.map((t) => t.toLowerCase());
    const m = new Uint8Array(fr.text.length);
    for (let i = 0; i < m.length; i++) if (fr.lower[i].includes(q)) m[i] = 1;
    return m;
  }

  // The pps with at least one marked frame.
  function ppsMatching(profile, match) {
    const keep = [];
    for (let i = 0; i < profile.n; i++) {
      const f = profile.fs[i];
      for (let j = 0; j < f.length; j++) if (match[f[j]]) { keep.push(i); break; }
    }
    return Int32Array.from(keep);
  }

  // ---------------------------------------------------------------- flame graph layout

  // Lays out an icicle chart: root on top, children below, widths by metric weight.
  // Nodes narrower than half a pixel are not laid out (nor are their children built),
  // nor are rows past `maxRows` (a canvas cannot be arbitrarily tall). Ancestors of the
  // zoomed node are laid out full width above it, to click back up. No recursion: a
  // stack can be any depth.
  function layoutFlame(root, zoomNode, metric, width, maxRows) {
    const limit = maxRows || 1500;
    const rects = [];
    const zoom = zoomNode || root;
    const chain = [];
    for (let n = zoom.parent; n; n = n.parent) chain.push(n);
    chain.reverse();
    let row = 0;
    for (const a of chain) {
      const k = a === root ? 1 : a.frames.length;
      for (let i = 0; i < k && row < limit; i++) rects.push({ x: 0, w: width, row: row++, node: a, frame: a === root ? null : a.frames[i], ancestor: true });
    }
    const total = Math.abs(metric.weight(zoom.sums)) || 1;
    const scale = width / total;
    const todo = [[zoom, 0, width, row]];
    while (todo.length) {
      const [node, x, w, r] = todo.pop();
      const k = node === root ? 1 : node.frames.length;
      for (let i = 0; i < k && r + i < limit; i++) rects.push({ x, w, row: r + i, node, frame: node === root ? null : node.frames[i] });
      if (r + k >= limit) continue;
      let cx = x;
      const kids = kidsOf(node).slice().sort((a, b) => Math.abs(metric.weight(b.sums)) - Math.abs(metric.weight(a.sums)));
      const next = [];
      for (const kid of kids) {
        const kw = Math.abs(metric.weight(kid.sums)) * scale;
        if (!(kw >= 0.5)) break; // sorted, so the rest are smaller still
        next.push([kid, cx, kw, r + k]);
        cx += kw;
      }
      for (let i = next.length - 1; i >= 0; i--) todo.push(next[i]);
    }
    return rects;
  }

  // ---------------------------------------------------------------- bottom-up

  // For every function (or source line): "self" sums the pps whose innermost frame is
  // in it, "total" sums the pps that have it anywhere in the stack (once per pp).
  function bottomUp(profile, pps, group) {
    const fr = profile.frames;
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
    for (let i = 0; i < pps.length; i++) {
      const pp = pps[i], f = profile.fs[pp], b = pp * NF;
      if (f.length) { const o = keyOf[f[0]] * NF; for (let k = 0; k < NF; k++) self[o + k] += profile.vals[b + k]; }
      for (let j = 0; j < f.length; j++) {
        const id = keyOf[f[j]];
        if (stamp[id] === i) continue;
        stamp[id] = i;
        const o = id * NF;
        for (let k = 0; k < NF; k++) total[o + k] += profile.vals[b + k];
      }
    }
    const rows = [];
    for (let id = 0; id < names.length; id++) {
      if (stamp[id] === -1) continue; // not in any (filtered) stack
      rows.push({ id, name: names[id], self: self.subarray(id * NF, id * NF + NF), total: total.subarray(id * NF, id * NF + NF) });
    }
    return { group, keyOf, rows, pps };
  }

  Object.assign(M, {
    metricsFor, valueText, cellText, fmtCell, unitText, pctText, barFraction,
    Node, sumPps, makeTree, mainTree, allPps, kidsOf, hasKids, significant, sortedKids, callersTree, frameLabel, fullText,
    TINY_BYTES, filtersAvailable, filterPps, matchFrames, ppsMatching, layoutFlame, bottomUp,
  });
})(globalThis.AllocsiteModel || (globalThis.AllocsiteModel = {}));
