// Unit tests of the viewer's model (model.js) in plain Node: no browser, no DOM.
// Run: cd viewer && node --test tests/model.test.mjs   (run.sh runs them first)
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fixture, fileTotals, dhatFilesUnderTest } from "./paths.mjs";

const require = createRequire(import.meta.url);
const M = require("../model.js");

const load = (name) => M.parseDhat(fs.readFileSync(fixture(name), "utf8"));
const metric = (p, id) => M.metricsFor(p).find((m) => m.id === id);
const names = (p, nodes) => nodes.map((n) => M.frameLabel(p, n.frames[0]).func);

test("the model is a plain script: no DOM, and a global in a page", () => {
  const src = fs.readFileSync(new URL("../model.js", import.meta.url), "utf8");
  assert.ok(!/\bdocument\b|\bwindow\b/.test(src.replace(/\/\/.*$/gm, "")), "model.js touches the DOM");
  const sandbox = {};
  new Function("self", "module", src)(sandbox, undefined);
  assert.equal(typeof sandbox.AllocsiteModel.parseDhat, "function");
});

describe("every fixture parses and its totals equal the file's", () => {
  const files = dhatFilesUnderTest([
    "allocsite-heap.json", "dhat-crate-heap.json", "dhat-crate-ad-hoc.json",
    "valgrind-heap.json", "valgrind-copy.json", "valgrind-ad-hoc.json",
    "compare-before.json", "compare-after.json", "xss.json",
  ]);
  for (const file of files) {
    test(path.basename(file), () => {
      const p = M.parseDhat(fs.readFileSync(file, "utf8"));
      const want = fileTotals(file);
      assert.equal(p.n, want.data.pps.length);
      assert.equal(p.totals[M.TB], want.bytes);
      assert.equal(p.totals[M.TBK], want.blocks);
      assert.equal(p.totals[M.GB], want.gb);
      assert.equal(p.frames.text.length, want.data.ftbl.length);
    });
  }
});

test("formatting", () => {
  assert.equal(M.fmtNum(1234567.891), "1,234,567.89");
  assert.equal(M.fmtNum(Infinity), "∞");
  assert.equal(M.fmtNum(NaN), "n/a");
  assert.equal(M.fmtPct(1, 3), "33.33%");
  assert.equal(M.fmtPct(0, 0), "0.00%");
  assert.equal(M.fmtBytes(8760, "bytes"), "8,760 bytes (8.55 KiB)");
  assert.equal(M.fmtBytes(-2048, "bytes"), "-2,048 bytes (-2 KiB)");
  assert.equal(M.fmtBytes(9437184, "bytes (est.)"), "9,437,184 bytes (est.) (9 MiB)");
  assert.equal(M.fmtBytes(5000, "units"), "5,000 units");
  assert.equal(M.fmtSigned(5), "+5");
  assert.equal(M.fmtSigned(-5), "-5");
});

test("frame strings split into function and location from the right", () => {
  const fr = M.describeFrames([
    "[root]",
    "0x4AA1D9F: _nl_normalize_codeset (l10nflist.c:332)",
    "0x48417B4: malloc (in /usr/libexec/valgrind/vgpreload_dhat-amd64-linux.so)",
    "0x1: <app::Foo as core::ops::Fn<(A, B)>>::call (src/x.rs:1:2)",
    "0x2: operator new(unsigned long) (in /usr/lib/libstdc++.so.6)",
    "0x3: no location at all",
    "0x4: f (src/a.rs:1:1)",
  ]);
  assert.deepEqual(fr.func.slice(1), ["_nl_normalize_codeset", "malloc", "<app::Foo as core::ops::Fn<(A, B)>>::call",
    "operator new(unsigned long)", "no location at all", "f"]);
  assert.deepEqual(fr.loc.slice(1), ["l10nflist.c:332", "in /usr/libexec/valgrind/vgpreload_dhat-amd64-linux.so", "src/x.rs:1:2",
    "in /usr/lib/libstdc++.so.6", "", "src/a.rs:1:1"]);
});

