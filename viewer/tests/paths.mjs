// Paths of the viewer and its fixtures, and figures computed straight from a DHAT file.
// No browser here: the model's unit tests (model.test.mjs) use this module alone.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const testsDir = path.dirname(fileURLToPath(import.meta.url));
export const viewerDir = path.dirname(testsDir);
export const repoDir = path.dirname(viewerDir);
export const fixturesDir = path.join(testsDir, "fixtures");
// Screenshots of each view: into target/ (the README's committed ones stay as they are)
// unless ALLOCSITE_UPDATE_SCREENSHOTS=1 asks to refresh viewer/screenshots/.
export const screenshotsDir = process.env.ALLOCSITE_UPDATE_SCREENSHOTS === "1"
  ? path.join(viewerDir, "screenshots")
  : path.join(repoDir, "target", "viewer-screenshots");
export const viewerUrl = pathToFileURL(path.join(viewerDir, "index.html")).href;

export const fixture = (name) => path.join(fixturesDir, name);

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
