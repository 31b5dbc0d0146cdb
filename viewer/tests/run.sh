#!/usr/bin/env bash
# Runs the viewer's tests: first the scripts' order and the model's unit tests in plain Node
# (no browser), then
# the browser tests in headless Chromium (Debian's /usr/bin/chromium, driven by
# playwright-core; nothing is downloaded but the npm package).
#
#   bash viewer/tests/run.sh                      # all tests
#   ALLOCSITE_EXTRA_DHAT_FILES=a.json:b.json bash viewer/tests/run.sh   # also check these files
#
# Environment: CHROMIUM (default /usr/bin/chromium), DH_VIEW_HTML (default
# /usr/libexec/valgrind/dh_view.html), DHAT_TO_HTML_MANIFEST (Cargo.toml used to build
# examples/dhat_to_html with its `report` feature; default the repository's).
# The tests write screenshots of each view to target/viewer-screenshots/; with
# ALLOCSITE_UPDATE_SCREENSHOTS=1 they refresh the README's, in viewer/screenshots/.
set -euo pipefail
viewer="$(cd "$(dirname "$0")/.." && pwd)"
cd "$viewer"

# The scripts' order and the model alone, in Node: fast, and needs neither Chromium nor cargo.
node --test tests/scripts.test.mjs tests/model.test.mjs

if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund
fi
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "error: Chromium not found at ${CHROMIUM:-/usr/bin/chromium} (apt-get install -y chromium, or set CHROMIUM)" >&2
  exit 1
fi

# Build the example once up front so the report tests don't time out compiling it.
cargo build --quiet --manifest-path "${DHAT_TO_HTML_MANIFEST:-$viewer/../Cargo.toml}" --example dhat_to_html --features report

# Files run one at a time: the machine may be small, and the timing test wants the CPU.
node --test --test-concurrency=1 tests/viewer.test.mjs tests/dh_view.test.mjs tests/hostile.test.mjs tests/perf.test.mjs
