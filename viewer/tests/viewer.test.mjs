// Browser tests for the allocsite viewer (viewer/index.html), in headless Chromium.
// Run: bash viewer/tests/run.sh   (or: cd viewer && node --test tests/*.test.mjs)
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { spawnSync } from "node:child_process";
import {
  launch, newPage, openInViewer, fileTotals, dhatFilesUnderTest, fixture, screenshotsDir, viewerUrl, repoDir,
} from "./helpers.mjs";

let browser;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "allocsite-viewer-test-"));
before(async () => { browser = await launch(); fs.mkdirSync(screenshotsDir, { recursive: true }); });
after(async () => { await browser?.close(); fs.rmSync(tmp, { recursive: true, force: true }); });

function tmpFile(name, text) {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
}

// Texts of the function names of the rows directly under a tree node element.
const kidNames = (page, nodeSelector) => page.$$eval(`${nodeSelector} > .kids > .node > .row .frames > .fn`, (es) => es.map((e) => e.textContent));
const ROOT = "#tree > .node";
const assertNoPageErrors = (page) => assert.deepEqual(page.pageErrors.map(String), []);

// ------------------------------------------------------------------ every file loads

const ALL_FIXTURES = [
  "allocsite-heap.json", "allocsite-profile.json", "allocsite-budget-serde.json", "dhat-crate-heap.json", "dhat-crate-ad-hoc.json",
  "valgrind-heap.json", "valgrind-copy.json", "valgrind-ad-hoc.json",
  "compare-before.json", "compare-after.json", "xss.json",
];

describe("each DHAT file loads and the displayed totals equal the file's", () => {
  for (const file of dhatFilesUnderTest(ALL_FIXTURES)) {
    test(path.basename(file), async () => {
      const page = await newPage(browser);
      await openInViewer(page, file);
      assert.equal(await page.textContent("#message"), "");
      assert.equal(await page.evaluate(() => document.body.dataset.status), "loaded");
      const want = fileTotals(file);
      assert.equal(Number(await page.getAttribute("#total-bytes", "data-value")), want.bytes);
      assert.equal(Number(await page.getAttribute("#total-blocks", "data-value")), want.blocks);
      const fmt = (n) => new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 }).format(n);
      assert.ok((await page.textContent("#total-bytes")).startsWith(fmt(want.bytes) + " "));
      assert.ok((await page.textContent("#total-blocks")).startsWith(fmt(want.blocks) + " "));
      if (want.data.bklt) assert.equal(Number(await page.getAttribute("#peak-bytes", "data-value")), want.gb);
      // It opens on the top call sites, which add up to the file's total.
      assert.equal(await page.getAttribute("#tab-sites", "aria-selected"), "true");
      assert.ok(await page.isVisible("#sites-table tbody tr"));
      const siteBytes = await page.$$eval('#sites-table tbody td[data-metric="tb"]', (es) => es.map((e) => Number(e.title.replace(/,/g, "").split(" ")[0])));
      assert.equal(siteBytes.reduce((a, b) => a + b, 0), want.bytes);
      // The tree's root row shows the same total, and there is at least one site under it.
      await page.click("#tab-tree");
      assert.ok((await page.textContent(`${ROOT} > .row .val`)).startsWith(fmt(want.bytes)));
      assert.ok((await kidNames(page, ROOT)).length >= 1);
      assert.equal(await page.textContent("#command"), want.data.cmd);
      assert.ok((await page.textContent("#mode")).startsWith(want.data.mode));
      assertNoPageErrors(page);
      await page.context().close();
    });
  }
});

test("header shows sampling, units, peak and time units", async () => {
  const page = await newPage(browser);
  await openInViewer(page, fixture("allocsite-heap.json"));
  assert.equal(await page.getAttribute("#sampled", "data-value"), "true");
  assert.match(await page.textContent("#sampled"), /sampled estimates.*512 KiB/);
  assert.match(await page.textContent("#total-bytes"), /^9,437,184 bytes \(est\.\) \(9 MiB\)$/);
  assert.match(await page.textContent("#peak-time"), /^8,000 µs \(80\.00% of the run\)$/);
  assert.match(await page.textContent("#time-units"), /tu = µs, Mtu = s/);
  await openInViewer(page, fixture("valgrind-heap.json"));
  assert.equal(await page.getAttribute("#sampled", "data-value"), "false");
  assert.match(await page.textContent("#time-units"), /tu = instrs, Mtu = Minstr/);
  assert.match(await page.textContent("#access-bytes"), /bytes/);
  // The metric selector offers reads/writes only where the file records accesses.
  const opts = await page.$$eval("#metric option", (os) => os.map((o) => o.value));
  assert.deepEqual(opts, ["tb", "tbk", "mb", "gb", "eb", "lt", "rb", "wb"]);
  await openInViewer(page, fixture("dhat-crate-ad-hoc.json"));
  assert.deepEqual(await page.$$eval("#metric option", (os) => os.map((o) => o.textContent)), ["Total (units)", "Total (events)"]);
  assertNoPageErrors(page);
  await page.context().close();
});

// ------------------------------------------------------------------ top call sites

const siteTexts = (page) => page.$$eval("#sites-table tbody tr.site-row td.site", (es) => es.map((e) => e.textContent));

