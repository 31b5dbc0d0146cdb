// Load-time test: a generated profile with 100,000 program points and 20,000 distinct
// frames (about 50 MB) must load and show the top call sites in under 3 s.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { launch, newPage, viewerUrl } from "./helpers.mjs";

const PPS = 100_000, FRAMES = 20_000, LIMIT_MS = 3000;
let browser, dir, file;

// Deterministic pseudo-random numbers (xorshift32) so every run sees the same file.
function rng(seed) {
  let x = seed >>> 0;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >> 17; x ^= x << 5; x >>>= 0; return x / 4294967296; };
}

// Writes a heap-mode file shaped like a real one: a few allocator frames innermost, a
// wide middle of application frames, and a handful of outermost frames (main, threads).
// Every pp gets a distinct stack. Written in dhat-rs's one-value-per-line style.
function generate(p) {
  const r = rng(12345);
  const ftbl = ["[root]"];
  for (let i = 1; i < FRAMES; i++) {
    const crate = `crate${i % 97}`, mod = `module${i % 389}`;
    ftbl.push(`0x${(0x55d000000000 + i * 64).toString(16)}: ${crate}::${mod}::function_${i} (src/${mod}/file${i % 53}.rs:${1 + (i % 900)}:${1 + (i % 40)})`);
  }
  const out = fs.openSync(p, "w");
  let buf = `{\n"dhatFileVersion": 2,\n"mode": "rust-heap",\n"verb": "Allocated",\n"bklt": true,\n"bkacc": false,\n"tu": "µs",\n"Mtu": "s",\n"tuth": 10,\n"cmd": "generated",\n"pid": 1,\n"tg": 500000,\n"te": 1000000,\n"pps": [\n`;
  let totalBytes = 0;
  for (let i = 0; i < PPS; i++) {
    const depth = 10 + Math.floor(r() * 46);
    const fs_ = [1 + Math.floor(r() * 20)];                         // allocator frames 1..20
    for (let d = 1; d < depth - 2; d++) fs_.push(21 + Math.floor(r() * (FRAMES - 60)));
    fs_.push(FRAMES - 30 + Math.floor(r() * 20), FRAMES - 5 + (i % 4)); // outer frames
    const tbk = 1 + Math.floor(r() * 100), tb = tbk * (8 + Math.floor(r() * 4096));
    totalBytes += tb;
    const gb = r() < 0.3 ? tb : 0;
    buf += `${i ? ",\n" : ""}{\n "tb": ${tb},\n "tbk": ${tbk},\n "tl": ${tbk * 37},\n "mb": ${tb},\n "mbk": ${tbk},\n "gb": ${gb},\n "gbk": ${gb ? tbk : 0},\n "eb": 0,\n "ebk": 0,\n "fs": [\n    ${fs_.join(",\n    ")}\n ]\n}`;
    if (buf.length > 1 << 20) { fs.writeSync(out, buf); buf = ""; }
  }
  buf += "\n],\n\"ftbl\": [\n" + ftbl.map((s) => JSON.stringify(s)).join(",\n") + "\n]\n}\n";
  fs.writeSync(out, buf);
  fs.closeSync(out);
  return totalBytes;
}

let totalBytes;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "allocsite-perf-"));
  file = path.join(dir, "big.json");
  totalBytes = generate(file);
  browser = await launch();
});
after(async () => { await browser?.close(); fs.rmSync(dir, { recursive: true, force: true }); });

test(`100,000 program points / 20,000 frames load and show the top call sites in under ${LIMIT_MS} ms`, async () => {
  const size = fs.statSync(file).size;
  const page = await newPage(browser);
  await page.goto(viewerUrl);
  const t0 = Date.now();
  await page.setInputFiles("#file-input", file);
  await page.waitForFunction(() => document.body.dataset.status === "loaded" && document.querySelector("#sites-table tbody tr"),
    null, { timeout: 60000, polling: 20 });
  const ms = Date.now() - t0;
  const inPage = await page.evaluate(() => `${document.body.dataset.loadMs} ms, of which JSON.parse+validate ${document.body.dataset.parseMs}`);
  console.log(`# load time: ${ms} ms for ${(size / 1e6).toFixed(1)} MB, ${PPS} program points, ${FRAMES} frames ` +
    `(file picker to call sites shown; parse+validate+render inside the page: ${inPage} ms)`);
  assert.equal(Number(await page.getAttribute("#total-bytes", "data-value")), totalBytes);
  assert.ok(ms < LIMIT_MS, `took ${ms} ms`);
  // The other views stay usable on a file this size (not timed strictly).
  const t1 = Date.now();
  await page.click("#tab-tree");
  await page.waitForSelector("#tree > .node > .kids > .node");
  await page.click("#tab-flame");
  await page.click("#tab-bottomup");
  await page.waitForSelector("#bottomup .bu-row");
  console.log(`# call tree + flame graph + bottom-up on the big file: ${Date.now() - t1} ms`);
  assert.deepEqual(page.pageErrors.map(String), []);
  await page.context().close();
});
