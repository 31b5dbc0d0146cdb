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

  // ---------------------------------------------------------------- frame classes

  // Where a frame's code lives (viewer/CALL-SITES.md is the specification, and the
  // repository's tests/fixtures/frame-classes.json the test vectors both this and
  // allocsite's Rust side, src/symbolize/classify.rs, check themselves against).
  const CLASSES = ["user", "dependency", "std", "allocsite", "system", "unknown"];
  const USER = 0, DEPENDENCY = 1, STD = 2, ALLOCSITE = 3, SYSTEM = 4, UNKNOWN = 5;

  const SEMVER = /^(.+?)-(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$/;
  const STD_CRATES = new Set(["std", "core", "alloc", "proc_macro", "panic_unwind", "panic_abort", "std_detect", "test"]);
  const STD_DIRS = new Set(["std", "core", "alloc", "proc_macro", "panic_unwind", "panic_abort", "std_detect"]);
  const SYSTEM_FUNCS = new Set(["malloc", "calloc", "realloc", "free", "reallocarray", "memalign", "posix_memalign",
    "aligned_alloc", "valloc", "pvalloc", "malloc_usable_size", "_start", "start_thread", "clone", "clone3", "(below main)"]);
  const SYSTEM_FUNC_PREFIXES = ["__libc_", "__GI_", "_dl_", "__clone", "_Unwind_", "operator new", "operator delete"];
  const STD_FUNC_PREFIXES = ["__rust_", "__rdl_", "__rg_", "__rustc::"];
  const SYSTEM_OBJECT_PREFIXES = ["vgpreload_", "ld-linux", "linux-vdso", "libc.so", "libc-", "libgcc_s", "libstdc++"];

  // Splits "0x1a2b: func (file.rs:12:5)" / "0x4AA1D9F: fn (in /lib/x.so)" into parts.
  // The location is the last balanced "(...)" at the end, after a space: function names
  // can contain parentheses and spaces themselves.
  function splitFrame(s) {
    const t = s.replace(/^0x[0-9a-fA-F]+:\s*/, "");
    let func = t, loc = "";
    if (t.endsWith(")")) {
      let depth = 0;
      for (let j = t.length - 1; j >= 0; j--) {
        const c = t[j];
        if (c === ")") depth++;
        else if (c === "(" && --depth === 0) {
          if (j > 0 && t[j - 1] === " ") { func = t.slice(0, j - 1); loc = t.slice(j + 1, -1); }
          break;
        }
      }
    }
    return { text: t, func, loc };
  }

  // A location as file, line and column, or as the object file ("in /lib/x.so").
  function parseLocation(loc) {
    if (loc.startsWith("in ")) return { file: "", line: "", col: "", object: loc.slice(3) };
    const m = /^(.*?):(\d+)(?::(\d+))?$/.exec(loc);
    let file = m ? m[1] : loc, line = m ? m[2] : "", col = m && m[3] ? m[3] : "";
    if (file === "???" || file === "") { file = ""; line = ""; col = ""; }
    return { file, line, col, object: "" };
  }

  // The crate a function belongs to: the first path segment of its name, or for
  // "<Type as Trait>::f" the crate of Type (of Trait when Type is generic, a reference,
  // a primitive or a tuple). Null when the name has no path.
  function ownerCrate(fn, depth) {
    if ((depth || 0) > 8) return null;
    let s = fn.length > 4096 ? fn.slice(0, 4096) : fn;
    s = s.trim();
    for (let guard = 0; guard < 8; guard++) {
      s = s.replace(/^(?:&(?:mut\s+)?|\*(?:const|mut)\s+|dyn\s+|impl\s+)+/, "");
      if (!s.startsWith("<")) {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)::/.exec(s);
        return m ? m[1] : null;
      }
      // <A as B>::rest or <A>::rest: find the matching '>' (ignoring the one of "->").
      let depth = 0, end = -1, as = -1;
      for (let j = 0; j < s.length; j++) {
        const c = s[j];
        if (c === "<") depth++;
        else if (c === ">" && s[j - 1] !== "-") { if (--depth === 0) { end = j; break; } }
        else if (depth === 1 && c === " " && s.startsWith(" as ", j) && as < 0) as = j;
      }
      if (end < 0) return null;
      const self = s.slice(1, as >= 0 ? as : end), trait = as >= 0 ? s.slice(as + 4, end) : "";
      const o = ownerCrate(self, (depth || 0) + 1);
      if (o) return o;
      if (trait) { s = trait; continue; }
      // An inherent method of a primitive, slice, array, str or tuple: only std has those.
      return /^(?:\[|\(|str\b|bool\b|char\b|[iuf](?:8|16|32|64|128|size)\b|\*)/.test(self.replace(/^(?:&(?:mut\s+)?)+/, "")) ? "core" : null;
    }
    return null;
  }

  // The crate of the trait in "<Type as Trait>::f", or null.
  function traitCrate(fn) {
    if (!fn.startsWith("<")) return null;
    let depth = 0;
    for (let j = 0; j < fn.length && j < 4096; j++) {
      const c = fn[j];
      if (c === "<") depth++;
      else if (c === ">" && fn[j - 1] !== "-") { if (--depth === 0) return null; }
      else if (depth === 1 && fn.startsWith(" as ", j)) return ownerCrate(fn.slice(j + 4));
    }
    return null;
  }

  // Class of one frame string, with crate and version for dependencies. `why` is
  // "path" when a strong path decided, "function" or "weak" otherwise (the context pass
  // below only revisits "weak" and unresolved decisions).
  function classifyFrame(s) {
    const sp = splitFrame(s);
    // A hostile name can be megabytes long: the start of a function name and both ends of
    // a location are all the rules look at.
    const func = sp.func.length > 4096 ? sp.func.slice(0, 4096) : sp.func;
    const loc = sp.loc.length > 4096 ? sp.loc.slice(0, 2048) + sp.loc.slice(-2048) : sp.loc;
    const { file, object } = parseLocation(loc);
    const path = file.replace(/\\/g, "/");
    const fnName = func.trim();
    const noFunc = fnName === "" || fnName === "???";
    const out = (cls, why, crate, version) => ({ class: cls, crate: crate || null, version: version || null, why, owner: noFunc ? null : ownerCrate(fnName) });

    if (path) {
      const parts = path.split("/");
      // allocsite's own files, wherever they are.
      for (const p of parts) { const m = SEMVER.exec(p); if (m && m[1] === "allocsite") return out("allocsite", "path"); }
      // std: /rustc/<hash>/library/..., a rust-src copy, std's own deps, trimmed std paths.
      if (path.startsWith("/rustc/") || path.includes("/rustlib/src/rust/library/")) return out("std", "path");
      const deps = parts.indexOf("deps");
      if (deps > 0 && parts[deps - 1] === "rust" && deps + 1 < parts.length - 1) {
        const m = SEMVER.exec(parts[deps + 1]);
        if (m) return out("std", "path", m[1], m[2]);
      }
      const first = parts[0] === "library" ? parts[1] : parts[0];
      const second = parts[0] === "library" ? parts[2] : parts[1];
      if (!path.startsWith("/") && STD_DIRS.has(first) && second === "src") return out("std", "path");
      // Dependencies: crates.io registry, git checkouts, vendored, allocsite's trimmed form.
      const reg = path.indexOf("/registry/src/");
      if (reg >= 0) {
        const rest = path.slice(reg + "/registry/src/".length).split("/");
        const m = rest.length > 2 ? SEMVER.exec(rest[1]) : null;
        if (m) return out("dependency", "path", m[1], m[2]);
      }
      // git: ".../git/checkouts/<name>-<hash>/<rev>/..." (allocsite writes it from
      // "git/checkouts/"): the crate is the folder above the last "src" inside the checkout
      // (workspaces keep crates in sub-folders), else the repository's name; the version is
      // the revision.
      const git = path.startsWith("git/checkouts/") ? 0 : path.indexOf("/git/checkouts/") + 1;
      if (git > 0 || path.startsWith("git/checkouts/")) {
        const rest = path.slice(git + "git/checkouts/".length).split("/");
        if (rest.length > 2) {
          const m = /^(.+)-[0-9a-fA-F]+$/.exec(rest[0]);
          const inside = rest.slice(2, -1);
          const src = inside.lastIndexOf("src");
          return out("dependency", "path", src > 0 ? inside[src - 1] : m ? m[1] : rest[0], rest[1]);
        }
      }
      // Vendored: ".../vendor/<crate>/..." (a "vendor" module inside a src folder is not one).
      const vendor = parts.indexOf("vendor");
      if (vendor >= 0 && vendor + 2 < parts.length && parts[vendor + 1] && !parts.slice(0, vendor).includes("src")) {
        const m = SEMVER.exec(parts[vendor + 1]);
        return out("dependency", "path", m ? m[1] : parts[vendor + 1], m ? m[2] : null);
      }
      if (!path.startsWith("/") && parts.length > 1) {
        const m = SEMVER.exec(parts[0]);
        if (m) return out("dependency", "path", m[1], m[2]);
      }
      // C runtime and Valgrind sources.
      const base = parts[parts.length - 1];
      if (/^vg_replace_\w+\.c$/.test(base) || /^dl-[\w-]+\.c$/.test(base) || base === "rtld.c" || parts.includes("sysdeps")) return out("system", "path");
    }
    if (object) {
      const o = object.replace(/\\/g, "/");
      const base = o.slice(o.lastIndexOf("/") + 1);
      if (/^\/(?:usr|lib|lib32|lib64|libx32)\//.test(o) || SYSTEM_OBJECT_PREFIXES.some((p) => base.startsWith(p))) return out("system", "path");
    }
    if (noFunc) return path ? out("user", "weak") : out("unknown", "none");
    // By the function's name.
    const owner = ownerCrate(fnName);
    if (owner === "allocsite" && !fnName.includes("::tests::")) return out("allocsite", "function");
    if (STD_FUNC_PREFIXES.some((p) => fnName.startsWith(p))) return out("std", "function");
    // std's when the function is std's and so is the trait it implements, if any
    // ("<Vec<app::Row> as app::render::Render>::render" is the user's).
    const trait = traitCrate(fnName);
    if (owner && STD_CRATES.has(owner) && (!trait || STD_CRATES.has(trait))) return out("std", "function");
    const plain = fnName.split("@")[0];
    if (SYSTEM_FUNCS.has(plain) || SYSTEM_FUNC_PREFIXES.some((p) => plain.startsWith(p))) return out("system", "function");
    // Anything else with a source file or an object of its own is the user's.
    if (path || object) return out("user", "weak");
    return out("unknown", "none");
  }

  const normCrate = (c) => c.replace(/-/g, "_");

  // Classes of all the frames of one file. A first pass classifies each frame alone;
  // then a frame that reads as the user's only for want of a better clue (a relative or
  // base-name path, or no location), whose function belongs to a crate that another
  // frame's path places (a dependency, or one of std's own dependencies), takes that
  // crate's class, name and version. This undoes paths cut to their last components,
  // as the dhat crate writes them ("src/raw/alloc.rs" of std's hashbrown).
  function classifyFrames(ftbl) {
    const n = ftbl.length;
    const cls = new Uint8Array(n), crate = new Array(n).fill(null), version = new Array(n).fill(null);
    const first = new Array(n), placed = new Map();
    for (let i = 0; i < n; i++) {
      const r = classifyFrame(ftbl[i]);
      first[i] = r;
      if (r.why === "path" && r.crate && !placed.has(normCrate(r.crate))) placed.set(normCrate(r.crate), r);
    }
    for (let i = 0; i < n; i++) {
      let r = first[i];
      if ((r.why === "weak" || r.why === "none") && r.owner && placed.has(normCrate(r.owner))) r = placed.get(normCrate(r.owner));
      cls[i] = CLASSES.indexOf(r.class);
      // Only dependencies are named by crate (std's own dependencies are std).
      crate[i] = r.class === "dependency" ? r.crate : null;
      version[i] = r.class === "dependency" ? r.version : null;
    }
    return { cls, crate, version };
  }

  function frameClasses(profile) {
    const fr = profile.frames;
    if (!fr.classes) fr.classes = classifyFrames(fr.raw);
    return fr.classes;
  }

  // Whether a file looks like a Rust program's: a rust-* mode (allocsite, the dhat crate)
  // or Rust paths in its frames (Valgrind on a Rust binary).
  function looksLikeRust(profile) {
    if (/^rust-/.test(String(profile.meta.mode))) return true;
    const fr = profile.frames;
    let rusty = 0;
    for (let i = 1; i < fr.text.length && i < 2000; i++) if (fr.func[i].includes("::") && /\.rs:\d+/.test(fr.loc[i])) rusty++;
    return rusty > 0;
  }

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

  // ---------------------------------------------------------------- collapsing library frames

  // The file with std, allocsite, system and dependency frames collapsed: each run of
  // such frames in a stack is replaced by its outermost frame, the call the code above
  // it made ("alloc::fmt::format" stands for the twelve std frames under it). User and
  // unknown frames stay. The counters, frames and pp indices are shared with `profile`.
  function isCollapsible(c) { return c === DEPENDENCY || c === STD || c === ALLOCSITE || c === SYSTEM; }

  function collapsedView(profile) {
    if (profile.collapsed) return profile.collapsed;
    const cls = frameClasses(profile).cls;
    const fs = new Array(profile.n);
    for (let p = 0; p < profile.n; p++) {
      const f = profile.fs[p];
      let any = false;
      for (let j = 0; j < f.length && !any; j++) any = isCollapsible(cls[f[j]]);
      if (!any) { fs[p] = f; continue; }
      const out = [];
      for (let j = 0; j < f.length; j++) {
        if (!isCollapsible(cls[f[j]]) || j + 1 === f.length || !isCollapsible(cls[f[j + 1]])) out.push(f[j]);
      }
      fs[p] = out;
    }
    const view = Object.assign({}, profile, { fs, collapsed: null, original: profile, sites: null });
    view.collapsed = view;
    profile.collapsed = view;
    return view;
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

  return {
    FIELDS, NF, TB, TBK, TL, MB, MBK, GB, GBK, EB, EBK, RB, WB, FRAME_HERE,
    fmtNum, fmtPct, fmtBytes, fmtSigned,
    DhatError, locateJsonError, describeJsonError, parseDhat, describeFrames, MAX_TEXT, MAX_PPS, MAX_NAME, tooLargeMessage,
    metricsFor, valueText, pctText, barFraction,
    Node, sumPps, makeTree, mainTree, allPps, kidsOf, hasKids, sortedKids, callersTree, frameLabel, fullText, clip,
    matchFrames, ppsMatching, layoutFlame, bottomUp, compareSites, baselineMatcher,
    significant, cellText, fmtCell, unitText, collapsedView, filtersAvailable, filterPps, TINY_BYTES,
    SITE_EMPTY, siteIndex, callSites, siteLabel,
    CLASSES, splitFrame, parseLocation, ownerCrate, classifyFrame, classifyFrames, frameClasses, looksLikeRust,
  };
});