describe("it opens on the top call sites: the program's own line, no click needed", () => {
  const cases = [
    ["dhat-crate-heap.json", "core::iter::traits::iterator::Iterator::collect ← dhatfix::make_vec (dhatfix/src/main.rs:7)"],
    ["dhat-crate-hashmap.json", "std::collections::hash::map::HashMap<K,V,S,A>::insert ← hbcheck::index (hbcheck/src/main.rs:9)"],
    ["allocsite-budget-serde.json", "serde_json::de::from_str ← budgetfix::parse_value (src/lib.rs:19)"],
    ["valgrind-heap.json", "malloc ← make_buffer (dhat-sample.c:9)"],
    ["allocsite-heap.json", "alloc::raw_vec::RawVec<T,A>::with_capacity_in ← profile::build_index (examples/profile.rs:22)"],
    ["dhat-crate-ad-hoc.json", "dhat::ad_hoc_event ← dhatfix::ad_hoc_work (dhatfix/src/main.rs:13)"],
  ];
  for (const [name, want] of cases) {
    test(name, async () => {
      const page = await newPage(browser);
      await openInViewer(page, fixture(name));
      assert.equal(await page.isVisible("#panel-sites"), true);
      assert.equal((await siteTexts(page))[0], want);
      assert.equal(await page.getAttribute("#sites-table tbody tr.site-row", "data-class"), "user");
      if (name === "allocsite-budget-serde.json") {
        await page.click("#sites-table tbody tr.site-row");
        await page.screenshot({ path: path.join(screenshotsDir, "call-sites.png") });
      }
      assertNoPageErrors(page);
      await page.context().close();
    });
  }
  test("real allocsite profiles: the top site is in the user's code", async () => {
    const page = await newPage(browser);
    for (const file of dhatFilesUnderTest(["allocsite-profile.json"])) {
      await openInViewer(page, file);
      assert.equal(await page.getAttribute("#sites-table tbody tr.site-row", "data-class"), "user", file);
    }
    assertNoPageErrors(page);
    await page.context().close();
  });
});

test("call sites: sortable by every metric both ways, by mouse and keyboard; details", async () => {
  const page = await newPage(browser);
  await openInViewer(page, fixture("valgrind-heap.json"));
  const cells = (id) => page.$$eval(`#sites-table tbody td[data-metric="${id}"]`, (es) => es.map((e) => e.textContent));
  const sortOf = (id) => page.getAttribute(`#sites-table th:has(button[data-sort="${id}"])`, "aria-sort");
  assert.equal(await sortOf("tb"), "descending");
  assert.deepEqual(await cells("tb"), ["4,416 (4.31 KiB)", "256"]);
  for (const id of ["tb", "tbk", "mb", "gb", "eb", "lt", "rb", "wb"]) {
    await page.click(`#sites-table th button[data-sort="${id}"]`);
    const first = await cells(id);
    const nums = first.map((t) => Number(t.split(" ")[0].replace(/,/g, "")));
    const was = await sortOf(id);
    assert.ok(was === "descending" || was === "ascending", id);
    const ordered = was === "descending" ? nums[0] >= nums[1] : nums[0] <= nums[1];
    assert.ok(ordered, `${id} ${was}: ${first}`);
    // The other direction, from the keyboard.
    await page.focus(`#sites-table th button[data-sort="${id}"]`);
    await page.keyboard.press("Enter");
    const again = (await cells(id)).map((t) => Number(t.split(" ")[0].replace(/,/g, "")));
    assert.equal(await sortOf(id), was === "descending" ? "ascending" : "descending", id);
    assert.deepEqual(again, nums.slice().reverse(), id);
    assert.equal(await page.evaluate(() => document.activeElement.dataset.sort), id, "focus stays on the header");
  }
  // The metric selector sorts by its metric.
  await page.selectOption("#metric", "gb");
  assert.equal(await sortOf("gb"), "descending");
  // A row opens its details, from the keyboard too.
  await page.focus("#sites-table tbody tr.site-row");
  await page.keyboard.press("Enter");
  assert.equal(await page.isVisible("#details"), true);
  assert.match(await page.textContent("#details"), /Selected call site/);
  assert.match(await page.textContent("#details .stack"), /^malloc \(in \/usr\/libexec\/valgrind\/vgpreload_dhat-amd64-linux\.so\)systemmake_buffer \(dhat-sample\.c:9\)main \(dhat-sample\.c:36\)$/);
  assertNoPageErrors(page);
  await page.context().close();
});

test("library frames collapse in the tree, flame graph and bottom-up (on by default for Rust files)", async () => {
  const page = await newPage(browser);
  await openInViewer(page, fixture("dhat-crate-heap.json"));
  assert.equal(await page.isChecked("#collapse"), true);
  await page.click("#tab-tree");
  assert.deepEqual(await kidNames(page, ROOT), ["core::iter::traits::iterator::Iterator::collect", "alloc::fmt::format"]);
  assert.deepEqual(await page.$$eval(`${ROOT} > .kids > .node > .row .tag`, (es) => es.map((e) => e.textContent)), ["std", "std"]);
  const first = `${ROOT} > .kids > .node:nth-child(1)`;
  await page.click(`${first} > .row .toggle`);
  assert.deepEqual(await kidNames(page, first), ["dhatfix::make_vec", "dhatfix::make_strings"]);
  await page.click("#tab-flame");
  const labels = (await page.evaluate(() => window.allocsiteViewer.flameRects())).map((r) => r.label);
  assert.ok(!labels.includes("<alloc::alloc::Global as core::alloc::Allocator>::allocate"));
  await page.click("#tab-bottomup");
  const bu = await page.$$eval("#bottomup .bu-table > .bu-row > .row .fn", (es) => es.map((e) => e.textContent));
  assert.ok(!bu.includes("<alloc::alloc::Global as core::alloc::Allocator>::allocate"));
  // Off: every frame again.
  await page.uncheck("#collapse");
  await page.click("#tab-tree");
  assert.deepEqual((await kidNames(page, ROOT)).slice(0, 1), ["<alloc::alloc::Global as core::alloc::Allocator>::allocate"]);
  // Not on by default for a C program.
  await openInViewer(page, fixture("valgrind-heap.json"));
  assert.equal(await page.isChecked("#collapse"), false);
  assertNoPageErrors(page);
  await page.context().close();
});