test("metrics follow what the file records", () => {
  assert.deepEqual(M.metricsFor(load("valgrind-heap.json")).map((m) => m.id), ["tb", "tbk", "mb", "gb", "eb", "lt", "rb", "wb"]);
  assert.deepEqual(M.metricsFor(load("dhat-crate-ad-hoc.json")).map((m) => m.label), ["Total (units)", "Total (events)"]);
  const p = load("allocsite-heap.json");
  const tb = metric(p, "tb");
  assert.equal(M.valueText(tb, p.totals), "9,437,184 bytes (est.) (9 MiB)");
  assert.equal(M.pctText(p, tb, p.totals), "100.00%");
  assert.equal(M.barFraction(p, tb, p.totals), 1);
  const lt = metric(p, "lt");
  assert.match(M.pctText(p, lt, p.totals), / of run$/);
});

describe("trees", () => {
  const p = load("allocsite-heap.json");
  const ALLOC = "<allocsite::Alloc<A> as core::alloc::global::GlobalAlloc>::alloc";
  const REALLOC = "<allocsite::Alloc<A> as core::alloc::global::GlobalAlloc>::realloc";

  test("allocation site first, sorted by the metric, one-child chains merged", () => {
    const tree = M.mainTree(p, M.allPps(p), "callers", "All");
    const tb = metric(p, "tb"), tbk = metric(p, "tbk");
    const top = M.sortedKids(tree.root, tb, 0).sig;
    assert.deepEqual(names(p, top), [ALLOC, REALLOC]);
    assert.deepEqual(names(p, M.sortedKids(top[0], tb, 0).sig), ["alloc::raw_vec::RawVec<T,A>::with_capacity_in", "alloc::string::String::with_capacity"]);
    assert.deepEqual(names(p, M.sortedKids(top[0], tbk, 0).sig), ["alloc::string::String::with_capacity", "alloc::raw_vec::RawVec<T,A>::with_capacity_in"]);
    // realloc -> hashbrown -> main is one node of three frames.
    assert.equal(top[1].frames.length, 3);
    assert.equal(M.hasKids(top[1]), false);
    assert.equal(tree.root.sums[M.TB], 9437184);
  });

  test("from main down", () => {
    const tree = M.mainTree(p, M.allPps(p), "topdown", "All");
    const tb = metric(p, "tb");
    const top = M.sortedKids(tree.root, tb, 0).sig;
    assert.deepEqual(names(p, top), ["profile::main"]);
    assert.deepEqual(names(p, M.sortedKids(top[0], tb, 0).sig),
      ["profile::build_index", "profile::load_rows", "profile::render", "profile::parse_args", "hashbrown::raw::RawTable<T>::reserve_rehash"]);
  });

  test("small nodes fold unless only one would", () => {
    const d = JSON.parse(fs.readFileSync(fixture("compare-before.json"), "utf8"));
    d.pps = [{ ...d.pps[0], tb: 100000, fs: [1, 6] }];
    for (let i = 2; i <= 5; i++) d.pps.push({ ...d.pps[0], tb: 10, fs: [i, 6] });
    const q = M.parseDhat(JSON.stringify(d));
    const tree = M.mainTree(q, M.allPps(q), "callers", "All");
    const tb = metric(q, "tb");
    const { sig, insig } = M.sortedKids(tree.root, tb, 0.01 * 100040);
    assert.equal(sig.length, 1);
    assert.equal(insig.length, 4);
    d.pps.length = 2;
    const r = M.parseDhat(JSON.stringify(d));
    const t2 = M.mainTree(r, M.allPps(r), "callers", "All");
    assert.equal(M.sortedKids(t2.root, metric(r, "tb"), 0.01 * 100010).sig.length, 2);
  });

  test("search marks frames and filters pps", () => {
    assert.equal(M.matchFrames(p, "  "), null);
    const m = M.matchFrames(p, "examples/PROFILE.rs");
    assert.equal(M.ppsMatching(p, m).length, 5);
    assert.equal(M.ppsMatching(p, M.matchFrames(p, "load_rows")).length, 1);
    assert.equal(M.ppsMatching(p, M.matchFrames(p, "String")).length, 2);
  });

  test("flame layout: widths are shares of the metric, zoom keeps ancestors", () => {
    const tree = M.mainTree(p, M.allPps(p), "callers", "All");
    const tb = metric(p, "tb");
    const rects = M.layoutFlame(tree.root, null, tb, 1000);
    assert.equal(rects[0].w, 1000);
    const s = rects.find((r) => r.frame !== null && p.frames.func[r.frame] === "alloc::string::String::with_capacity");
    assert.ok(Math.abs(s.w - 1000 * 2621440 / 9437184) < 1e-6);
    const zoomed = M.layoutFlame(tree.root, s.node, tb, 1000);
    assert.ok(zoomed.some((r) => r.ancestor && r.frame === null));
    assert.equal(zoomed.find((r) => r.node === s.node && !r.ancestor).w, 1000);
  });
});

