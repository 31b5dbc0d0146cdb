// "Real client" check: load DHAT files into Valgrind's own viewer (dh_view.html, GPL,
// installed by the valgrind package; used here, never copied) and check that it shows
// no error and that its root totals equal the file's.
//
// Point it at any file:  ALLOCSITE_EXTRA_DHAT_FILES=/path/a.json:/path/b.json node --test tests/dh_view.test.mjs
// Another dh_view:      DH_VIEW_HTML=/path/to/dh_view.html
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { launch, newPage, fileTotals, dhatFilesUnderTest, num } from "./helpers.mjs";

const DH_VIEW = process.env.DH_VIEW_HTML || "/usr/libexec/valgrind/dh_view.html";
const haveDhView = fs.existsSync(DH_VIEW);
let browser;
before(async () => { if (haveDhView) browser = await launch(); });
after(async () => { await browser?.close(); });

// dh_view rejects two pps with the same stack ("repeated location"), so only files meant
// for it are listed here; xss.json and the hand-made comparison pair are valid too.
const FILES = dhatFilesUnderTest([
  "dhat-crate-heap.json", "dhat-crate-ad-hoc.json", "dhat-crate-hashmap.json", "allocsite-heap.json", "allocsite-profile.json", "allocsite-budget-serde.json",
  "valgrind-heap.json", "valgrind-copy.json", "valgrind-ad-hoc.json",
  "compare-before.json", "compare-after.json",
]);

// dh_view prints numbers in the browser's locale; newPage() sets en-US ("8,760").

for (const file of FILES) {
  test(`dh_view.html accepts ${path.basename(file)} and shows its totals`, { skip: !haveDhView && `${DH_VIEW} not found` }, async () => {
    const page = await newPage(browser);
    await page.goto(pathToFileURL(DH_VIEW).href);
    await page.setInputFiles("input[type=file]", file);
    // dh_view replaces its main div with either a <pre> tree or a span.error.
    await page.waitForSelector("pre, .error", { timeout: 30000 });
    const error = await page.$(".error");
    assert.equal(error && await error.textContent(), null, "dh_view shows an error");
    assert.deepEqual(page.pageErrors.map(String), []);
    const text = await page.textContent("pre");
    // A frame index outside ftbl shows as "undefined" without an error: make sure none does.
    assert.ok(!/: undefined\b/.test(text), "a frame shows as undefined");
    // The root PP comes first: "  Total:     8,760 bytes (100%, ...) in 23 blocks (100%, ...), ..."
    const m = /^\s*Total:\s+([\d,.]+) .*? in ([\d,.]+) /m.exec(text);
    assert.ok(m, `no Total line in:\n${text.slice(0, 500)}`);
    const want = fileTotals(file);
    const round2 = (x) => Math.round(x * 100) / 100; // dh_view shows at most 2 decimals
    assert.equal(num(m[1]), round2(want.bytes), "total bytes");
    assert.equal(num(m[2]), round2(want.blocks), "total blocks");
    if (want.data.bklt) {
      const g = /^\s*At t-gmax:\s+([\d,.]+) /m.exec(text);
      assert.equal(num(g[1]), round2(want.gb), "bytes at t-gmax");
    }
    await page.context().close();
  });
}