test("dh_view's filters: short-lived, tiny, still live at the end", async () => {
  const page = await newPage(browser);
  await openInViewer(page, fixture("valgrind-heap.json"));
  const sites = async () => (await siteTexts(page)).map((t) => t.replace(/ \(.*$/, ""));
  await page.check("#f-short");
  assert.deepEqual(await sites(), ["malloc ← make_buffer"]);
  assert.match(await page.textContent("#shown"), /^1 of 3 program points/);
  await page.uncheck("#f-short");
  await page.check("#f-live");
  assert.deepEqual(await sites(), ["calloc ← make_table"]);
  await page.check("#f-tiny");
  assert.deepEqual(await sites(), []);
  await page.uncheck("#f-live");
  await page.uncheck("#f-tiny");
  assert.equal((await sites()).length, 2);
  await openInViewer(page, fixture("dhat-crate-heap.json"));
  await page.check("#f-tiny");
  assert.deepEqual(await sites(), ["alloc::fmt::format ← dhatfix::make_strings::{{closure}}"]);
  await page.click("#tab-tree");
  assert.match(await page.textContent(`${ROOT} > .row .frames`), /\(20 program points\)/);
  // Files without lifetimes: only "tiny" applies.
  await openInViewer(page, fixture("valgrind-copy.json"));
  assert.deepEqual([await page.isDisabled("#f-short"), await page.isDisabled("#f-tiny"), await page.isDisabled("#f-live")], [true, false, true]);
  assertNoPageErrors(page);
  await page.context().close();
});

// ------------------------------------------------------------------ call tree

// The raw tree, every frame shown (library frames not collapsed).
async function rawTree(page, file) {
  await openInViewer(page, file);
  await page.uncheck("#collapse");
  await page.click("#tab-tree");
}

test("call tree: metric changes reorder, expand/collapse, order toggle, details", async () => {
  const page = await newPage(browser);
  await rawTree(page, fixture("allocsite-heap.json"));
  const ALLOC = "<allocsite::Alloc<A> as core::alloc::global::GlobalAlloc>::alloc";
  assert.deepEqual(await kidNames(page, ROOT), [ALLOC, "<allocsite::Alloc<A> as core::alloc::global::GlobalAlloc>::realloc"]);
  const allocNode = `${ROOT} > .kids > .node:nth-child(1)`;
  // Expand: the callers appear, biggest first by total bytes.
  await page.click(`${allocNode} > .row .toggle`);
  assert.deepEqual(await kidNames(page, allocNode), ["alloc::raw_vec::RawVec<T,A>::with_capacity_in", "alloc::string::String::with_capacity"]);
  // By total blocks the String site (80 blocks) comes before RawVec (12 blocks).
  await page.selectOption("#metric", "tbk");
  assert.deepEqual(await kidNames(page, allocNode), ["alloc::string::String::with_capacity", "alloc::raw_vec::RawVec<T,A>::with_capacity_in"]);
  assert.equal(await page.textContent(`${allocNode} > .kids > .node:nth-child(1) > .row .val`), "80");
  assert.equal(await page.getAttribute(`${allocNode} > .kids > .node:nth-child(1) > .row .val`, "title"), "80 blocks (est.)");
  assert.equal(await page.textContent("#tree > .row.head .val"), "Blocks (blocks (est.))");
  // At t-end only the load_rows path (1 MiB) and the realloc (512 KiB) hold memory.
  await page.selectOption("#metric", "eb");
  assert.deepEqual(await kidNames(page, ROOT), [ALLOC, "<allocsite::Alloc<A> as core::alloc::global::GlobalAlloc>::realloc"]);
  assert.match(await page.textContent(`${allocNode} > .row .pct`), /^66\.67%$/);
  // Collapse.
  await page.click(`${allocNode} > .row .toggle`);
  assert.deepEqual(await kidNames(page, allocNode), []);
  assert.equal(await page.getAttribute(allocNode, "aria-expanded"), "false");
  // A chain of single-child frames is one node; "+N frames" shows the rest.
  await page.selectOption("#metric", "tb");
  const realloc = `${ROOT} > .kids > .node:nth-child(2)`;
  await page.click(`${realloc} .more`);
  assert.deepEqual(await page.$$eval(`${realloc} .chain .fn`, (es) => es.map((e) => e.textContent)),
    ["hashbrown::raw::RawTable<T>::reserve_rehash", "profile::main"]);
  // From main down: one top-level node (main), whose children are the callees.
  await page.selectOption("#order", "topdown");
  assert.deepEqual(await kidNames(page, ROOT), ["profile::main"]);
  const main = `${ROOT} > .kids > .node:nth-child(1)`;
  await page.click(`${main} > .row .toggle`);
  assert.deepEqual(await kidNames(page, main), ["profile::build_index", "profile::load_rows", "profile::render", "profile::parse_args", "hashbrown::raw::RawTable<T>::reserve_rehash"]);
  // Clicking a row shows its details.
  await page.click(`${main} > .kids > .node:nth-child(1) > .row .fn`);
  assert.equal(await page.isVisible("#details"), true);
  assert.match(await page.textContent("#details"), /Program points1.*4,194,304 bytes \(est\.\)/);
  assertNoPageErrors(page);
  await page.context().close();
});

test("call tree folds small nodes into 'N insignificant', which can be opened", async () => {
  const d = JSON.parse(fs.readFileSync(fixture("compare-before.json"), "utf8"));
  d.pps = [{ ...d.pps[0], tb: 100000, fs: [1, 6] }];
  for (let i = 2; i <= 5; i++) d.pps.push({ ...d.pps[0], tb: 10, fs: [i, 6] });
  const file = tmpFile("insig.json", JSON.stringify(d));
  const page = await newPage(browser);
  await openInViewer(page, file);
  await page.click("#tab-tree");
  assert.deepEqual(await kidNames(page, ROOT), ["demo::alpha", "[4 insignificant]"]);
  await page.click(`${ROOT} > .kids > .insig .toggle`);
  assert.deepEqual((await kidNames(page, ROOT)).length, 5);
  await page.selectOption("#threshold", "0");
  assert.deepEqual((await kidNames(page, ROOT)).length, 5);
  assert.equal(await page.$(`${ROOT} .insig`), null);
  await page.context().close();
});

// ------------------------------------------------------------------ flame graph

test("flame graph: draws, hover shows details, click zooms, reset", async () => {
  const page = await newPage(browser);
  await openInViewer(page, fixture("allocsite-heap.json"));
  await page.uncheck("#collapse");
  await page.click("#tab-flame");
  const rects = await page.evaluate(() => window.allocsiteViewer.flameRects());
  const width = await page.$eval("#flame", (c) => c.clientWidth);
  assert.equal(rects[0].label, "All program points");
  assert.equal(rects[0].w, width);
  assert.ok(rects.length >= 10);
  assert.match(await page.textContent("#flame-zoom"), /^Showing everything/);
  assert.equal(await page.isDisabled("#flame-reset"), true);
  const box = await page.$eval("#flame", (c) => { const b = c.getBoundingClientRect(); return { x: b.left, y: b.top }; });
  const target = rects.find((r) => r.label === "alloc::string::String::with_capacity");
  assert.ok(target, "String::with_capacity is drawn");
  assert.ok(Math.abs(target.w / width - 2621440 / 9437184) < 0.01, "width is its share of total bytes");
  // Hover
  await page.mouse.move(box.x + target.x + target.w / 2, box.y + target.y + target.h / 2);
  assert.equal(await page.isVisible("#flame-tip"), true);
  assert.match(await page.textContent("#flame-tip"), /String::with_capacity.*2,621,440 bytes \(est\.\).*27\.78%/);
  await page.screenshot({ path: path.join(screenshotsDir, "flame.png") });
  // Zoom: the clicked node fills the width; its ancestors stay above it.
  await page.mouse.click(box.x + target.x + target.w / 2, box.y + target.y + target.h / 2);
  assert.match(await page.textContent("#flame-zoom"), /^Zoomed to: alloc::string::String::with_capacity/);
  const zoomed = await page.evaluate(() => window.allocsiteViewer.flameRects());
  const z = zoomed.find((r) => r.label === "alloc::string::String::with_capacity" && !r.ancestor);
  assert.equal(z.w, width);
  assert.ok(zoomed.some((r) => r.ancestor && r.label === "All program points"));
  assert.ok(!zoomed.some((r) => r.label === "profile::build_index"), "other branches are hidden");
  // Reset
  await page.click("#flame-reset");
  assert.match(await page.textContent("#flame-zoom"), /^Showing everything/);
  assert.equal((await page.evaluate(() => window.allocsiteViewer.flameRects())).length, rects.length);
  // Metric change redraws with new widths (by blocks, String has 80 of 96).
  await page.selectOption("#metric", "tbk");
  const byBlocks = (await page.evaluate(() => window.allocsiteViewer.flameRects())).find((r) => r.label === "alloc::string::String::with_capacity");
  assert.ok(Math.abs(byBlocks.w / width - 80 / 96) < 0.01);
  assertNoPageErrors(page);
  await page.context().close();
});

// ------------------------------------------------------------------ bottom-up

test("bottom-up: self/total by function and by line, callers underneath", async () => {
  const page = await newPage(browser);
  await openInViewer(page, fixture("allocsite-heap.json"));
  await page.uncheck("#collapse");
  await page.click("#tab-bottomup");
  const names = () => page.$$eval("#bottomup .bu-table > .bu-row > .row .fn", (es) => es.map((e) => e.textContent));
  const first = await names();
  assert.equal(first[0], "<allocsite::Alloc<A> as core::alloc::global::GlobalAlloc>::alloc");
  assert.equal(first.length, 11);
  await page.selectOption("#bu-sort", "total");
  assert.equal((await names())[0], "profile::main");
  assert.match(await page.textContent("#bottomup .bu-table > .bu-row:nth-child(2) > .row"), /9,437,184 \(9 MiB\).*100\.00%/);
  // Callers of format_row: render, then main.
  const idx = (await names()).indexOf("profile::format_row");
  const sel = `#bottomup .bu-table > .bu-row:nth-child(${idx + 2})`;
  await page.click(`${sel} > .row .toggle`);
  assert.deepEqual(await page.$$eval(`${sel} > .kids > .node > .row .fn`, (es) => es.map((e) => e.textContent)), ["profile::render"]);
  await page.screenshot({ path: path.join(screenshotsDir, "bottom-up.png") });
  await page.selectOption("#bu-group", "line");
  assert.ok((await names()).includes("examples/profile.rs:22"));
  assertNoPageErrors(page);
  await page.context().close();
});

// ------------------------------------------------------------------ search

test("search filters and highlights by function, file and crate", async () => {
  const page = await newPage(browser);
  await rawTree(page, fixture("allocsite-heap.json"));
  const rootText = () => page.textContent(`${ROOT} > .row .frames`);
  const search = async (q) => { await page.fill("#search", q); await page.waitForTimeout(250); };
  await search("load_rows");
  assert.equal(await rootText(), "All program points (1 program points)");
  assert.match(await page.textContent(`${ROOT} > .row .val`), /^2,097,152 /);
  await search("hashbrown"); // a crate
  assert.equal(await rootText(), "All program points (1 program points)");
  await search("examples/PROFILE.rs"); // a file, case-insensitive
  assert.equal(await rootText(), "All program points (5 program points)");
  await search("String"); // String::with_capacity is on two stacks
  assert.equal(await rootText(), "All program points (2 program points)");
  assert.ok(await page.$(`${ROOT} .node.match`), "matching node is marked");
  await page.uncheck("#search-filter");
  assert.equal(await rootText(), "All program points (5 program points)");
  const allocNode = `${ROOT} > .kids > .node:nth-child(1)`;
  await page.click(`${allocNode} > .row .toggle`);
  assert.deepEqual(await page.$$eval(`${ROOT} .fn.hit`, (es) => es.map((e) => e.textContent)), ["alloc::string::String::with_capacity"]);
  await search("no such function anywhere");
  await page.check("#search-filter");
  assert.equal(await rootText(), "All program points (0 program points)");
  await search("");
  assert.equal(await rootText(), "All program points (5 program points)");
  assertNoPageErrors(page);
  await page.context().close();
});

// ------------------------------------------------------------------ comparison

async function compareLists(page) {
  const list = (id) => page.$$eval(`#cmp-${id} .site-fn`, (es) => es.map((e) => e.textContent));
  return { grew: await list("grew"), shrank: await list("shrank"), new: await list("new"), gone: await list("gone") };
}

test("comparison of two runs lists exactly the known differences", async () => {
  const page = await newPage(browser);
  await openInViewer(page, fixture("compare-after.json"));
  await page.setInputFiles("#baseline-input", fixture("compare-before.json"));
  await page.waitForSelector("#cmp-grew");
  assert.equal(await page.getAttribute("#tab-compare", "aria-selected"), "true");
  assert.deepEqual(await compareLists(page), {
    grew: ["demo::alpha"], shrank: ["demo::beta"], new: ["demo::zeta"], gone: ["demo::gamma", "demo::delta"],
  });
  assert.match(await page.textContent("#cmp-totals"), /: baseline "compare-before.json" 2,100 bytes \(2\.05 KiB\) → current "compare-after.json" 2,500 bytes \(2\.44 KiB\), change \+400 bytes \(\+19\.05%\)$/);
  assert.deepEqual(await page.$$eval("#cmp-grew .cmp-main td", (es) => es.map((e) => e.textContent)),
    ["+500", "+50%", "1,000 → 1,500 (1.46 KiB)", "demo::alpha (src/lib.rs:10)"]);
  assert.match(await page.textContent("#cmp-summary"), /Grew: 1 \(\+500 bytes, \+23\.81% of the baseline\)/);
  assert.equal(await page.textContent("#cmp-unchanged"), "1 sites unchanged.");
  // The metric selector drives the comparison too.
  await page.selectOption("#metric", "tbk");
  assert.deepEqual(await compareLists(page), {
    grew: ["demo::beta"], shrank: [], new: ["demo::zeta"], gone: ["demo::gamma", "demo::delta"],
  });
  // A site's full stack is one click away.
  await page.click("#cmp-grew .cmp-main");
  assert.deepEqual(await page.$$eval("#cmp-grew .stack li", (es) => es.map((e) => e.textContent)),
    ["demo::beta (src/lib.rs:20:5)", "demo::main (src/main.rs:3:5)"]);
  // A bad baseline is reported as such, and the loaded data stays usable.
  await page.setInputFiles("#baseline-input", tmpFile("bad-baseline.json", "{\"dhatFileVersion\": 1}"));
  await page.waitForFunction(() => document.body.dataset.status === "error");
  assert.match(await page.textContent("#message"), /^Could not load baseline file "bad-baseline.json": unsupported file version: dhatFileVersion is 1, expected 2\.$/);
  assert.equal(await page.isVisible("#tree") || await page.isVisible("#compare"), true);
  assertNoPageErrors(page);
  await page.context().close();
});

// A copy of a fixture with every counter (but lifetimes) multiplied.
function scaledCopy(name, factor, outName) {
  const d = JSON.parse(fs.readFileSync(fixture(name), "utf8"));
  for (const pp of d.pps) for (const k of ["tb", "tbk", "mb", "mbk", "gb", "gbk", "eb", "ebk", "rb", "wb"]) if (typeof pp[k] === "number") pp[k] *= factor;
  return tmpFile(outName || name, JSON.stringify(d));
}

test("comparison by call site: a copy ×2 grew everywhere, with a diff flame graph", async () => {
  const page = await newPage(browser);
  const double = scaledCopy("dhat-crate-heap.json", 2, "double.json");
  const single = scaledCopy("dhat-crate-heap.json", 1, "dhat-crate-heap.json");
  // Fixed file times, so the screenshot is the same on every run.
  fs.utimesSync(single, new Date(2026, 10, 20, 9, 30), new Date(2026, 10, 20, 9, 30));
  fs.utimesSync(double, new Date(2026, 10, 21, 9, 30), new Date(2026, 10, 21, 9, 30));
  await openInViewer(page, double);
  await page.setInputFiles("#baseline-input", single);
  await page.waitForSelector("#cmp-summary");
  const counts = await page.$$eval("#cmp-summary li[data-count]", (es) => es.map((e) => Number(e.dataset.count)));
  assert.deepEqual(counts, [3, 0, 0, 0]);
  assert.deepEqual(await page.$$eval("#cmp-grew .cmp-main td:nth-child(2)", (es) => es.map((e) => e.textContent)), ["+100%", "+100%", "+100%"]);
  assert.match(await page.textContent("#cmp-summary"), /Grew: 3 \(\+8,760 bytes, \+100% of the baseline\)/);
  const rects = await page.evaluate(() => window.allocsiteViewer.diffRects());
  assert.ok(rects.length > 3);
  assert.ok(rects.every((r) => r.before !== null && r.after === 2 * r.before), "every bar is twice its baseline");
  // Hover shows before and after.
  const box = await page.$eval("#diff-flame", (c) => { const b = c.getBoundingClientRect(); return { x: b.left, y: b.top }; });
  await page.mouse.move(box.x + 20, box.y + 5);
  assert.match(await page.textContent("#diff-tip"), /8,760 bytes \(8\.55 KiB\) → 17,520 bytes \(17\.11 KiB\)\+8,760 bytes \(\+100%\)/);
  await page.screenshot({ path: path.join(screenshotsDir, "comparison.png"), fullPage: true });
  assertNoPageErrors(page);
  await page.context().close();
});

test("two runs of the same file name are told apart", async () => {
  const page = await newPage(browser);
  const a = path.join(tmp, "a"), b = path.join(tmp, "b");
  fs.mkdirSync(a, { recursive: true }); fs.mkdirSync(b, { recursive: true });
  const d = JSON.parse(fs.readFileSync(fixture("compare-before.json"), "utf8"));
  fs.writeFileSync(path.join(a, "profile.json"), JSON.stringify({ ...d, pid: 111 }));
  fs.writeFileSync(path.join(b, "profile.json"), JSON.stringify({ ...d, pid: 222, cmd: "demo --after" }));
  await openInViewer(page, path.join(b, "profile.json"));
  await page.setInputFiles("#baseline-input", path.join(a, "profile.json"));
  await page.waitForSelector("#cmp-sources");
  assert.match(await page.textContent("#file-name"), /^profile\.json {2}\(baseline: profile\.json — demo --before, pid 111, modified \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\)$/);
  assert.deepEqual(await page.$$eval("#cmp-sources li", (es) => es.map((e) => e.textContent.replace(/, modified .*$/, ""))),
    ["Baseline: profile.json — demo --before, pid 111", "Current: profile.json — demo --after, pid 222"]);
  await page.context().close();
});

test("labels never overprint: units in the headers, numbers in the cells, tables sized by content", async () => {
  const page = await newPage(browser);
  // Sampled "(est.)" units and lifetimes, with values past 10 MB.
  await openInViewer(page, fixture("allocsite-profile.json"));
  const overflowing = (sel) => page.$$eval(sel, (es) => es.filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.textContent));
  const overlaps = (sel) => page.$$eval(sel, (rows) => {
    const bad = [];
    for (const row of rows) {
      const cells = [...row.children].map((c) => c.getBoundingClientRect()).filter((r) => r.width > 0);
      for (let i = 1; i < cells.length; i++) if (cells[i].left < cells[i - 1].right - 0.5 && Math.abs(cells[i].top - cells[i - 1].top) < 2) bad.push(row.textContent);
    }
    return bad;
  });
  await page.click("#tab-tree");
  for (const metric of ["tb", "tbk", "lt", "mb"]) {
    await page.selectOption("#metric", metric);
    await page.click(`${ROOT} > .kids > .node:nth-child(1) > .row .toggle`);
    assert.deepEqual(await overflowing("#tree .row .val, #tree .row .pct"), [], metric);
    assert.deepEqual(await overlaps("#tree .row"), [], metric);
  }
  // Average lifetime: percentages are of the run, bars follow them (not block counts).
  await page.selectOption("#metric", "lt");
  assert.equal(await page.textContent("#tree > .row.head .pct"), "% of run");
  const bars = await page.$$eval(`${ROOT} > .kids > .node > .row`, (rows) => rows.map((r) => [
    parseFloat(r.querySelector(".pct").textContent), parseFloat(r.querySelector(".bar > span").style.width)]));
  for (const [pct, width] of bars) assert.ok(Math.abs(pct - width) < 0.1, `bar ${width}% for ${pct}% of the run`);
  await page.click("#tab-bottomup");
  assert.deepEqual(await overflowing("#bottomup .val, #bottomup .pct"), []);
  // Comparison rows with values past 10 MB: cells side by side, never on top of each other.
  await page.selectOption("#metric", "tb");
  await page.setInputFiles("#baseline-input", scaledCopy("allocsite-profile.json", 7, "big-base.json"));
  await page.waitForSelector("#cmp-shrank .cmp-main");
  assert.deepEqual(await overlaps("#compare .cmp-main"), []);
  assert.deepEqual(await overlaps("#sites-table tr"), []);
  assertNoPageErrors(page);
  await page.context().close();
});