test("bottom-up: self and total by function and by line; callers", () => {
  const p = load("allocsite-heap.json");
  const tb = metric(p, "tb");
  const bu = M.bottomUp(p, M.allPps(p), "func");
  assert.equal(bu.rows.length, 11);
  const bySelf = bu.rows.slice().sort((a, b) => tb.value(b.self) - tb.value(a.self));
  assert.equal(bySelf[0].name, "<allocsite::Alloc<A> as core::alloc::global::GlobalAlloc>::alloc");
  const main = bu.rows.find((r) => r.name === "profile::main");
  assert.equal(tb.value(main.total), 9437184);
  assert.equal(tb.value(main.self), 0);
  const fr = bu.rows.find((r) => r.name === "profile::format_row");
  const callers = M.callersTree(p, bu, fr.id);
  assert.deepEqual(names(p, M.kidsOf(callers.root)), ["profile::render"]);
  const lines = M.bottomUp(p, M.allPps(p), "line");
  assert.ok(lines.rows.some((r) => r.name === "examples/profile.rs:22"));
});

test("comparison lists exactly the known differences", () => {
  const before = load("compare-before.json"), after = load("compare-after.json");
  const fn = (list) => list.map((r) => r.key.split("\n")[0].replace(/ \(.*$/, ""));
  const res = M.compareProfiles(before, after, metric(after, "tb"));
  assert.deepEqual(fn(res.grew), ["demo::alpha"]);
  assert.deepEqual(fn(res.shrank), ["demo::beta"]);
  assert.deepEqual(fn(res.appeared), ["demo::zeta"]);
  assert.deepEqual(fn(res.disappeared), ["demo::gamma", "demo::delta"]);
  assert.equal(res.unchanged, 1);
  assert.equal(res.grew[0].delta, 500);
  const byBlocks = M.compareProfiles(before, after, metric(after, "tbk"));
  assert.deepEqual(fn(byBlocks.grew), ["demo::beta"]);
  assert.deepEqual(fn(byBlocks.shrank), []);
});

test("malformed inputs each get their specific message", () => {
  const good = fs.readFileSync(fixture("compare-before.json"), "utf8");
  const edit = (f) => { const d = JSON.parse(good); f(d); return JSON.stringify(d, null, 1); };
  const cases = [
    ["", /^the file is empty$/],
    ["{\n  \"dhatFileVersion\": 2,\n  oops\n}", /^not JSON at line 3 column 3: expected a double-quoted property name$/],
    [good.slice(0, Math.floor(good.length / 2)), /^the file is truncated: the JSON ends at line \d+ column \d+ before it is complete/],
    ["[1, 2]", /^not a DHAT file: the JSON top level is an array, expected an object$/],
    [edit((d) => { d.dhatFileVersion = 3; }), /^unsupported file version: dhatFileVersion is 3, expected 2$/],
    [edit((d) => { delete d.cmd; }), /^missing field "cmd" at the top level$/],
    [edit((d) => { delete d.pps[1].tbk; }), /^program point pps\[1\] is missing field "tbk"$/],
    [edit((d) => { d.pps[0].tb = "10"; }), /^program point pps\[0\] field "tb" is a string, expected a number$/],
    [edit((d) => { d.pps[3].fs = [4, 99]; }), /^program point pps\[3\] has frame index 99 at fs\[1\], but ftbl has 7 entries \(valid indices 0 to 6\)$/],
    [edit((d) => { d.ftbl[2] = 7; }), /^ftbl\[2\] is a number, expected a string$/],
  ];
  for (const [text, want] of cases) {
    assert.throws(() => M.parseDhat(text), (e) => e instanceof M.DhatError && want.test(e.message), String(want));
  }
});
