// Hostile files in Chromium: every mutation of the real fixtures (tests/mutations.mjs:
// truncation, bit flips, wrong types, huge and negative numbers, deep nesting, duplicate
// program points, bad frame indices, huge strings) must either render or show its
// error: no uncaught page error, no page left loading, no view that fails to draw.
// Bounded in time: each file gets CASE_MS, the whole run RUN_MS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { launch, newPage, viewerUrl, fixture } from "./helpers.mjs";
import { mutations, SOURCES, load } from "./mutations.mjs";

const CASE_MS = 20000, RUN_MS = 240000;
let browser, tmp;
before(async () => { browser = await launch(); tmp = fs.mkdtempSync(path.join(os.tmpdir(), "allocsite-hostile-")); });
after(async () => { await browser?.close(); fs.rmSync(tmp, { recursive: true, force: true }); });

// Loads one file through the page's own file path (as the file picker does), waits for
// it to settle, then draws every view, opens a row and compares the file with itself.
// Runs inside the page so each case costs one round trip.
async function tryInPage(page, name, text, bytes) {
  return page.evaluate(async ({ name, text, bytes, caseMs }) => {
    const v = window.allocsiteViewer, body = document.body;
    const settle = async () => {
      const t0 = performance.now();
      while (!["loaded", "error"].includes(body.dataset.status)) {
        if (performance.now() - t0 > caseMs) return "stuck";
        await new Promise((r) => setTimeout(r, 5));
      }
      return body.dataset.status;
    };
    body.dataset.status = "pending";
    delete body.dataset.renderError;
    const file = new File([bytes ? new Uint8Array(bytes) : text], name, { type: "application/json" });
    const t0 = performance.now();
    v.loadFile(file, "current");
    const status = await settle();
    const out = { status, ms: Math.round(performance.now() - t0), message: document.getElementById("message").textContent.slice(0, 300) };
    if (status !== "loaded") return out;
    for (const id of ["tab-sites", "tab-tree", "tab-flame", "tab-bottomup"]) document.getElementById(id).click();
    document.querySelector("#tree > .node > .kids > .node > .row .toggle")?.click();
    document.getElementById("tab-sites").click();
    document.querySelector("#sites-table tbody tr.site-row")?.click();
    for (const m of [...document.querySelectorAll("#metric option")].slice(0, 3)) {
      const sel = document.getElementById("metric");
      sel.value = m.value;
      sel.dispatchEvent(new Event("change"));
    }
    body.dataset.status = "pending";
    v.loadFile(new File([bytes ? new Uint8Array(bytes) : text], name), "baseline");
    out.baseline = await settle();
    out.renderError = body.dataset.renderError || null;
    out.message = document.getElementById("message").textContent.slice(0, 300);
    return out;
  }, { name, text, bytes: bytes ? [...bytes] : null, caseMs: CASE_MS });
}

test(`every mutation of the real fixtures renders or shows its error (at most ${RUN_MS / 1000} s)`, { timeout: RUN_MS + 60000 }, async () => {
  const page = await newPage(browser);
  await page.goto(viewerUrl);
  const started = Date.now();
  const cases = [];
  for (const src of SOURCES) for (const m of mutations(src, load(src), { big: src === "valgrind-heap.json" || src === "allocsite-budget-serde.json" })) cases.push(m);
  const counts = { loaded: 0, error: 0 };
  let slowest = { ms: 0 };
  for (const m of cases) {
    assert.ok(Date.now() - started < RUN_MS, `the run took over ${RUN_MS} ms (at ${m.id})`);
    const r = await tryInPage(page, `${m.id}.json`, m.text, m.bytes);
    assert.notEqual(r.status, "stuck", `${m.id}: the page did not settle in ${CASE_MS} ms`);
    assert.deepEqual(page.pageErrors.map(String), [], `${m.id}: uncaught page error`);
    if (r.status === "error") {
      assert.match(r.message, /^Could not load file "/, `${m.id}: ${r.message}`);
    } else {
      assert.equal(r.baseline, "loaded", `${m.id}: the comparison with itself: ${r.message}`);
      assert.equal(r.renderError, null, `${m.id}: a view failed to draw: ${r.renderError}`);
      assert.equal(r.message, "", m.id);
    }
    counts[r.status]++;
    if (r.ms > slowest.ms) slowest = { ms: r.ms, id: m.id };
  }
  console.log(`# ${cases.length} mutated files in ${((Date.now() - started) / 1000).toFixed(1)} s: ${counts.loaded} rendered, ` +
    `${counts.error} rejected with a message; slowest load ${slowest.ms} ms (${slowest.id})`);
  assert.ok(counts.loaded > 50 && counts.error > 300);
  await page.context().close();
});

test("a 100 MB frame name loads, is cut for display and can be shown in full", { timeout: 120000 }, async () => {
  const d = JSON.parse(fs.readFileSync(fixture("valgrind-heap.json"), "utf8"));
  d.ftbl[2] = `0x109271: make_buffer_${"x".repeat(100 * 1024 * 1024)} (dhat-sample.c:9)`;
  const file = path.join(tmp, "long-name.json");
  fs.writeFileSync(file, JSON.stringify(d));
  const page = await newPage(browser);
  let crashed = false;
  page.on("crash", () => { crashed = true; });
  await page.goto(viewerUrl);
  const t0 = Date.now();
  await page.setInputFiles("#file-input", file);
  await page.waitForFunction(() => ["loaded", "error"].includes(document.body.dataset.status), null, { timeout: 60000 });
  const ms = Date.now() - t0;
  console.log(`# 100 MB frame name: loaded in ${ms} ms`);
  assert.equal(crashed, false);
  assert.equal(await page.evaluate(() => document.body.dataset.status), "loaded");
  const first = await page.textContent("#sites-table tbody tr.site-row .site-fn");
  assert.ok(first.startsWith("make_buffer_xxx") && first.endsWith("…") && first.length === 2000, `${first.length} characters shown`);
  for (const t of ["#tab-tree", "#tab-flame", "#tab-bottomup", "#tab-sites"]) await page.click(t);
  await page.click("#sites-table tbody tr.site-row");
  const button = page.locator("#details .stack button.more", { hasText: "show all" });
  assert.match(await button.textContent(), /^show all 104,857,\d{3} characters$/);
  await button.click();
  assert.equal((await page.textContent("#details pre.full-name")).length, 1000000);
  assert.match(await page.textContent("#details .stack"), /the first 1,000,000 of 104,857,\d{3} characters/);
  assert.ok(ms < 15000, `took ${ms} ms`);
  assert.deepEqual(page.pageErrors.map(String), []);
  await page.context().close();
});

test("a file larger than a page can hold is refused before it is read", async () => {
  const page = await newPage(browser);
  await page.goto(viewerUrl);
  // A stand-in for a 600 MiB file: reading it must not even be tried.
  await page.evaluate(() => window.allocsiteViewer.loadFile({
    name: "huge.json", size: 600 * 2 ** 20, lastModified: 0, text: () => { throw new Error("read"); },
  }));
  assert.equal(await page.evaluate(() => document.body.dataset.status), "error");
  assert.match(await page.textContent("#message"),
    /^Could not load file "huge\.json": the file is too large: 629,145,600 bytes, and this viewer reads at most 536,870,912 \(512 MiB\)/);
  assert.deepEqual(page.pageErrors.map(String), []);
  await page.context().close();
});
