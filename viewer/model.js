// allocsite viewer, the model: parsing and validating DHAT JSON (dhatFileVersion 2),
// metrics, lazy call trees, the bottom-up table, the flame graph layout and the
// comparison of two runs. No DOM: viewer.js draws what this computes.
//
// SPDX-License-Identifier: MIT OR Apache-2.0
//
// A classic script, no imports, no build step. In a page it sets the global
// `AllocsiteModel`; under Node (`require("./model.js")`, as the unit tests in
// tests/*.test.mjs do) it is `module.exports`. src/report/html.rs inlines it.
//
// Data model. A DHAT file has `pps` (program points: one per distinct stack) and `ftbl`
// (frame strings). Each pp has counters (tb, tbk, ...) and `fs`, a list of ftbl indices
// where fs[0] is the innermost frame (the allocation site) and the last is the
// outermost (main). We copy the counters into one Float64Array (NF numbers per pp) and
// build trees lazily: a tree node holds the list of pps that pass through it and, for
// each of them, the position in `fs` of the next frame to look at. Children are only
// grouped when a node is expanded or drawn, so a 100,000-pp file costs one pass over the
// pps to show the top level.
(function (root, factory) {
  const model = factory();
  if (typeof module === "object" && module && module.exports) module.exports = model;
  else root.AllocsiteModel = model;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  // ---------------------------------------------------------------- constants

  const FIELDS = ["tb", "tbk", "tl", "mb", "mbk", "gb", "gbk", "eb", "ebk", "rb", "wb"];
  const NF = FIELDS.length;
  const TB = 0, TBK = 1, TL = 2, MB = 3, MBK = 4, GB = 5, GBK = 6, EB = 7, EBK = 8, RB = 9, WB = 10;

  // Synthetic frame ids used in trees.
  const FRAME_HERE = -1;   // "the stack ends here" child of an internal node

  const numFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
  const pctFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2, minimumFractionDigits: 2 });

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

  // The value of a metric as text: bytes with a binary-prefixed size, other units plain.
  function valueText(metric, sums) {
    const v = metric.value(sums);
    return metric.unit.startsWith("byte") ? fmtBytes(v, metric.unit) : `${fmtNum(v)} ${metric.unit}`;
  }

  // Percentage column: share of the file's total, or for a ratio (average lifetime) the
  // share of the program's run time, as dh_view does.
  function pctText(profile, metric, sums) {
    if (metric.ratio) return fmtPct(metric.value(sums), profile.meta.te) + " of run";
    return fmtPct(metric.value(sums), metric.value(profile.totals));
  }

  // Width of a bar (0..1): the node's weight against the file's.
  function barFraction(profile, metric, sums) {
    const tot = Math.abs(metric.weight(profile.totals));
    return tot === 0 ? 0 : Math.min(1, Math.abs(metric.weight(sums)) / tot);
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

  function frameLabel(profile, f) {
    if (f === FRAME_HERE) return { func: "(stack ends here)", loc: "", text: "(stack ends here)" };
    const fr = profile.frames;
    return { func: fr.func[f], loc: fr.loc[f], text: fr.text[f] };
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
  // Nodes narrower than half a pixel are not laid out (nor are their children built).
  // Ancestors of the zoomed node are laid out full width above it, to click back up.
  function layoutFlame(root, zoomNode, metric, width) {
    const rects = [];
    const zoom = zoomNode || root;
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

  // ---------------------------------------------------------------- comparison

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

  return {
    FIELDS, NF, TB, TBK, TL, MB, MBK, GB, GBK, EB, EBK, RB, WB, FRAME_HERE,
    fmtNum, fmtPct, fmtBytes, fmtSigned,
    DhatError, locateJsonError, describeJsonError, parseDhat, describeFrames,
    metricsFor, valueText, pctText, barFraction,
    Node, sumPps, makeTree, mainTree, allPps, kidsOf, hasKids, sortedKids, callersTree, frameLabel,
    matchFrames, ppsMatching, layoutFlame, bottomUp, siteMap, compareProfiles,
  };
});