test("the fold threshold follows the average lifetime when that is the metric", async () => {
  const d = JSON.parse(fs.readFileSync(fixture("compare-before.json"), "utf8"));
  // Many short-lived blocks at alpha and delta, one long-lived block each at beta and gamma.
  d.pps = [{ ...d.pps[0], tbk: 1000, tl: 1000, fs: [1, 6] }, { ...d.pps[3], tbk: 500, tl: 500, fs: [4, 6] },
    { ...d.pps[1], tbk: 1, tl: 5000, fs: [2, 6] }, { ...d.pps[2], tbk: 1, tl: 4000, fs: [3, 6] }];
  const page = await newPage(browser);
  await openInViewer(page, tmpFile("lifetimes.json", JSON.stringify(d)));
  await page.click("#tab-tree");
  await page.selectOption("#metric", "lt");
  // alpha and delta live 1 µs of the 10,000 µs run (0.01%): folded, though they hold
  // 99.9% of the blocks; beta and gamma (50% and 40% of the run) are shown.
  assert.deepEqual(await kidNames(page, ROOT), ["demo::beta", "demo::gamma", "[2 insignificant]"]);
  await page.context().close();
});

test("drag and drop: a file dropped on the page opens, on the Comparison tab it is the baseline", async () => {
  const page = await newPage(browser);
  await page.goto(viewerUrl);
  const drop = (selector, name, text) => page.evaluate(([selector, name, text]) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text], name, { type: "application/json" }));
    document.querySelector(selector).dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, [selector, name, text]);
  await drop("#drop-hint", "after.json", fs.readFileSync(fixture("compare-after.json"), "utf8"));
  await page.waitForFunction(() => document.body.dataset.status === "loaded");
  assert.equal(await page.textContent("#file-name"), "after.json");
  await page.click("#tab-compare");
  await drop("#compare", "before.json", fs.readFileSync(fixture("compare-before.json"), "utf8"));
  await page.waitForSelector("#cmp-grew");
  assert.equal(await page.textContent("#file-name"), "after.json  (baseline: before.json)");
  assert.deepEqual((await compareLists(page)).new, ["demo::zeta"]);
  assertNoPageErrors(page);
  await page.context().close();
});

