// Shared helpers for the browser tests: launching Debian's Chromium through
// playwright-core and opening files in the viewer. Paths and file figures are in paths.mjs.
import { chromium } from "playwright-core";
import { viewerUrl } from "./paths.mjs";

export * from "./paths.mjs";

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
