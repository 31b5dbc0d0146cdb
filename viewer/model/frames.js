// allocsite viewer, the model: frame strings. Their parts (function, location), where
// their code lives (the frame classes: user, dependency, std, allocsite, system,
// unknown) and the file with library frames collapsed.
//
// SPDX-License-Identifier: MIT OR Apache-2.0
//
// A classic script, no imports, no build step: one of the model's files (model/*.js), which
// index.html loads in order before the views and src/report/html.rs inlines in the same
// order. Each adds its functions to the global `AllocsiteModel` (M), and reads what the
// files before it added. No DOM: under Node, tests/load-model.mjs runs the same files.
(function (M) {
  "use strict";

  // ---------------------------------------------------------------- frame classes

  // Where a frame's code lives (viewer/CALL-SITES.md is the specification, and the
  // repository's tests/fixtures/frame-classes.json the test vectors both this and
  // allocsite's Rust side, src/symbolize/classify.rs, check themselves against).
  const CLASSES = ["user", "dependency", "std", "allocsite", "system", "unknown"];
  const USER = 0, DEPENDENCY = 1, STD = 2, ALLOCSITE = 3, SYSTEM = 4, UNKNOWN = 5;

  const SEMVER = /^(.+?)-(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$/;
  const STD_CRATES = new Set(["std", "core", "alloc", "proc_macro", "panic_unwind", "panic_abort", "std_detect", "test"]);
  const STD_DIRS = new Set(["std", "core", "alloc", "proc_macro", "panic_unwind", "panic_abort", "std_detect"]);
  const SYSTEM_FUNCS = new Set(["malloc", "calloc", "realloc", "free", "reallocarray", "memalign", "posix_memalign",
    "aligned_alloc", "valloc", "pvalloc", "malloc_usable_size", "_start", "start_thread", "clone", "clone3", "(below main)"]);
  const SYSTEM_FUNC_PREFIXES = ["__libc_", "__GI_", "_dl_", "__clone", "_Unwind_", "operator new", "operator delete"];
  const STD_FUNC_PREFIXES = ["__rust_", "__rdl_", "__rg_", "__rustc::"];
  const SYSTEM_OBJECT_PREFIXES = ["vgpreload_", "ld-linux", "linux-vdso", "libc.so", "libc-", "libgcc_s", "libstdc++"];

  // Splits "0x1a2b: func (file.rs:12:5)" / "0x4AA1D9F: fn (in /lib/x.so)" into parts.
  // The location is the last balanced "(...)" at the end, after a space: function names
  // can contain parentheses and spaces themselves.
  function splitFrame(s) {
    const t = s.replace(/^0x[0-9a-fA-F]+:\s*/, "");
    let func = t, loc = "";
    if (t.endsWith(")")) {
      let depth = 0;
      for (let j = t.length - 1; j >= 0; j--) {
        const c = t[j];
        if (c === ")") depth++;
        else if (c === "(" && --depth === 0) {
          if (j > 0 && t[j - 1] === " ") { func = t.slice(0, j - 1); loc = t.slice(j + 1, -1); }
          break;
        }
      }
    }
    return { text: t, func, loc };
  }

  // A location as file, line and column, or as the object file ("in /lib/x.so").
  function parseLocation(loc) {
    if (loc.startsWith("in ")) return { file: "", line: "", col: "", object: loc.slice(3) };
    const m = /^(.*?):(\d+)(?::(\d+))?$/.exec(loc);
    let file = m ? m[1] : loc, line = m ? m[2] : "", col = m && m[3] ? m[3] : "";
    if (file === "???" || file === "") { file = ""; line = ""; col = ""; }
    return { file, line, col, object: "" };
  }

  // The crate a function belongs to: the first path segment of its name, or for
  // "<Type as Trait>::f" the crate of Type (of Trait when Type is generic, a reference,
  // a primitive or a tuple). Null when the name has no path.
  function ownerCrate(fn, depth) {
    if ((depth || 0) > 8) return null;
    let s = fn.length > 4096 ? fn.slice(0, 4096) : fn;
    s = s.trim();
    for (let guard = 0; guard < 8; guard++) {
      s = s.replace(/^(?:&(?:mut\s+)?|\*(?:const|mut)\s+|dyn\s+|impl\s+)+/, "");
      if (!s.startsWith("<")) {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)::/.exec(s);
        return m ? m[1] : null;
      }
      // <A as B>::rest or <A>::rest: find the matching '>' (ignoring the one of "->").
      let depth = 0, end = -1, as = -1;
      for (let j = 0; j < s.length; j++) {
        const c = s[j];
        if (c === "<") depth++;
        else if (c === ">" && s[j - 1] !== "-") { if (--depth === 0) { end = j; break; } }
        else if (depth === 1 && c === " " && s.startsWith(" as ", j) && as < 0) as = j;
      }
      if (end < 0) return null;
      const self = s.slice(1, as >= 0 ? as : end), trait = as >= 0 ? s.slice(as + 4, end) : "";
      const o = ownerCrate(self, (depth || 0) + 1);
      if (o) return o;
      if (trait) { s = trait; continue; }
      // An inherent method of a primitive, slice, array, str or tuple: only std has those.
      return /^(?:\[|\(|str\b|bool\b|char\b|[iuf](?:8|16|32|64|128|size)\b|\*)/.test(self.replace(/^(?:&(?:mut\s+)?)+/, "")) ? "core" : null;
    }
    return null;
  }

  // The crate of the trait in "<Type as Trait>::f", or null.
  function traitCrate(fn) {
    if (!fn.startsWith("<")) return null;
    let depth = 0;
    for (let j = 0; j < fn.length && j < 4096; j++) {
      const c = fn[j];
      if (c === "<") depth++;
      else if (c === ">" && fn[j - 1] !== "-") { if (--depth === 0) return null; }
      else if (depth === 1 && fn.startsWith(" as ", j)) return ownerCrate(fn.slice(j + 4));
    }
    return null;
  }

  // Class of one frame string, with crate and version for dependencies. `why` is
  // "path" when a strong path decided, "function" or "weak" otherwise (the context pass
  // below only revisits "weak" and unresolved decisions).
  function classifyFrame(s) {
    const sp = splitFrame(s);
    // A hostile name can be megabytes long: the start of a function name and both ends of
    // a location are all the rules look at.
    const func = sp.func.length > 4096 ? sp.func.slice(0, 4096) : sp.func;
    const loc = sp.loc.length > 4096 ? sp.loc.slice(0, 2048) + sp.loc.slice(-2048) : sp.loc;
    const { file, object } = parseLocation(loc);
    const path = file.replace(/\\/g, "/");
    const fnName = func.trim();
    const noFunc = fnName === "" || fnName === "???";
    const out = (cls, why, crate, version) => ({ class: cls, crate: crate || null, version: version || null, why, owner: noFunc ? null : ownerCrate(fnName) });

    if (path) {
      const parts = path.split("/");
      // allocsite's own files, wherever they are.
      for (const p of parts) { const m = SEMVER.exec(p); if (m && m[1] === "allocsite") return out("allocsite", "path"); }
      // std: /rustc/<hash>/library/..., a rust-src copy, std's own deps, trimmed std paths.
      if (path.startsWith("/rustc/") || path.includes("/rustlib/src/rust/library/")) return out("std", "path");
      const deps = parts.indexOf("deps");
      if (deps > 0 && parts[deps - 1] === "rust" && deps + 1 < parts.length - 1) {
        const m = SEMVER.exec(parts[deps + 1]);
        if (m) return out("std", "path", m[1], m[2]);
      }
      const first = parts[0] === "library" ? parts[1] : parts[0];
      const second = parts[0] === "library" ? parts[2] : parts[1];
      if (!path.startsWith("/") && STD_DIRS.has(first) && second === "src") return out("std", "path");
      // Dependencies: crates.io registry, git checkouts, vendored, allocsite's trimmed form.
      const reg = path.indexOf("/registry/src/");
      if (reg >= 0) {
        const rest = path.slice(reg + "/registry/src/".length).split("/");
        const m = rest.length > 2 ? SEMVER.exec(rest[1]) : null;
        if (m) return out("dependency", "path", m[1], m[2]);
      }
      // git: ".../git/checkouts/<name>-<hash>/<rev>/..." (allocsite writes it from
      // "git/checkouts/"): the crate is the folder above the last "src" inside the checkout
      // (workspaces keep crates in sub-folders), else the repository's name; the version is
      // the revision.
      const git = path.startsWith("git/checkouts/") ? 0 : path.indexOf("/git/checkouts/") + 1;
      if (git > 0 || path.startsWith("git/checkouts/")) {
        const rest = path.slice(git + "git/checkouts/".length).split("/");
        if (rest.length > 2) {
          const m = /^(.+)-[0-9a-fA-F]+$/.exec(rest[0]);
          const inside = rest.slice(2, -1);
          const src = inside.lastIndexOf("src");
          return out("dependency", "path", src > 0 ? inside[src - 1] : m ? m[1] : rest[0], rest[1]);
        }
      }
      // Vendored: ".../vendor/<crate>/..." (a "vendor" module inside a src folder is not one).
      const vendor = parts.indexOf("vendor");
      if (vendor >= 0 && vendor + 2 < parts.length && parts[vendor + 1] && !parts.slice(0, vendor).includes("src")) {
        const m = SEMVER.exec(parts[vendor + 1]);
        return out("dependency", "path", m ? m[1] : parts[vendor + 1], m ? m[2] : null);
      }
      if (!path.startsWith("/") && parts.length > 1) {
        const m = SEMVER.exec(parts[0]);
        if (m) return out("dependency", "path", m[1], m[2]);
      }
      // C runtime and Valgrind sources.
      const base = parts[parts.length - 1];
      if (/^vg_replace_\w+\.c$/.test(base) || /^dl-[\w-]+\.c$/.test(base) || base === "rtld.c" || parts.includes("sysdeps")) return out("system", "path");
    }
    if (object) {
      const o = object.replace(/\\/g, "/");
      const base = o.slice(o.lastIndexOf("/") + 1);
      if (/^\/(?:usr|lib|lib32|lib64|libx32)\//.test(o) || SYSTEM_OBJECT_PREFIXES.some((p) => base.startsWith(p))) return out("system", "path");
    }
    if (noFunc) return path ? out("user", "weak") : out("unknown", "none");
    // By the function's name.
    const owner = ownerCrate(fnName);
    if (owner === "allocsite" && !fnName.includes("::tests::")) return out("allocsite", "function");
    if (STD_FUNC_PREFIXES.some((p) => fnName.startsWith(p))) return out("std", "function");
    // std's when the function is std's and so is the trait it implements, if any
    // ("<Vec<app::Row> as app::render::Render>::render" is the user's).
    const trait = traitCrate(fnName);
    if (owner && STD_CRATES.has(owner) && (!trait || STD_CRATES.has(trait))) return out("std", "function");
    const plain = fnName.split("@")[0];
    if (SYSTEM_FUNCS.has(plain) || SYSTEM_FUNC_PREFIXES.some((p) => plain.startsWith(p))) return out("system", "function");
    // Anything else with a source file or an object of its own is the user's.
    if (path || object) return out("user", "weak");
    return out("unknown", "none");
  }

  const normCrate = (c) => c.replace(/-/g, "_");

  // Classes of all the frames of one file. A first pass classifies each frame alone;
  // then a frame that reads as the user's only for want of a better clue (a relative or
  // base-name path, or no location), whose function belongs to a crate that another
  // frame's path places (a dependency, or one of std's own dependencies), takes that
  // crate's class, name and version. This undoes paths cut to their last components,
  // as the dhat crate writes them ("src/raw/alloc.rs" of std's hashbrown).
  function classifyFrames(ftbl) {
    const n = ftbl.length;
    const cls = new Uint8Array(n), crate = new Array(n).fill(null), version = new Array(n).fill(null);
    const first = new Array(n), placed = new Map();
    for (let i = 0; i < n; i++) {
      const r = classifyFrame(ftbl[i]);
      first[i] = r;
      if (r.why === "path" && r.crate && !placed.has(normCrate(r.crate))) placed.set(normCrate(r.crate), r);
    }
    for (let i = 0; i < n; i++) {
      let r = first[i];
      if ((r.why === "weak" || r.why === "none") && r.owner && placed.has(normCrate(r.owner))) r = placed.get(normCrate(r.owner));
      cls[i] = CLASSES.indexOf(r.class);
      // Only dependencies are named by crate (std's own dependencies are std).
      crate[i] = r.class === "dependency" ? r.crate : null;
      version[i] = r.class === "dependency" ? r.version : null;
    }
    return { cls, crate, version };
  }

  function frameClasses(profile) {
    const fr = profile.frames;
    if (!fr.classes) fr.classes = classifyFrames(fr.raw);
    return fr.classes;
  }

  // Whether a file looks like a Rust program's: a rust-* mode (allocsite, the dhat crate)
  // or Rust paths in its frames (Valgrind on a Rust binary).
  function looksLikeRust(profile) {
    if (/^rust-/.test(String(profile.meta.mode))) return true;
    const fr = profile.frames;
    let rusty = 0;
    for (let i = 1; i < fr.text.length && i < 2000; i++) if (fr.func[i].includes("::") && /\.rs:\d+/.test(fr.loc[i])) rusty++;
    return rusty > 0;
  }

  // ---------------------------------------------------------------- collapsing library frames

  // The file with std, allocsite, system and dependency frames collapsed: each run of
  // such frames in a stack is replaced by its outermost frame, the call the code above
  // it made ("alloc::fmt::format" stands for the twelve std frames under it). User and
  // unknown frames stay. The counters, frames and pp indices are shared with `profile`.
  function isCollapsible(c) { return c === DEPENDENCY || c === STD || c === ALLOCSITE || c === SYSTEM; }

  function collapsedView(profile) {
    if (profile.collapsed) return profile.collapsed;
    const cls = frameClasses(profile).cls;
    const fs = new Array(profile.n);
    for (let p = 0; p < profile.n; p++) {
      const f = profile.fs[p];
      let any = false;
      for (let j = 0; j < f.length && !any; j++) any = isCollapsible(cls[f[j]]);
      if (!any) { fs[p] = f; continue; }
      const out = [];
      for (let j = 0; j < f.length; j++) {
        if (!isCollapsible(cls[f[j]]) || j + 1 === f.length || !isCollapsible(cls[f[j + 1]])) out.push(f[j]);
      }
      fs[p] = out;
    }
    const view = Object.assign({}, profile, { fs, collapsed: null, original: profile, sites: null });
    view.collapsed = view;
    profile.collapsed = view;
    return view;
  }

  Object.assign(M, {
    CLASSES, USER, DEPENDENCY, STD, ALLOCSITE, SYSTEM, UNKNOWN,
    splitFrame, parseLocation, ownerCrate, classifyFrame, classifyFrames, frameClasses, looksLikeRust, collapsedView,
  });
})(globalThis.AllocsiteModel || (globalThis.AllocsiteModel = {}));