// ------------------------------------------------------------------ malformed input

test("malformed inputs each get their specific message", async () => {
  const good = fs.readFileSync(fixture("compare-before.json"), "utf8");
  const edit = (f) => { const d = JSON.parse(good); f(d); return JSON.stringify(d, null, 1); };
  const cases = [
    ["empty.json", "", /: the file is empty\.$/],
    ["spaces.json", "  \n ", /: the file is empty\.$/],
    ["not-json.json", "{\n  \"dhatFileVersion\": 2,\n  oops\n}", /: not JSON at line 3 column 3: expected a double-quoted property name\.$/],
    ["html.json", "<html><body>404</body></html>", /: not JSON at line 1 column 1: unexpected character "<"\.$/],
    ["truncated.json", good.slice(0, Math.floor(good.length / 2)), /: the file is truncated: the JSON ends at line \d+ column \d+ before it is complete/],
    ["array.json", "[1, 2]", /: not a DHAT file: the JSON top level is an array, expected an object\.$/],
    ["no-version.json", "{\"pps\": []}", /: not a DHAT file: missing field "dhatFileVersion"\.$/],
    ["version3.json", edit((d) => { d.dhatFileVersion = 3; }), /: unsupported file version: dhatFileVersion is 3, expected 2\.$/],
    ["no-cmd.json", edit((d) => { delete d.cmd; }), /: missing field "cmd" at the top level\.$/],
    ["no-tg.json", edit((d) => { delete d.tg; }), /: missing field "tg" at the top level\.$/],
    ["pps-string.json", edit((d) => { d.pps = "x"; }), /: field "pps" is a string, expected an array\.$/],
    ["no-tbk.json", edit((d) => { delete d.pps[1].tbk; }), /: program point pps\[1\] is missing field "tbk"\.$/],
    ["no-gb.json", edit((d) => { delete d.pps[2].gb; }), /: program point pps\[2\] is missing field "gb"\.$/],
    ["tb-string.json", edit((d) => { d.pps[0].tb = "10"; }), /: program point pps\[0\] field "tb" is a string, expected a number\.$/],
    ["bad-frame.json", edit((d) => { d.pps[3].fs = [4, 99]; }), /: program point pps\[3\] has frame index 99 at fs\[1\], but ftbl has 7 entries \(valid indices 1 to 6\)\.$/],
    ["neg-frame.json", edit((d) => { d.pps[0].fs = [-1]; }), /: program point pps\[0\] has frame index -1 at fs\[0\]/],
    ["ftbl-number.json", edit((d) => { d.ftbl[2] = 7; }), /: ftbl\[2\] is a number, expected a string\.$/],
  ];
  const page = await newPage(browser);
  for (const [name, text, want] of cases) {
    await openInViewer(page, tmpFile(name, text));
    assert.equal(await page.evaluate(() => document.body.dataset.status), "error", name);
    const msg = await page.textContent("#message");
    assert.ok(msg.startsWith(`Could not load file "${name}": `), `${name}: ${msg}`);
    assert.match(msg, want, name);
    assert.equal(await page.isVisible("#message.error"), true);
    assert.equal(await page.isVisible("#file-input + *") || await page.isVisible("header"), true, "page is not blank");
  }
  // After an error a good file still loads.
  await openInViewer(page, fixture("compare-before.json"));
  assert.equal(await page.isVisible("#message"), false);
  assertNoPageErrors(page);
  await page.context().close();
});

