// The viewer's scripts as index.html loads them, checked in plain Node (no browser): the
// order (the model, then the views, the shell last), that every script in model/ and
// views/ is loaded, that the model touches no DOM, and that no script reads a name before
// an earlier script defined it (in a page that would silently be undefined).
// Run: cd viewer && node --test tests/scripts.test.mjs   (run.sh runs it first)
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import vm from "node:vm";
import { viewerDir } from "./paths.mjs";
import { loadModel, modelScripts, viewerScripts } from "./load-model.mjs";

const read = (file) => fs.readFileSync(path.join(viewerDir, file), "utf8");

// An object that throws when a missing name is read from it.
function strict(target, what) {
  return new Proxy(target, {
    get(t, name) {
      if (!(name in t)) throw new Error(`a script reads ${what}.${String(name)} before any earlier script defines it`);
      return t[name];
    },
  });
}

test("index.html loads every model script, then every view script, the shell last", () => {
  const scripts = viewerScripts();
  const model = modelScripts();
  const views = scripts.slice(model.length);
  assert.deepEqual(scripts.slice(0, model.length), model);
  assert.ok(views.every((f) => f.startsWith("views/")), `${views}`);
  assert.equal(views[views.length - 1], "views/shell.js");
  for (const dir of ["model", "views"]) {
    const onDisk = fs.readdirSync(path.join(viewerDir, dir)).filter((f) => f.endsWith(".js")).map((f) => `${dir}/${f}`);
    assert.deepEqual(onDisk.sort(), scripts.filter((f) => f.startsWith(`${dir}/`)).sort(), `every ${dir}/ script is loaded`);
  }
});

test("the model touches no DOM, and each of its scripts reads only what the ones before it define", () => {
  for (const file of modelScripts()) {
    assert.ok(!/\bdocument\b|\bwindow\b/.test(read(file).replace(/\/\/.*$/gm, "")), `${file} touches the DOM`);
  }
  const defined = {};
  loadModel({ AllocsiteModel: strict(defined, "AllocsiteModel") });
  assert.equal(typeof defined.parseDhat, "function");
  assert.deepEqual(Object.keys(defined).sort(), Object.keys(loadModel()).sort());
});

test("each view script reads only what the model and the views before it define", () => {
  const views = {};
  let started = 0;
  const window = { AllocsiteModel: strict(loadModel(), "AllocsiteModel"), AllocsiteViews: strict(views, "AllocsiteViews") };
  const document = { readyState: "loading", addEventListener: (type) => { if (type === "DOMContentLoaded") started++; } };
  for (const file of viewerScripts().slice(modelScripts().length)) {
    const filename = path.join(viewerDir, file);
    vm.compileFunction(read(file), ["window", "document"], { filename })(window, document);
  }
  assert.equal(started, 1, "the shell starts the page once the document is loaded");
  assert.equal(typeof window.allocsiteViewer.loadText, "function");
  assert.equal(typeof views.renderCompare, "function");
});
