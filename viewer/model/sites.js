// allocsite viewer, the model: call sites (the first frame of each stack in the user's
// code, viewer/CALL-SITES.md) and the comparison of two runs by call site.
//
// SPDX-License-Identifier: MIT OR Apache-2.0
//
// A classic script, no imports, no build step: one of the model's files (model/*.js), which
// index.html loads in order before the views and src/report/html.rs inlines in the same
// order. Each adds its functions to the global `AllocsiteModel` (M), and reads what the
// files before it added. No DOM: under Node, tests/load-model.mjs runs the same files.
(function (M) {
  "use strict";

  const { NF, TB, TBK, FRAME_HERE, clip, CLASSES, USER, DEPENDENCY, UNKNOWN, parseLocation, frameClasses, allPps, kidsOf } = M;

  // ---------------------------------------------------------------- call sites

  // A call site is the first (innermost) frame of a stack in the user's code, shown with
  // the call it made (the frame just inside it). When no frame is the user's, the first
  // dependency frame stands in; then the first frame outside std, allocsite and the
  // system; then the innermost frame. Stacks whose site frames have the same function,
  // file and line are one site, whatever their addresses, columns and callees.
  // See CALL-SITES.md.
  const SITE_EMPTY = "(empty stack)";

  function siteKeyOfFrame(profile, f) {
    const fr = profile.frames;
    const l = parseLocation(fr.loc[f]);
    const where = l.object ? `in ${l.object}` : l.file ? `${l.file}:${l.line}` : "";
    return `${fr.func[f]}\u0000${where}`;
  }

  // Per pp: the index in fs of its site frame (-1 for an empty stack). Cached.
  function siteFrameIndex(profile) {
    if (profile.siteIdx) return profile.siteIdx;
    const cls = frameClasses(profile).cls;
    const idx = new Int32Array(profile.n);
    for (let p = 0; p < profile.n; p++) {
      const f = profile.fs[p];
      let at = -1, dep = -1, other = -1;
      for (let j = 0; j < f.length; j++) {
        const c = cls[f[j]];
        if (c === USER) { at = j; break; }
        if (c === DEPENDENCY && dep < 0) dep = j;
        else if (c === UNKNOWN && other < 0) other = j;
      }
      if (at < 0) at = dep >= 0 ? dep : other >= 0 ? other : f.length ? 0 : -1;
      idx[p] = at;
    }
    profile.siteIdx = idx;
    return idx;
  }

  // The sites of a file: siteOf[pp] is a site id; sites[id] has the key (function and
  // location of the site frame), the site frame, its class and crate. Cached per file.
  function siteIndex(profile) {
    if (profile.siteIndex) return profile.siteIndex;
    const at = siteFrameIndex(profile), cls = frameClasses(profile);
    const keyOfFrame = new Int32Array(profile.frames.text.length).fill(-1);
    const ids = new Map(), sites = [];
    const siteOf = new Int32Array(profile.n);
    for (let p = 0; p < profile.n; p++) {
      const j = at[p];
      if (j < 0) {
        let id = ids.get(SITE_EMPTY);
        if (id === undefined) { id = sites.length; ids.set(SITE_EMPTY, id); sites.push({ id, key: SITE_EMPTY, frame: -1, cls: "unknown", crate: null, version: null }); }
        siteOf[p] = id;
        continue;
      }
      const f = profile.fs[p][j];
      let id = keyOfFrame[f];
      if (id < 0) {
        const key = siteKeyOfFrame(profile, f);
        id = ids.get(key);
        if (id === undefined) {
          id = sites.length;
          ids.set(key, id);
          sites.push({ id, key, frame: f, cls: CLASSES[cls.cls[f]], crate: cls.crate[f], version: cls.version[f] });
        }
        keyOfFrame[f] = id;
      }
      siteOf[p] = id;
    }
    profile.siteIndex = { siteOf, sites, ids };
    return profile.siteIndex;
  }

  // The call sites of the given pps with their summed counters, the number of pps and,
  // from the pp with the most bytes (then blocks), the callee shown and a whole stack.
  function callSites(profile, pps) {
    const { siteOf, sites } = siteIndex(profile), at = siteFrameIndex(profile);
    const ns = sites.length, v = profile.vals;
    const sums = new Float64Array(ns * NF), count = new Int32Array(ns), best = new Int32Array(ns).fill(-1);
    for (let i = 0; i < pps.length; i++) {
      const p = pps[i], s = siteOf[p], o = s * NF, b = p * NF;
      for (let k = 0; k < NF; k++) sums[o + k] += v[b + k];
      count[s]++;
      const q = best[s];
      if (q < 0 || v[b + TB] > v[q * NF + TB] || (v[b + TB] === v[q * NF + TB] && v[b + TBK] > v[q * NF + TBK])) best[s] = p;
    }
    const rows = [];
    for (let s = 0; s < ns; s++) {
      if (!count[s]) continue;
      const site = sites[s], p = best[s], j = at[p];
      rows.push({
        site, id: s, sums: sums.subarray(s * NF, s * NF + NF), pps: count[s], example: p,
        callee: j > 0 ? profile.fs[p][j - 1] : -1,
      });
    }
    return rows;
  }

  // "serde_json::de::from_str ← budgetfix::parse (src/lib.rs:14)": the parts of a site's
  // label. The column is left out: it is not part of what makes a site.
  function siteLabel(profile, row) {
    const f = row.site.frame;
    if (f < 0) return { callee: "", func: SITE_EMPTY, loc: "" };
    const l = parseLocation(profile.frames.loc[f]);
    const loc = l.object ? `in ${l.object}` : l.file ? (l.line ? `${l.file}:${l.line}` : l.file) : "";
    return { callee: row.callee >= 0 ? clip(profile.frames.func[row.callee]) : "", func: clip(profile.frames.func[f]), loc: clip(loc, 500) };
  }

  // ---------------------------------------------------------------- comparison

  // Two runs are compared by call site (see callSites): a site of one run is the same
  // as a site of the other when their site frames have the same function, file and line.
  // Only the sites are keyed by text, so the cost is one pass over each file's pps plus
  // one string per site. Sites are grew / shrank (in both, value up or down), new (only
  // in the current run) or gone (only in the baseline), each with its totals.
  function compareSites(base, cur, metric, basePps, curPps) {
    const b = callSites(base, basePps || allPps(base)), c = callSites(cur, curPps || allPps(cur));
    const bm = new Map();
    for (const r of b) bm.set(r.site.key, r);
    const out = { grew: [], shrank: [], appeared: [], disappeared: [], unchanged: 0 };
    const v = (r) => metric.value(r.sums);
    const row = (profile, r, before, after) => {
      const l = siteLabel(profile, r);
      return { key: r.site.key, cls: r.site.cls, crate: r.site.crate, frame: r.site.frame, label: l, profile, example: r.example,
        before, after, delta: after - before, pct: before === 0 ? (after === 0 ? 0 : Infinity) : (100 * (after - before)) / Math.abs(before) };
    };
    for (const r of c) {
      const o = bm.get(r.site.key);
      if (!o) { out.appeared.push(row(cur, r, 0, v(r))); continue; }
      const x = row(cur, r, v(o), v(r));
      if (x.delta > 0) out.grew.push(x);
      else if (x.delta < 0) out.shrank.push(x);
      else out.unchanged++;
    }
    const ck = new Set(c.map((r) => r.site.key));
    for (const r of b) if (!ck.has(r.site.key)) out.disappeared.push(row(base, r, v(r), 0));
    const byDelta = (a, b) => (Math.abs(b.delta) - Math.abs(a.delta)) || (a.key < b.key ? -1 : 1);
    out.totals = {};
    for (const k of ["grew", "shrank", "appeared", "disappeared"]) {
      out[k].sort(byDelta);
      let before = 0, after = 0;
      for (const x of out[k]) { before += x.before; after += x.after; }
      out.totals[k] = { before, after, delta: after - before };
    }
    return out;
  }

  // For the diff flame graph: the node of the baseline's tree at the same path of frame
  // texts as `node` of the current tree (null if the baseline has no such path). Both
  // trees must be built the same way (order, collapsing, filters). Memoised per node.
  function baselineMatcher(cur, baseTree) {
    const base = baseTree.profile, idx = new Map(), bt = base.frames.text, bc = base.frames.canon;
    for (let i = 0; i < bt.length; i++) if (!idx.has(bt[i])) idx.set(bt[i], bc[i]);
    const memo = new Map();
    const keyOf = (f) => (f === FRAME_HERE ? FRAME_HERE : idx.has(cur.frames.text[f]) ? idx.get(cur.frames.text[f]) : -3);
    function step(c, k) {
      if (!c || k === -3) return null;
      if (c.off + 1 < c.node.frames.length) return c.node.frames[c.off + 1] === k ? { node: c.node, off: c.off + 1 } : null;
      for (const kid of kidsOf(c.node)) if (kid.frames[0] === k) return { node: kid, off: 0 };
      return null;
    }
    function cursor(node) {
      // Walk up to the nearest node already matched (or the root), then down again.
      const path = [];
      let n = node;
      while (n.parent && !memo.has(n)) { path.push(n); n = n.parent; }
      let c = n.parent ? memo.get(n) : { node: baseTree.root, off: -1 };
      for (let i = path.length - 1; i >= 0; i--) {
        for (const f of path[i].frames) c = step(c, keyOf(f));
        memo.set(path[i], c);
      }
      return c;
    }
    return (node) => { const c = cursor(node); return c ? c.node : null; };
  }

  Object.assign(M, { SITE_EMPTY, siteIndex, callSites, siteLabel, compareSites, baselineMatcher });
})(globalThis.AllocsiteModel || (globalThis.AllocsiteModel = {}));
