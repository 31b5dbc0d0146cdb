// The viewer's model in Node, without a browser: the scripts under model/ that index.html
// loads, run in the same order (index.html's <script src> tags are the one list of the
// viewer's scripts; src/report/html.rs checks its own list against them).
import fs from "node:fs";
import path from "node:path";
import vm from "node:vm";
import { viewerDir } from "./paths.mjs";

// Every script index.html loads, in order, as paths relative to viewer/.
export function viewerScripts() {
  const html = fs.readFileSync(path.join(viewerDir, "index.html"), "utf8");
  return [...html.matchAll(/<script src="([^"]+)"><\/script>/g)].map((m) => m[1]);
}

// The model's scripts: the pure part, no DOM.
export const modelScripts = () => viewerScripts().filter((file) => file.startsWith("model/"));

// Runs the model's scripts with `global` standing for the page's global object (each adds
// to `global.AllocsiteModel`) and returns the model.
export function loadModel(global = {}) {
  for (const file of modelScripts()) {
    const filename = path.join(viewerDir, file);
    vm.compileFunction(fs.readFileSync(filename, "utf8"), ["globalThis"], { filename })(global);
  }
  return global.AllocsiteModel;
}
