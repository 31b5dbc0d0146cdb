// Unit tests of the viewer's model (model/*.js) in plain Node: no browser, no DOM.
// Run: cd viewer && node --test tests/model.test.mjs   (run.sh runs them first). The model is
// loaded as a page loads it: tests/load-model.mjs runs index.html's model/*.js scripts in order.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fixture, fileTotals, dhatFilesUnderTest, repoDir } from "./paths.mjs";
import { loadModel } from "./load-model.mjs";

const M = loadModel();

const load = (name) => M.parseDhat(fs.readFileSync(fixture(name), "utf8"));
const metric = (p, id) => M.metricsFor(p).find((m) => m.id === id);
const names = (p, nodes) => nodes.map((n) => M.frameLabel(p, n.frames[0]).func);

describe("every fixture parses and its totals equal the file's", () => {
  const files = dhatFilesUnderTest([
    "allocsite-heap.json", "dhat-crate-heap.json", "dhat-crate-ad-hoc.json", "dhat-crate-hashmap.json",
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
  assert.equal(M.cellText(tb, p.totals), "9,437,184 (9 MiB)");
  assert.equal(M.cellText(metric(p, "tbk"), p.totals), "96");
  // The average lifetime's bar and fold follow the lifetime (share of the run), not blocks.
  const lt = metric(p, "lt");
  assert.equal(M.pctText(p, lt, p.totals), M.fmtPct(lt.value(p.totals), 10000));
  assert.equal(lt.share(p.totals), lt.value(p.totals) / 10000);
  const long = new Float64Array(M.NF), short = new Float64Array(M.NF);
  long[M.TBK] = 1; long[M.TL] = 5000; short[M.TBK] = 1000; short[M.TL] = 1000;
  assert.ok(lt.share(long) > lt.share(short), "one long-lived block outweighs many short-lived ones");
  assert.equal(M.significant(lt, short, 0.01), false);
  assert.equal(M.significant(lt, long, 0.01), true);
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
    const { sig, insig } = M.sortedKids(tree.root, tb, 0.01);
    assert.equal(sig.length, 1);
    assert.equal(insig.length, 4);
    d.pps.length = 2;
    const r = M.parseDhat(JSON.stringify(d));
    const t2 = M.mainTree(r, M.allPps(r), "callers", "All");
    assert.equal(M.sortedKids(t2.root, metric(r, "tb"), 0.01).sig.length, 2);
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
  const fn = (list) => list.map((r) => r.label.func);
  const res = M.compareSites(before, after, metric(after, "tb"));
  assert.deepEqual(fn(res.grew), ["demo::alpha"]);
  assert.deepEqual(fn(res.shrank), ["demo::beta"]);
  assert.deepEqual(fn(res.appeared), ["demo::zeta"]);
  assert.deepEqual(fn(res.disappeared), ["demo::gamma", "demo::delta"]);
  assert.equal(res.unchanged, 1);
  assert.equal(res.grew[0].delta, 500);
  assert.equal(res.grew[0].pct, 50);
  assert.deepEqual(res.totals.disappeared, { before: 500, after: 0, delta: -500 });
  assert.deepEqual(res.totals.appeared, { before: 0, after: 700, delta: 700 });
  const byBlocks = M.compareSites(before, after, metric(after, "tbk"));
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
    [edit((d) => { d.pps[3].fs = [4, 99]; }), /^program point pps\[3\] has frame index 99 at fs\[1\], but ftbl has 7 entries \(valid indices 1 to 6\)$/],
    [edit((d) => { d.ftbl[2] = 7; }), /^ftbl\[2\] is a number, expected a string$/],
    // What dh_view accepts but should not (anchors.md §1.2), and types, not just presence.
    [edit((d) => { d.pps.push({ ...d.pps[1] }); }), /^program points pps\[1\] and pps\[5\] have the same stack \(fs\); each program point must have its own$/],
    [edit((d) => { d.pps[0].fs = [0, 6]; }), /^program point pps\[0\] has frame index 0 at fs\[0\] \(ftbl\[0\] is "\[root\]", not a frame\)/],
    [edit((d) => { d.ftbl[0] = "main"; }), /^ftbl\[0\] is "main", expected "\[root\]"$/],
    [edit((d) => { d.te = 0; }), /^field "te" \(t-end, the length of the run\) is 0, expected a number above 0$/],
    [edit((d) => { d.cmd = { toString: 1 }; }), /^field "cmd" is an object, expected a string$/],
    [edit((d) => { d.bklt = "yes"; }), /^field "bklt" is a string, expected a boolean$/],
    [edit((d) => { d.pps[2].tb = -3; }), /^program point pps\[2\] field "tb" is -3, expected a number ≥ 0$/],
    [edit((d) => { delete d.pps[0].tl; }), /^program point pps\[0\] is missing field "tl"$/],
    [good.replace('"tb": 1000', '"tb": 1e999'), /^program point pps\[0\] field "tb" is Infinity, too large to be a number$/],
  ];
  for (const [text, want] of cases) {
    assert.throws(() => M.parseDhat(text), (e) => e instanceof M.DhatError && want.test(e.message), String(want));
  }
});

// ------------------------------------------------------------------ frame classes

describe("frame classes follow the shared test vectors (tests/fixtures/frame-classes.json)", () => {
  // The same file tests/frame_classes.rs reads: one set of vectors for both classifiers.
  const vectors = JSON.parse(fs.readFileSync(path.join(repoDir, "tests", "fixtures", "frame-classes.json"), "utf8"));
  test("the vectors cover every class and enough cases", () => {
    assert.ok(vectors.length >= 40);
    assert.deepEqual([...new Set(vectors.map((v) => v.class))].sort(), ["allocsite", "dependency", "std", "system", "unknown", "user"]);
    for (const v of vectors) assert.deepEqual(Object.keys(v).filter((k) => !["frame", "class", "crate", "version", "context", "note"].includes(k)), []);
  });
  for (const v of vectors) {
    test(v.frame, () => {
      const ftbl = [...(v.context || []), v.frame];
      const c = M.classifyFrames(ftbl);
      const i = ftbl.length - 1;
      const got = { class: M.CLASSES[c.cls[i]], crate: c.crate[i], version: c.version[i] };
      assert.deepEqual(got, { class: v.class, crate: v.crate ?? null, version: v.version ?? null }, v.note);
    });
  }
});

// ------------------------------------------------------------------ call sites

const top = (p, pps, id = "tb") => {
  const m = metric(p, id);
  return M.callSites(p, pps || M.allPps(p)).sort((a, b) => m.value(b.sums) - m.value(a.sums));
};
const label = (p, r) => { const l = M.siteLabel(p, r); return `${l.callee ? l.callee + " ← " : ""}${l.func} (${l.loc})`; };

describe("call sites", () => {
  test("dhat crate: the program's own lines, not the allocator's frames", () => {
    const p = load("dhat-crate-heap.json");
    const rows = top(p);
    assert.deepEqual(rows.map((r) => label(p, r)), [
      "core::iter::traits::iterator::Iterator::collect ← dhatfix::make_vec (dhatfix/src/main.rs:7)",
      "core::iter::traits::iterator::Iterator::collect ← dhatfix::make_strings (dhatfix/src/main.rs:10)",
      "alloc::fmt::format ← dhatfix::make_strings::{{closure}} (dhatfix/src/main.rs:10)",
    ]);
    assert.deepEqual(rows.map((r) => r.pps), [2, 1, 20], "stacks with other addresses and callers merge");
    assert.deepEqual(rows.map((r) => r.site.cls), ["user", "user", "user"]);
    assert.equal(rows.reduce((s, r) => s + r.sums[M.TB], 0), p.totals[M.TB]);
  });

  test("dhat crate, std's HashMap: hashbrown cut to src/raw/alloc.rs is not the user's line", () => {
    const p = load("dhat-crate-hashmap.json");
    const rows = top(p);
    assert.equal(label(p, rows[0]), "std::collections::hash::map::HashMap<K,V,S,A>::insert ← hbcheck::index (hbcheck/src/main.rs:9)");
    assert.ok(rows.every((r) => !label(p, r).includes("src/raw/")));
  });

  test("Valgrind: the C function that called malloc", () => {
    const p = load("valgrind-heap.json");
    assert.deepEqual(top(p).map((r) => label(p, r)), ["malloc ← make_buffer (dhat-sample.c:9)", "calloc ← make_table (dhat-sample.c:22)"]);
    assert.deepEqual(top(load("valgrind-ad-hoc.json")).map((r) => r.site.cls), ["user", "user"]);
  });

  test("allocsite, sampled profile of the example", () => {
    const p = load("allocsite-profile.json");
    const rows = top(p);
    assert.match(label(p, rows[0]), /← profile::\w+ \(examples\/profile\.rs:\d+\)$/);
    assert.ok(rows.every((r) => r.site.cls === "user"));
  });

  test("allocsite budget scope calling serde_json: the user's line, with the dependency call it made", () => {
    const p = load("allocsite-budget-serde.json");
    const rows = top(p);
    assert.equal(label(p, rows[0]), "serde_json::de::from_str ← budgetfix::parse_value (src/lib.rs:19)");
    assert.ok(rows.slice(0, 7).every((r) => r.site.cls === "user"), "every user stack is found through serde_json, serde_core and std's hashbrown");
    // One stack has no user frame at all (a String made inside serde_core): the first
    // dependency frame stands in, and says so.
    const dep = rows.find((r) => r.site.cls === "dependency");
    assert.equal(dep.site.crate, "serde_core");
    assert.match(M.siteLabel(p, dep).func, /StringVisitor as serde_core::de::Visitor>::visit_str$/);
  });

  test("fallbacks: a dependency, then a non-library frame, then the innermost; the empty stack", () => {
    const file = (ftbl, stacks) => M.parseDhat(JSON.stringify({
      dhatFileVersion: 2, mode: "rust-heap", verb: "Allocated", bklt: false, bkacc: false, tu: "µs", Mtu: "s",
      cmd: "t", pid: 1, te: 1, pps: stacks.map((fs, i) => ({ tb: 100 - i, tbk: 1, fs })), ftbl: ["[root]", ...ftbl],
    }));
    const p = file([
      "0x1: alloc::alloc::alloc (alloc/src/alloc.rs:95:14)",
      "0x2: serde_json::de::from_str (serde_json-1.0.154/src/de.rs:2713:5)",
      "0x3: std::rt::lang_start (std/src/rt.rs:206:5)",
      "0x4: ??? (???:0:0)",
      "0x5: malloc (in /usr/lib/x86_64-linux-gnu/libc.so.6)",
    ], [[1, 2, 3], [1, 4, 3], [1, 3], [5, 1], []]);
    const rows = M.callSites(p, M.allPps(p));
    assert.deepEqual(rows.map((r) => [r.site.cls, M.siteLabel(p, r).func, M.siteLabel(p, r).callee]), [
      ["dependency", "serde_json::de::from_str", "alloc::alloc::alloc"],
      ["unknown", "???", "alloc::alloc::alloc"],
      ["std", "alloc::alloc::alloc", ""],
      ["system", "malloc", ""],
      ["unknown", "(empty stack)", ""],
    ]);
  });

  test("one site per function, file and line, whatever the column, address and callee", () => {
    const p = M.parseDhat(JSON.stringify({
      dhatFileVersion: 2, mode: "rust-heap", verb: "Allocated", bklt: false, bkacc: false, tu: "µs", Mtu: "s", cmd: "t", pid: 1, te: 1,
      pps: [{ tb: 10, tbk: 1, fs: [1, 3] }, { tb: 30, tbk: 1, fs: [2, 4] }, { tb: 5, tbk: 1, fs: [1, 5] }],
      ftbl: ["[root]", "0xa: alloc::vec::Vec<T>::push (alloc/src/vec/mod.rs:992:22)", "0xb: alloc::string::String::push_str (alloc/src/string.rs:1102:18)",
        "0x10: app::fill (src/main.rs:9:5)", "0x20: app::fill (src/main.rs:9:17)", "0x30: app::fill (src/main.rs:10:5)"],
    }));
    const rows = top(p);
    assert.deepEqual(rows.map((r) => [label(p, r), r.sums[M.TB], r.pps]), [
      ["alloc::string::String::push_str ← app::fill (src/main.rs:9)", 40, 2], // the callee of the biggest stack
      ["alloc::vec::Vec<T>::push ← app::fill (src/main.rs:10)", 5, 1],
    ]);
  });
});

// ------------------------------------------------------------------ comparing by call site

function scaled(name, factor) {
  const d = JSON.parse(fs.readFileSync(fixture(name), "utf8"));
  for (const pp of d.pps) for (const k of M.FIELDS) if (typeof pp[k] === "number" && k !== "tl") pp[k] *= factor;
  return M.parseDhat(JSON.stringify(d));
}

describe("comparison by call site", () => {
  for (const name of ["dhat-crate-heap.json", "valgrind-heap.json", "allocsite-profile.json", "allocsite-budget-serde.json", "valgrind-copy.json"]) {
    test(`${name} against a copy of itself ×2: every site grew, by 100%`, () => {
      const base = load(name), cur = scaled(name, 2);
      const res = M.compareSites(base, cur, metric(cur, "tb"));
      const sites = M.callSites(base, M.allPps(base)).length;
      assert.equal(res.grew.length, sites);
      assert.deepEqual([res.shrank.length, res.appeared.length, res.disappeared.length, res.unchanged], [0, 0, 0, 0]);
      assert.ok(res.grew.every((r) => r.pct === 100));
      assert.equal(res.totals.grew.delta, base.totals[M.TB]);
    });
  }

  test("the same site reached from two threads: the site doubled (whole-stack matching saw no growth)", () => {
    const header = { dhatFileVersion: 2, mode: "rust-heap", verb: "Allocated", bklt: false, bkacc: false, tu: "µs", Mtu: "s", cmd: "churn", pid: 1, te: 1 };
    const ftbl = ["[root]", "0x10: alloc::raw_vec::finish_grow (alloc/src/raw_vec.rs:2467:29)", "0x20: churn::churn (src/main.rs:82:9)",
      "0x30: churn::main::{{closure}} (src/main.rs:100:22)", "0x40: churn::main::{{closure}} (src/main.rs:101:22)",
      "0x50: std::sys::pal::unix::thread::Thread::new::thread_start (std/src/sys/pal/unix/thread.rs:105:17)"];
    const one = M.parseDhat(JSON.stringify({ ...header, pps: [{ tb: 1000, tbk: 10, fs: [1, 2, 3, 5] }], ftbl }));
    const two = M.parseDhat(JSON.stringify({ ...header, pps: [{ tb: 1000, tbk: 10, fs: [1, 2, 3, 5] }, { tb: 1000, tbk: 10, fs: [1, 2, 4, 5] }], ftbl }));
    const res = M.compareSites(one, two, metric(two, "tb"));
    assert.equal(res.grew.length, 1);
    assert.equal(res.grew[0].label.func, "churn::churn");
    assert.deepEqual([res.grew[0].before, res.grew[0].after, res.grew[0].pct], [1000, 2000, 100]);
  });

  test("a self-comparison of 1,000,000 program points is fast", () => {
    // Built in memory (the JSON would be ~200 MB): 1M stacks over 4,999 user sites.
    const FR = 20000, N = 1_000_000;
    const ftbl = ["[root]"];
    for (let i = 1; i < FR; i++) ftbl.push(i % 4 === 0 ? `0x${i.toString(16)}: app::m${i % 97}::f${i} (src/m${i % 97}.rs:${i}:5)`
      : `0x${i.toString(16)}: alloc::raw_vec::f${i} (alloc/src/raw_vec.rs:${i}:9)`);
    const fsArr = new Array(N), vals = new Float64Array(N * M.NF), totals = new Float64Array(M.NF);
    let x = 7;
    const rnd = () => { x ^= x << 13; x >>>= 0; x ^= x >> 17; x ^= x << 5; x >>>= 0; return x; };
    for (let p = 0; p < N; p++) {
      const f = [1 + (rnd() % 3) * 4 + 1, 4 * (1 + (p % 4999))];
      for (let d = 0; d < 8; d++) f.push(1 + (rnd() % (FR - 1)));
      fsArr[p] = f;
      vals[p * M.NF + M.TB] = 16 + (p % 100);
      vals[p * M.NF + M.TBK] = 1;
    }
    const profile = () => ({ meta: { mode: "rust-heap", bklt: false, te: 1 }, units: { byte: "byte", bytes: "bytes", blocks: "blocks" },
      frames: M.describeFrames(ftbl), n: N, vals, fs: fsArr, totals });
    const a = profile(), b = profile();
    // CPU time, not wall time: the machine is shared, and this guards against a quadratic
    // comparison (hours at this size), not against a few percent.
    const t0 = performance.now(), c0 = process.cpuUsage();
    const res = M.compareSites(a, b, M.metricsFor(a)[0]);
    const ms = performance.now() - t0, cpu = process.cpuUsage(c0), cpuMs = (cpu.user + cpu.system) / 1000;
    console.log(`# self-comparison of ${N} program points: ${cpuMs.toFixed(0)} ms CPU (${ms.toFixed(0)} ms wall), ${res.unchanged} sites unchanged`);
    assert.equal(res.unchanged, 4999);
    assert.equal(res.grew.length + res.shrank.length + res.appeared.length + res.disappeared.length, 0);
    assert.ok(cpuMs < 15000, `took ${cpuMs} ms of CPU`);
  });
});

// ------------------------------------------------------------------ collapsing and filters

test("collapsing std, allocsite and dependency frames keeps the call each run was entered by", () => {
  const p = load("dhat-crate-heap.json");
  const v = M.collapsedView(p);
  assert.equal(M.collapsedView(p), v);
  const tree = M.mainTree(v, M.allPps(v), "callers", "All");
  const tb = metric(p, "tb");
  const top1 = M.sortedKids(tree.root, tb, 0).sig;
  assert.deepEqual(names(p, top1), ["core::iter::traits::iterator::Iterator::collect", "alloc::fmt::format"]);
  assert.deepEqual(names(p, M.sortedKids(top1[0], tb, 0).sig), ["dhatfix::make_vec", "dhatfix::make_strings"]);
  // Nothing else changes: the same pps, counters and frames.
  assert.equal(tree.root.sums[M.TB], p.totals[M.TB]);
  assert.equal(v.frames, p.frames);
  // A budget scope: serde_json and serde_core under the user's parse_value are one frame.
  const q = load("allocsite-budget-serde.json");
  const w = M.collapsedView(q);
  const i = q.fs.findIndex((f) => f.some((x) => q.frames.func[x] === "budgetfix::parse_value"));
  assert.deepEqual(w.fs[i].map((x) => q.frames.func[x]).slice(0, 3),
    ["serde_json::de::from_str", "budgetfix::parse_value", "budgetfix::load_all"]);
});

test("dh_view's filters: short-lived, tiny, still live at the end", () => {
  const v = load("valgrind-heap.json");
  const all = M.allPps(v);
  assert.deepEqual([...M.filterPps(v, all, { short: true })], [0]);
  assert.deepEqual([...M.filterPps(v, all, { tiny: true })], []);
  assert.deepEqual([...M.filterPps(v, all, { live: true })], [1]);
  assert.equal(M.filterPps(v, all, {}), all);
  const d = load("dhat-crate-heap.json");
  assert.equal(M.filterPps(d, M.allPps(d), { tiny: true }).length, 20);
  assert.equal(M.filterPps(d, M.allPps(d), { short: true }).length, 3);
  assert.equal(M.filterPps(d, M.allPps(d), { short: true, tiny: true }).length, 2);
  // Without lifetimes only "tiny" applies.
  const c = load("valgrind-copy.json");
  assert.deepEqual(M.filtersAvailable(c), { short: false, tiny: true, live: false });
  assert.equal(M.filterPps(c, M.allPps(c), { short: true, live: true }).length, c.n);
});

// ------------------------------------------------------------------ hostile files

describe("the invalid-file corpus (tests/fixtures/invalid, shared with the Rust validator)", () => {
  const dir = fixture("invalid");
  const expected = JSON.parse(fs.readFileSync(path.join(dir, "expected.json"), "utf8"));
  const accepted = JSON.parse(fs.readFileSync(path.join(dir, "accepted.json"), "utf8"));
  test("every file listed, every listed file there", () => {
    const listed = new Set([...expected.map((e) => e.file), ...accepted.map((e) => e.file)]);
    const present = [...fs.readdirSync(dir).filter((f) => f.endsWith(".json") && !["expected.json", "accepted.json"].includes(f)),
      ...fs.readdirSync(path.join(dir, "accepted")).map((f) => `accepted/${f}`)];
    assert.deepEqual(present.sort(), [...listed].sort());
    assert.ok(expected.length >= 100);
    const kinds = new Set(expected.map((e) => e.kind));
    for (const k of ["not-json", "truncated", "not-object", "version", "missing-field", "wrong-type", "bad-number", "root-frame", "frame-index", "repeated-stack"]) {
      assert.ok(kinds.has(k), k);
    }
  });
  test("the viewer rejects each invalid file with the recorded kind, place and message", () => {
    for (const e of expected) {
      const text = fs.readFileSync(path.join(dir, e.file), "utf8");
      assert.throws(() => M.parseDhat(text), (err) => {
        assert.ok(err instanceof M.DhatError, e.file);
        assert.deepEqual({ kind: err.kind, where: err.where, message: err.message }, { kind: e.kind, where: e.where, message: e.message }, e.file);
        return true;
      });
    }
  });
  test("the viewer accepts each accepted file", () => {
    for (const a of accepted) M.parseDhat(fs.readFileSync(path.join(dir, a.file), "utf8"));
  });
});

describe("no mutation of a real file escapes as anything but a DhatError, and valid ones compute", async () => {
  const { mutations, SOURCES, load: loadSource } = await import("./mutations.mjs");
  for (const src of SOURCES) {
    test(src, () => {
      for (const m of mutations(src, loadSource(src))) {
        const text = m.text ?? new TextDecoder().decode(m.bytes);
        let p;
        try { p = M.parseDhat(text); } catch (e) { assert.ok(e instanceof M.DhatError, `${m.id}: ${e.stack}`); continue; }
        const pps = M.allPps(p), met = M.metricsFor(p), v = M.collapsedView(p);
        M.callSites(p, pps);
        const tree = M.mainTree(v, pps, "callers", "x");
        for (const metric of met) { M.sortedKids(tree.root, metric, 0.01); M.layoutFlame(tree.root, null, metric, 800); }
        M.bottomUp(v, pps, "func");
        M.compareSites(p, p, met[0]);
      }
    });
  }
});

test("limits: long names are cut for display, deep JSON and huge inputs say so", () => {
  const d = JSON.parse(fs.readFileSync(fixture("valgrind-heap.json"), "utf8"));
  d.ftbl[2] = `0x109271: ${"x".repeat(3_000_000)} (dhat-sample.c:9)`;
  const p = M.parseDhat(JSON.stringify(d));
  const l = M.frameLabel(p, 2);
  assert.equal(l.long, true);
  assert.equal(l.text.length, M.MAX_NAME);
  assert.ok(l.text.endsWith("…"));
  assert.equal(M.fullText(p, 2).length, 3_000_000 + " (dhat-sample.c:9)".length);
  const site = M.callSites(p, M.allPps(p)).find((r) => r.site.frame === 2);
  assert.ok(M.siteLabel(p, site).func.length <= M.MAX_NAME);
  assert.throws(() => M.parseDhat("[".repeat(300000)), (e) => e.kind === "truncated");
  assert.throws(() => M.parseDhat('{"a":'.repeat(300000)), (e) => e.kind === "truncated");
  assert.throws(() => M.parseDhat(42), (e) => e instanceof M.DhatError);
  assert.match(M.tooLargeMessage(600 * 2 ** 20), /^the file is too large: 629,145,600 bytes, and this viewer reads at most 536,870,912 \(512 MiB\)/);
  // More program points than the viewer handles: refused before any is looked at.
  const header = JSON.stringify({ ...d, pps: [] }).replace('"pps":[]', '"pps":[PPS]');
  const pps = '{"tb":1,"tbk":1,"fs":[]},'.repeat(M.MAX_PPS) + '{"tb":1,"tbk":1,"fs":[]}';
  assert.throws(() => M.parseDhat(header.replace("PPS", pps)), (e) => e.kind === "too-large" && e.where === "pps" &&
    /^the file has 2,000,001 program points, and this viewer handles at most 2,000,000/.test(e.message));
});
