// Shared helpers for the browser tests: launching Debian's Chromium through
// playwright-core, locating files, and computing expected figures straight from a file.
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const testsDir = path.dirname(fileURLToPath(import.meta.url));
export const viewerDir = path.dirname(testsDir);
export const repoDir = path.dirname(viewerDir);
export const fixturesDir = path.join(testsDir, "fixtures");
export const screenshotsDir = path.join(viewerDir, "screenshots");
export const viewerUrl = pathToFileURL(path.join(viewerDir, "index.html")).href;

export const fixture = (name) => path.join(fixturesDir, name);

export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

// A page that fails the test on uncaught page errors and records dialogs.
export async function newPage(browser, opts = {}) {
  const context = await browser.newContext({ locale: "en-US", viewport: { width: opts.width || 1280, height: opts.height || 900 } });
  const page = await context.newPage();
  page.pageErrors = [];
  page.dialogs = [];
  page.on("pageerror", (e) => page.pageErrors.push(e));
  page.on("dialog", (d) => { page.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  return page;
}

// Opens the viewer and loads `file` through the file picker; waits until it has
// either loaded or shown an error.
export async function openInViewer(page, file, url = viewerUrl) {
  await page.goto(url);
  await page.setInputFiles("#file-input", file);
  await page.waitForFunction(() => ["loaded", "error"].includes(document.body.dataset.status), null, { timeout: 30000 });
}

// Totals computed in Node from the file itself, independently of the viewer.
export function fileTotals(file) {
  const d = JSON.parse(fs.readFileSync(file, "utf8"));
  let bytes = 0, blocks = 0, gb = 0;
  for (const pp of d.pps) { bytes += pp.tb; blocks += pp.tbk; gb += pp.gb || 0; }
  return { bytes, blocks, gb, data: d };
}

// Files the "loads and totals match" tests run over: the committed fixtures, the
// example's output if it has been generated, and anything in $ALLOCSITE_EXTRA_DHAT_FILES.
export function dhatFilesUnderTest(names) {
  const files = names.map(fixture);
  const example = path.join(repoDir, "target", "allocsite-example.json");
  if (fs.existsSync(example)) files.push(example);
  for (const p of (process.env.ALLOCSITE_EXTRA_DHAT_FILES || "").split(":")) if (p) files.push(path.resolve(p));
  return files;
}

// dh_view / our viewer print numbers with en-US separators ("8,760").
export const num = (s) => Number(String(s).replace(/,/g, ""));
