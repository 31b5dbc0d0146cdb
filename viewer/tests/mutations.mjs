// Deterministic mutations of real DHAT files, for the hostile-file tests:
//   - tests/hostile.test.mjs loads every one in Chromium and checks the page either
//     renders it or shows its error, never throws and never hangs;
//   - tests/fixtures/invalid/make-corpus.mjs writes the small invalid ones, with the
//     error the viewer gives, as a corpus allocsite's Rust validator also reads.
//
// mutations(name, text, { big }) returns [{ id, text | bytes, family }]. `big` adds the
// large cases (megabyte strings, deep nesting, very long stacks).
import fs from "node:fs";
import { fixture } from "./paths.mjs";

// xorshift32, seeded per file so every run sees the same cases.
export function rng(seed) {
  let x = seed >>> 0 || 1;
  const next = () => { x ^= x << 13; x >>>= 0; x ^= x >> 17; x ^= x << 5; x >>>= 0; return x / 4294967296; };
  next.int = (n) => Math.floor(next() * n);
  next.pick = (a) => a[next.int(a.length)];
  return next;
}

const seedOf = (s) => { let h = 2166136261; for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0; return h; };

// Values of every JSON type but the one a field should have, including objects that
// break string conversion ({"toString": 1} made "Cannot convert object to primitive value").
const WRONG = {
  string: [1, true, null, [], { toString: 1 }, { a: "b" }],
  number: ["1", true, null, [1], { valueOf: 1, toString: 1 }, "NaN"],
  boolean: ["true", 1, null, [], {}],
  array: ["[]", 1, null, {}, { length: 3 }],
  object: ["{}", 1, null, [1, 2]],
};

const TOP = { dhatFileVersion: "number", mode: "string", verb: "string", bklt: "boolean", bkacc: "boolean", tu: "string",
  Mtu: "string", tuth: "number", cmd: "string", pid: "number", tg: "number", te: "number", pps: "array", ftbl: "array",
  bu: "string", bsu: "string", bksu: "string" };
const PP = { tb: "number", tbk: "number", tl: "number", mb: "number", mbk: "number", gb: "number", gbk: "number",
  eb: "number", ebk: "number", rb: "number", wb: "number", fs: "array" };