// ------------------------------------------------------------------ hostile strings

async function assertNothingRan(page) {
  assert.equal(await page.evaluate(() => window.__xss), undefined, "injected script ran");
  assert.deepEqual(page.dialogs, []);
  assert.equal(await page.$$eval("main img, main svg, #summary img, #summary b, #summary script, main script", (es) => es.length), 0);
}

test("strings from the file are shown as text and run nothing", async () => {
  const page = await newPage(browser);
  await openInViewer(page, fixture("xss.json"));
  assert.equal(await page.textContent("#command"), "<script>window.__xss='cmd'</script><b>bold</b>");
  assert.deepEqual(await page.$$eval("#sites-table .site-fn", (es) => es.map((e) => e.textContent)).then((a) => a.length), 3);
  await page.click("#tab-tree");
  assert.match(await page.textContent("#mode"), /^<i>rust-heap<\/i> /);
  assert.match(await page.textContent("#total-bytes"), /^112 bytes<img src=x onerror="window.__xss='bsu'">$/);
  const names = await kidNames(page, ROOT);
  assert.deepEqual(names, ["<script>window.__xss='frame1'</script>", "<img src=x onerror=\"window.__xss='frame2'\">", "\"><svg onload=\"window.__xss='frame3'\"></svg><!--"]);
  await page.click(`${ROOT} > .kids > .node:nth-child(1) > .row .fn`);
  await page.click(`${ROOT} > .kids > .node:nth-child(2) .more`);
  for (const tab of ["#tab-flame", "#tab-bottomup", "#tab-compare", "#tab-tree"]) await page.click(tab);
  await page.setInputFiles("#baseline-input", fixture("xss.json"));
  await page.waitForSelector("#cmp-unchanged");
  await page.fill("#search", "<img");
  await page.waitForTimeout(250);
  await assertNothingRan(page);
  assertNoPageErrors(page);
  await page.context().close();
});

