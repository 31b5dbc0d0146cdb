// allocsite viewer, the model: the profile's layout, number formatting, and parsing and
// validating DHAT JSON (dhatFileVersion 2), with messages that say where a file is wrong.
//
// SPDX-License-Identifier: MIT OR Apache-2.0
//
// A classic script, no imports, no build step: one of the model's files (model/*.js), which
// index.html loads in order before the views and src/report/html.rs inlines in the same
// order. Each adds its functions to the global `AllocsiteModel` (M), and reads what the
// files before it added. No DOM: under Node, tests/load-model.mjs runs the same files.
//
// Data model. A DHAT file has `pps` (program points: one per distinct stack) and `ftbl`
// (frame strings). Each pp has counters (tb, tbk, ...) and `fs`, a list of ftbl indices
// where fs[0] is the innermost frame (the allocation site) and the last is the
// outermost (main). We copy the counters into one Float64Array (NF numbers per pp);
// model/trees.js builds the trees over them lazily.
(function (M) {
  "use strict";

  const { splitFrame } = M;

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

  // Why a file cannot be shown. `kind` and `where` are tool-neutral (the invalid-file
  // corpus in tests/fixtures/invalid/ records them for allocsite's Rust validator too):
  //   kind: empty, not-json, truncated, not-object, version, missing-field, wrong-type,
  //         bad-number, root-frame, frame-index, repeated-stack, too-large
  //   where: the JSON path of the offending value ("pps[3].fs[1]", "te"), or "" for the file.
  class DhatError extends Error {
    constructor(message, kind, where) {
      super(message);
      this.kind = kind || "invalid";
      this.where = where || "";
    }
  }

  // JSON.parse messages differ between engines and sometimes carry no position, so when
  // parsing fails we re-scan the text with a small validator that reports where the
  // first problem is, and whether the text simply stopped early (a truncated file).
  // It keeps its own stack of open arrays and objects, so nesting depth costs memory,
  // not call stack.
  function locateJsonError(text) {
    let i = 0;
    const n = text.length;
    const fail = (what) => { throw { pos: i, what }; };
    const ws = () => { while (i < n && (text[i] === " " || text[i] === "\n" || text[i] === "\r" || text[i] === "\t")) i++; };
    const expectChar = (c, what) => { if (text[i] !== c) fail(what || `expected '${c}'`); i++; };
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
    // A scalar, or the openings of containers (pushed on `open`) up to the first element.
    const open = [];
    function value() {
      for (;;) {
        ws();
        if (i >= n) fail("expected a value");
        const c = text[i];
        if (c === "{") {
          i++; ws();
          if (text[i] === "}") { i++; return; }
          open.push("}");
          memberName();
          continue;
        }
        if (c === "[") {
          i++; ws();
          if (text[i] === "]") { i++; return; }
          open.push("]");
          continue;
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
    }
    // "name": (the value follows).
    function memberName() {
      ws();
      if (text[i] !== '"') fail("expected a double-quoted property name");
      string(); ws();
      expectChar(":", "expected ':' after a property name");
    }
    try {
      value();
      // After each value: close containers, or go on to the next element / member.
      for (;;) {
        if (!open.length) break;
        ws();
        const close = open[open.length - 1];
        if (text[i] === ",") {
          i++;
          if (close === "}") memberName();
          value();
          continue;
        }
        expectChar(close, close === "}" ? "expected ',' or '}' after a property value" : "expected ',' or ']' after an array element");
        open.pop();
      }
      ws();
      if (i < n) fail("unexpected text after the end of the JSON value");
      return null;
    } catch (e) {
      if (e instanceof Error) throw e;
      const before = text.slice(0, Math.min(e.pos, n));
      let line = 1, last = -1;
      for (let k = before.indexOf("\n"); k >= 0; k = before.indexOf("\n", k + 1)) { line++; last = k; }
      const column = e.pos - (last + 1) + 1;
      return { pos: e.pos, line, column, what: e.what, truncated: e.pos >= n };
    }
  }

  function describeJsonError(text, engineError) {
    const loc = locateJsonError(text);
    if (!loc) return { kind: "not-json", where: "", message: `not JSON: ${engineError.message}` };
    if (loc.truncated) {
      return { kind: "truncated", where: `${loc.line}:${loc.column}`,
        message: `the file is truncated: the JSON ends at line ${loc.line} column ${loc.column} before it is complete (${loc.what})` };
    }
    return { kind: "not-json", where: `${loc.line}:${loc.column}`, message: `not JSON at line ${loc.line} column ${loc.column}: ${loc.what}` };
  }

  // ---------------------------------------------------------------- parsing + validation

  const kind = (v) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : `a ${typeof v}`);

  // Limits, from measurements in headless Chromium (viewer/README.md, "Limits"). A page
  // cannot hold a string longer than about 512 MiB (V8's limit is 2^29 - 24 characters),
  // so larger files are refused before they are read. Past 2,000,000 program points
  // loading takes over 20 s and each view as long again (5,000,000 took 37 s to load and
  // over 30 s per view; 10,000,000, 73 s): such files are refused with a message rather
  // than left to hang the tab. Frame names longer than MAX_NAME are cut for display
  // (a 100 MB name loads in 1.5 s).
  const MAX_TEXT = 512 * 1024 * 1024;
  const MAX_PPS = 2000000;
  const MAX_NAME = 2000;

  // The type every top-level field must have. Counters are checked per pp below.
  const TOP_TYPES = {
    mode: "string", verb: "string", bklt: "boolean", bkacc: "boolean", tu: "string", Mtu: "string",
    cmd: "string", pid: "number", te: "number", tg: "number", tuth: "number",
    bu: "string", bsu: "string", bksu: "string", pps: "array", ftbl: "array",
  };
  const typeOk = (v, t) => (t === "array" ? Array.isArray(v) : typeof v === t);
  const aType = (t) => (t === "array" ? "an array" : t === "object" ? "an object" : `a ${t}`);

  // The message for a file too large to read (`size` in bytes or characters).
  function tooLargeMessage(size) {
    return `the file is too large: ${fmtNum(size)} bytes, and this viewer reads at most ${fmtNum(MAX_TEXT)} (512 MiB), ` +
      "the longest text a browser page can hold; record a shorter run or a higher sampling interval";
  }

  // A string cut to `max` characters for display, with "…" where it was cut.
  function clip(s, max) {
    const m = max || MAX_NAME;
    return s.length <= m ? s : s.slice(0, m - 1) + "…";
  }

  // A number shown in an error message: short, whatever it is.
  const shown = (v) => {
    const s = typeof v === "string" ? JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v) : typeof v === "number" ? String(v) : kind(v);
    return s;
  };

  // Parses and validates DHAT text. Returns a profile object or throws DhatError with a
  // message that names the problem and where it is. The rules follow Valgrind's
  // dh_main.c file-format notes and what dh_view.html requires, plus what dh_view gets
  // wrong: types are checked, not just presence; counters are finite and not negative;
  // ftbl[0] is "[root]"; frame indices are 1 to ftbl.length - 1; no two program points
  // have the same stack; t-end is above 0; bklt files have tl.
  function parseDhat(text) {
    const err = (message, k, where) => new DhatError(message, k, where);
    if (typeof text !== "string") throw err("the file is not text", "not-json", "");
    if (text.length > MAX_TEXT) {
      throw err(tooLargeMessage(text.length), "too-large", "");
    }
    if (!/\S/.test(text)) throw err("the file is empty", "empty", "");
    let d;
    try {
      d = JSON.parse(text);
    } catch (e) {
      if (e instanceof RangeError) throw err(`the file is too large or too deeply nested to parse (${e.message})`, "too-large", "");
      let j;
      try {
        j = describeJsonError(text, e);
      } catch (again) {
        j = { kind: "not-json", where: "", message: `not JSON: ${e.message}` };
      }
      throw err(j.message, j.kind, j.where);
    }
    if (d === null || typeof d !== "object" || Array.isArray(d)) {
      throw err(`not a DHAT file: the JSON top level is ${kind(d)}, expected an object`, "not-object", "");
    }
    const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
    if (!has(d, "dhatFileVersion")) throw err('not a DHAT file: missing field "dhatFileVersion"', "missing-field", "dhatFileVersion");
    if (d.dhatFileVersion !== 2) {
      throw err(`unsupported file version: dhatFileVersion is ${shown(d.dhatFileVersion)}, expected 2`, "version", "dhatFileVersion");
    }
    const required = ["mode", "verb", "bklt", "bkacc", "tu", "Mtu", "cmd", "pid", "te", "pps", "ftbl"];
    for (const f of required) {
      if (!has(d, f)) throw err(`missing field "${f}" at the top level`, "missing-field", f);
    }
    if (typeof d.bklt !== "boolean") throw err(`field "bklt" is ${kind(d.bklt)}, expected a boolean`, "wrong-type", "bklt");
    if (d.bklt) {
      for (const f of ["tg", "tuth"]) if (!has(d, f)) throw err(`missing field "${f}" at the top level`, "missing-field", f);
    }
    for (const [f, t] of Object.entries(TOP_TYPES)) {
      if (!has(d, f)) continue;
      if (!typeOk(d[f], t)) throw err(`field "${f}" is ${kind(d[f])}, expected ${aType(t)}`, "wrong-type", f);
    }
    for (const f of ["pid", "te", "tg", "tuth"]) {
      if (!has(d, f)) continue;
      const v = d[f];
      if (!Number.isFinite(v)) throw err(`field "${f}" is ${shown(v)}, too large to be a number`, "bad-number", f);
      if (v < 0) throw err(`field "${f}" is ${shown(v)}, expected a number ≥ 0`, "bad-number", f);
    }
    if (d.te === 0) throw err('field "te" (t-end, the length of the run) is 0, expected a number above 0', "bad-number", "te");
    if (has(d, "allocsite")) {
      const x = d.allocsite;
      if (x === null || typeof x !== "object" || Array.isArray(x)) throw err(`field "allocsite" is ${kind(x)}, expected an object`, "wrong-type", "allocsite");
      for (const [f, t] of [["sampled", "boolean"], ["sampleBytes", "number"], ["version", "string"],
        ["samples", "number"], ["unwinder", "string"], ["mergedSites", "number"]]) {
        if (has(x, f) && typeof x[f] !== t) throw err(`field "allocsite.${f}" is ${kind(x[f])}, expected ${aType(t)}`, "wrong-type", `allocsite.${f}`);
      }
    }
    const ftbl = d.ftbl;
    if (ftbl.length === 0 || ftbl[0] !== "[root]") {
      throw err(`ftbl[0] is ${ftbl.length ? shown(ftbl[0]) : "missing"}, expected "[root]"`, "root-frame", "ftbl[0]");
    }
    for (let i = 1; i < ftbl.length; i++) {
      if (typeof ftbl[i] !== "string") throw err(`ftbl[${i}] is ${kind(ftbl[i])}, expected a string`, "wrong-type", `ftbl[${i}]`);
    }

    const n = d.pps.length;
    if (n > MAX_PPS) {
      throw err(`the file has ${fmtNum(n)} program points, and this viewer handles at most ${fmtNum(MAX_PPS)} ` +
        "(beyond that every view takes tens of seconds); record a shorter run or a higher sampling interval", "too-large", "pps");
    }
    const nframes = ftbl.length;
    const vals = new Float64Array(n * NF);
    const fs = new Array(n);
    const totals = new Float64Array(NF);
    const need = ["tb", "tbk", "fs"];
    if (d.bklt) need.push("tl", "mb", "mbk", "gb", "gbk", "eb", "ebk");
    if (d.bkacc) need.push("rb", "wb");
    // Stacks seen so far: an open-addressing table of pp indices (+1) by a hash of their
    // frame indices, compared exactly on a hash match.
    let cap = 16;
    while (cap < 2 * n) cap *= 2;
    const table = new Int32Array(cap), hashes = new Uint32Array(n);
    for (let p = 0; p < n; p++) {
      const pp = d.pps[p];
      if (pp === null || typeof pp !== "object" || Array.isArray(pp)) {
        throw err(`program point pps[${p}] is ${kind(pp)}, expected an object`, "wrong-type", `pps[${p}]`);
      }
      // (pp[name] is undefined exactly when the field is absent: JSON has no undefined,
      // and no field name here is an Object.prototype property.)
      for (const f of need) {
        if (pp[f] === undefined) throw err(`program point pps[${p}] is missing field "${f}"`, "missing-field", `pps[${p}].${f}`);
      }
      const base = p * NF;
      for (let k = 0; k < NF; k++) {
        const name = FIELDS[k];
        const v = pp[name];
        if (v === undefined) continue; // counters the mode does not record
        if (typeof v !== "number") {
          throw err(`program point pps[${p}] field "${name}" is ${kind(v)}, expected a number`, "wrong-type", `pps[${p}].${name}`);
        }
        if (!Number.isFinite(v)) throw err(`program point pps[${p}] field "${name}" is ${shown(v)}, too large to be a number`, "bad-number", `pps[${p}].${name}`);
        if (v < 0) throw err(`program point pps[${p}] field "${name}" is ${shown(v)}, expected a number ≥ 0`, "bad-number", `pps[${p}].${name}`);
        vals[base + k] = v;
        totals[k] += v;
      }
      const f = pp.fs;
      if (!Array.isArray(f)) {
        throw err(`program point pps[${p}] field "fs" is ${kind(f)}, expected an array`, "wrong-type", `pps[${p}].fs`);
      }
      let h = 2166136261;
      for (let j = 0; j < f.length; j++) {
        const x = f[j];
        if (typeof x !== "number") {
          throw err(`program point pps[${p}] has ${kind(x)} at fs[${j}], expected a frame index (a whole number)`, "wrong-type", `pps[${p}].fs[${j}]`);
        }
        if (!Number.isInteger(x) || x < 1 || x >= nframes) {
          const why = x === 0 ? ' (ftbl[0] is "[root]", not a frame)' : "";
          throw err(`program point pps[${p}] has frame index ${shown(x)} at fs[${j}]${why}, ` +
            `but ftbl has ${nframes} entries (valid indices 1 to ${nframes - 1})`, "frame-index", `pps[${p}].fs[${j}]`);
        }
        h = Math.imul(h ^ x, 16777619) >>> 0;
      }
      h = Math.imul(h ^ f.length, 16777619) >>> 0;
      hashes[p] = h;
      for (let slot = h & (cap - 1); ; slot = (slot + 1) & (cap - 1)) {
        const q = table[slot] - 1;
        if (q < 0) { table[slot] = p + 1; break; }
        if (hashes[q] !== h) continue;
        const g = fs[q];
        let eq = g.length === f.length;
        for (let j = 0; eq && j < f.length; j++) eq = g[j] === f[j];
        if (eq) {
          throw err(`program points pps[${q}] and pps[${p}] have the same stack (fs); each program point must have its own`,
            "repeated-stack", `pps[${p}].fs`);
        }
      }
      fs[p] = f;
    }

    for (let k = 0; k < NF; k++) {
      if (!Number.isFinite(totals[k])) {
        throw err(`the program points' "${FIELDS[k]}" counters add up to more than a number can hold`, "bad-number", "pps");
      }
    }

    // Strings only ever shown: cut to a length a page can lay out (the names of frames
    // are cut where they are shown, since they are also keys).
    const meta = {};
    for (const [k, v] of Object.entries(d)) if (k !== "pps" && k !== "ftbl") meta[k] = typeof v === "string" ? clip(v) : v;
    const units = {
      byte: typeof d.bu === "string" ? clip(d.bu, 100) : "byte",
      bytes: typeof d.bsu === "string" ? clip(d.bsu, 100) : "bytes",
      blocks: typeof d.bksu === "string" ? clip(d.bksu, 100) : "blocks",
    };
    const ext = d.allocsite && typeof d.allocsite === "object" ? d.allocsite : null;
    const sampled = (ext && ext.sampled === true) || /est/i.test(units.bytes + " " + units.blocks + " " + units.byte);
    return { meta, ext, units, sampled, frames: describeFrames(ftbl), n, vals, fs, totals };
  }

  // Splits every frame string once: "0x4AA1D9F: func (file.c:332)" -> func, location,
  // and the text without the address (used for search and for matching between runs).
  // Classes (user, dependency, std, ...) are worked out on first use (frameClasses).
  function describeFrames(ftbl) {
    const n = ftbl.length;
    const text = new Array(n), func = new Array(n), loc = new Array(n);
    for (let i = 0; i < n; i++) {
      const sp = splitFrame(ftbl[i]);
      text[i] = sp.text;
      func[i] = sp.func;
      loc[i] = sp.loc;
    }
    // Frames that differ only in their address (inlined code, or the same line reached
    // from several call instructions) are the same to a reader: trees group them by
    // canon[i], the first index with the same text.
    const canon = new Int32Array(n), seen = new Map();
    for (let i = 0; i < n; i++) {
      const first = seen.get(text[i]);
      if (first === undefined) { seen.set(text[i], i); canon[i] = i; } else canon[i] = first;
    }
    return { raw: ftbl, text, func, loc, canon, lower: null, classes: null };
  }

  Object.assign(M, {
    FIELDS, NF, TB, TBK, TL, MB, MBK, GB, GBK, EB, EBK, RB, WB, FRAME_HERE,
    fmtNum, fmtPct, fmtBytes, fmtSigned, clip,
    DhatError, locateJsonError, describeJsonError, parseDhat, describeFrames, MAX_TEXT, MAX_PPS, MAX_NAME, tooLargeMessage,
  });
})(globalThis.AllocsiteModel || (globalThis.AllocsiteModel = {}));