export function mutations(name, text, { big = false } = {}) {
  const r = rng(seedOf(name));
  const base = JSON.parse(text);
  const out = [];
  const add = (id, family, value) => out.push({ id: `${name.replace(/\.json$/, "")}--${id}`, family, ...value });
  const edit = (id, family, f) => {
    const d = structuredClone(base);
    f(d);
    add(id, family, { text: JSON.stringify(d) });
  };
  const pretty = JSON.stringify(base, null, 1);
  const ppFields = Object.keys(PP).filter((k) => base.pps.some((p) => k in p));

  // Truncation: at the start, in the middle of tokens, just before the end.
  for (const at of [1, 7, Math.floor(pretty.length / 3), Math.floor(pretty.length / 2) + r.int(40), pretty.length - 2]) {
    add(`truncate-${at}`, "truncation", { text: pretty.slice(0, at) });
  }
  // Bit flips: a low bit of an ASCII byte (stays ASCII), and anywhere (may leave UTF-8).
  const bytes = Buffer.from(pretty, "utf8");
  for (let k = 0; k < 6; k++) {
    const b = Buffer.from(bytes);
    let at = r.int(b.length);
    if (k < 4) {
      while (b[at] >= 0x80) at = (at + 1) % b.length;
      b[at] ^= 1 << r.int(7);
      add(`flip-ascii-${at}`, "bit flip", { text: b.toString("utf8") });
    } else {
      b[at] ^= 1 << r.int(8);
      add(`flip-${at}`, "bit flip", { bytes: b });
    }
  }
  // Wrong types at the top level, in a program point, in ftbl and fs.
  for (const [f, t] of Object.entries(TOP)) {
    if (!(f in base)) continue;
    const v = r.pick(WRONG[t]);
    edit(`type-${f}`, "wrong type", (d) => { d[f] = v; });
  }
  for (const f of ppFields) {
    const v = r.pick(WRONG[PP[f]]);
    const p = r.int(base.pps.length);
    edit(`type-pps-${p}-${f}`, "wrong type", (d) => { d.pps[p][f] = v; });
  }
  edit("type-pp", "wrong type", (d) => { d.pps[0] = [1, 2, 3]; });
  edit("type-ftbl-entry", "wrong type", (d) => { d.ftbl[1] = { toString: 1 }; });
  edit("type-fs-entry", "wrong type", (d) => { d.pps[0].fs[0] = "1"; });
  edit("type-allocsite", "wrong type", (d) => { d.allocsite = "sampled"; });
  edit("type-allocsite-sampleBytes", "wrong type", (d) => { d.allocsite = { sampled: true, sampleBytes: { toString: 1 } }; });
  edit("type-top", "wrong type", (d) => { for (const k of Object.keys(d)) delete d[k]; d.x = 1; });
  add("type-top-array", "wrong type", { text: JSON.stringify([base]) });
  add("type-top-string", "wrong type", { text: JSON.stringify(text.slice(0, 100)) });
  // Missing fields.
  for (const f of ["dhatFileVersion", "mode", "cmd", "te", "pps", "ftbl", "tg", "tuth"]) {
    if (f in base) edit(`missing-${f}`, "missing field", (d) => { delete d[f]; });
  }
  for (const f of ppFields) edit(`missing-pps-last-${f}`, "missing field", (d) => { delete d.pps[d.pps.length - 1][f]; });
  // Numbers: huge, overflowing, negative, zero where it must not be, versions.
  edit("te-zero", "numbers", (d) => { d.te = 0; });
  edit("te-negative", "numbers", (d) => { d.te = -1; });
  edit("pid-negative", "numbers", (d) => { d.pid = -5; });
  edit("tb-negative", "numbers", (d) => { d.pps[0].tb = -1024; });
  edit("tbk-huge", "numbers", (d) => { d.pps[0].tbk = 1e308; }); // valid alone
  edit("tb-sum-overflows", "numbers", (d) => { for (const p of d.pps) p.tb = 1.5e308; if (d.pps.length === 1) d.pps.push({ ...d.pps[0], fs: [] }); });
  add("tb-infinity", "numbers", { text: JSON.stringify(base).replace(/"tb":\d+/, '"tb":1e400') });
  edit("tb-float", "numbers", (d) => { d.pps[0].tb = 1024.75; }); // valid
  edit("te-huge", "numbers", (d) => { d.te = Number.MAX_SAFE_INTEGER * 4; }); // valid
  edit("version-3", "numbers", (d) => { d.dhatFileVersion = 3; });
  edit("version-string", "numbers", (d) => { d.dhatFileVersion = "2"; });
  edit("version-1", "numbers", (d) => { d.dhatFileVersion = 1; });
  // Program points: duplicates, bad frame indices, empty and odd stacks.
  edit("duplicate-pp", "duplicate program points", (d) => { d.pps.push(structuredClone(d.pps[0])); });
  edit("duplicate-pp-far", "duplicate program points", (d) => { d.pps.unshift({ ...structuredClone(d.pps[d.pps.length - 1]), tb: 1, tbk: 1 }); });
  edit("duplicate-empty-stacks", "duplicate program points", (d) => { d.pps.push({ ...structuredClone(d.pps[0]), fs: [] }, { ...structuredClone(d.pps[0]), fs: [] }); });
  edit("empty-stack", "duplicate program points", (d) => { d.pps.push({ ...structuredClone(d.pps[0]), fs: [] }); }); // valid
  edit("prefix-stack", "duplicate program points", (d) => { d.pps.push({ ...structuredClone(d.pps[0]), fs: d.pps[0].fs.slice(0, 1) }); }); // valid unless already there
  const n = base.ftbl.length;
  for (const [id, x] of [["minus-1", -1], ["zero", 0], ["len", n], ["len-plus", n + 1000], ["float", 1.5], ["string", "1"], ["null", null], ["huge", 1e300]]) {
    edit(`frame-index-${id}`, "bad frame index", (d) => { const p = d.pps[r.int(d.pps.length)]; p.fs[p.fs.length ? r.int(p.fs.length) : 0] = x; });
  }
  edit("root-not-root", "bad frame index", (d) => { d.ftbl[0] = "main"; });
  edit("root-missing", "bad frame index", (d) => { d.ftbl = []; for (const p of d.pps) p.fs = []; d.pps.length = Math.min(d.pps.length, 1); });
  edit("pps-empty", "bad frame index", (d) => { d.pps = []; }); // valid
  edit("unknown-fields", "bad frame index", (d) => { d.extra = { a: [1, 2] }; d.pps[0].zz = "x"; }); // valid
  // Strings from the file: markup, control characters, long names.
  edit("markup-names", "huge strings", (d) => { d.cmd = "<img src=x onerror=alert(1)>"; d.ftbl[1] = "0x1: </script><b>x</b> (a<.rs:1)"; });
  edit("long-frame-100k", "huge strings", (d) => { d.ftbl[1] = `0x1: ${"f::".repeat(33000)} (${"d/".repeat(500)}x.rs:1:1)`; });
  edit("parens-frame", "huge strings", (d) => { d.ftbl[1] = `0x1: ${"(".repeat(5000)}x${")".repeat(4000)}`; });
  edit("angle-frame", "huge strings", (d) => { d.ftbl[1] = `0x1: ${"<".repeat(20000)}a::b (src/x.rs:1:1)`; });

  if (big) {
    edit("long-frame-20m", "huge strings", (d) => { d.ftbl[1] = `0x1: ${"a".repeat(20 * 1024 * 1024)} (src/x.rs:1:1)`; });
    edit("long-cmd-5m", "huge strings", (d) => { d.cmd = "c".repeat(5 * 1024 * 1024); d.bsu = "b".repeat(1024 * 1024); });
    edit("slashes-frame-5m", "huge strings", (d) => { d.ftbl[1] = `0x1: f (${"/".repeat(5 * 1024 * 1024)})`; });
    add("deep-nesting-valid", "deep nesting", { text: JSON.stringify({ ...base, extra: "X" }).replace('"X"', "[".repeat(200000) + "]".repeat(200000)) });
    add("deep-nesting-in-mode", "deep nesting", { text: JSON.stringify({ ...base, mode: "X" }).replace('"X"', "[".repeat(200000) + "]".repeat(200000)) });
    add("deep-nesting-unclosed", "deep nesting", { text: "[".repeat(500000) });
    add("deep-nesting-objects", "deep nesting", { text: '{"a":'.repeat(200000) + "1" + "}".repeat(200000) });
    edit("deep-stack-100k", "deep nesting", (d) => {
      const long = [];
      for (let i = 0; i < 100000; i++) long.push(1 + (i % (n - 1)));
      d.pps.push({ ...structuredClone(d.pps[0]), fs: long }, { ...structuredClone(d.pps[0]), fs: long.slice(0, 60000).concat([1]) });
    });
    edit("many-pps", "duplicate program points", (d) => {
      const p0 = d.pps[0];
      for (let i = 0; i < 20000; i++) d.pps.push({ ...structuredClone(p0), fs: [1 + (i % (n - 1)), 1 + ((i * 7) % (n - 1)), 1 + ((i * 13) % (n - 1)), 1 + Math.floor(i / 1000) % (n - 1)] });
      // Drop exact repeats so the file stays valid.
      const seen = new Set();
      d.pps = d.pps.filter((p) => { const k = p.fs.join(","); if (seen.has(k)) return false; seen.add(k); return true; });
    });
  }
  return out;
}

// The real files the mutations start from.
export const SOURCES = ["valgrind-heap.json", "valgrind-copy.json", "valgrind-ad-hoc.json", "dhat-crate-heap.json",
  "dhat-crate-ad-hoc.json", "allocsite-heap.json", "allocsite-profile.json", "allocsite-budget-serde.json"];

export const load = (name) => fs.readFileSync(fixture(name), "utf8");