// ------------------------------------------------------------------ self-contained report

describe("self-contained HTML report (cargo run --example dhat_to_html)", () => {
  const dir = path.join(tmp, "report");

  test("opens from file:// with no other file present and shows the data", async () => {
    fs.mkdirSync(dir, { recursive: true });
    const out = path.join(dir, "report.html");
    await runDhatToHtml([fixture("allocsite-heap.json"), out]);
    const page = await newPage(browser);
    const requests = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(out).href);
    await page.waitForFunction(() => document.body.dataset.status === "loaded");
    const want = fileTotals(fixture("allocsite-heap.json"));
    assert.equal(Number(await page.getAttribute("#total-bytes", "data-value")), want.bytes);
    assert.equal(Number(await page.getAttribute("#total-blocks", "data-value")), want.blocks);
    assert.equal(await page.textContent("#file-name"), "allocsite-heap.json");
    assert.ok(await page.isVisible("#sites-table tbody tr"));
    await page.click("#tab-tree");
    assert.ok((await kidNames(page, ROOT)).length > 0);
    assert.deepEqual(requests, [pathToFileURL(out).href], "the report loads nothing else");
    assert.deepEqual(fs.readdirSync(dir), ["report.html"]);
    // Screenshot with a level open and a row selected (library frames collapsed).
    const first = `${ROOT} > .kids > .node:nth-child(1)`;
    await page.click(`${first} > .row .toggle`);
    await page.click(`${first} > .kids > .node:nth-child(1) > .row .fn`);
    await page.screenshot({ path: path.join(screenshotsDir, "tree.png") });
    assertNoPageErrors(page);
    await page.context().close();
  });

  test("comparison report opens on the comparison", async () => {
    const out = path.join(dir, "compare.html");
    await runDhatToHtml([fixture("compare-after.json"), out, fixture("compare-before.json")]);
    const page = await newPage(browser);
    await page.goto(pathToFileURL(out).href);
    await page.waitForSelector("#cmp-grew");
    assert.equal(await page.getAttribute("#tab-compare", "aria-selected"), "true");
    assert.deepEqual(await compareLists(page), {
      grew: ["demo::alpha"], shrank: ["demo::beta"], new: ["demo::zeta"], gone: ["demo::gamma", "demo::delta"],
    });
    assertNoPageErrors(page);
    await page.context().close();
  });

  test("a report without a file name (as the profiler writes it) is titled by its command", async () => {
    const out = path.join(dir, "named.html");
    await runDhatToHtml([fixture("allocsite-heap.json"), out]);
    const page0 = fs.readFileSync(out, "utf8");
    const unnamed = path.join(dir, "unnamed.html");
    fs.writeFileSync(unnamed, page0.replace(/ data-name="[^"]*"/, ""));
    const page = await newPage(browser);
    await page.goto(pathToFileURL(unnamed).href);
    await page.waitForFunction(() => document.body.dataset.status === "loaded");
    assert.equal(await page.textContent("#file-name"), "target/release/examples/profile --size 3");
    assert.equal(await page.title(), "allocsite viewer - target/release/examples/profile --size 3");
    assertNoPageErrors(page);
    await page.context().close();
    fs.rmSync(unnamed);
    fs.rmSync(out);
  });

  test("hostile frame names in an embedded report run nothing", async () => {
    const out = path.join(dir, "xss.html");
    await runDhatToHtml([fixture("xss.json"), out]);
    const page = await newPage(browser);
    await page.goto(pathToFileURL(out).href);
    await page.waitForFunction(() => document.body.dataset.status === "loaded");
    await page.click("#tab-tree");
    assert.equal((await kidNames(page, ROOT)).length, 3);
    await assertNothingRan(page);
    assertNoPageErrors(page);
    await page.context().close();
  });

  test("the converter rejects bad input with a clear error", async () => {
    const r = await runDhatToHtml([tmpFile("v3.json", "{\"dhatFileVersion\":3}"), path.join(dir, "never.html")], { allowFail: true });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /v3\.json: unsupported file version: dhatFileVersion is 3, expected 2/);
    assert.equal(fs.existsSync(path.join(dir, "never.html")), false);
    const u = await runDhatToHtml([], { allowFail: true });
    assert.equal(u.status, 2);
    assert.match(u.stderr, /usage: dhat_to_html <input\.json> <output\.html> \[baseline\.json\]/);
  });
});

// Runs the Rust example. DHAT_TO_HTML_MANIFEST can point cargo at another manifest.
async function runDhatToHtml(args, { allowFail = false } = {}) {
  const manifest = process.env.DHAT_TO_HTML_MANIFEST || path.join(repoDir, "Cargo.toml");
  const r = spawnSync("cargo", ["run", "--quiet", "--manifest-path", manifest, "--example", "dhat_to_html", "--features", "report", "--", ...args],
    { encoding: "utf8", env: { ...process.env, CARGO_TERM_COLOR: "never" } });
  if (!allowFail && r.status !== 0) assert.fail(`dhat_to_html failed (${r.status}):\n${r.stderr}`);
  return r;
}
