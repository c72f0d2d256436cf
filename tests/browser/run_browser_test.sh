#!/usr/bin/env bash
# Opens a sample HTML report in headless chromium and checks that it loads without console
# errors, renders every chart, and references nothing on the network.
#   run_browser_test.sh MAKE_SAMPLE_REPORT [SCREENSHOT.png]
# MAKE_SAMPLE_REPORT is called as `MAKER OUT.html EXPECTED.txt` (EXPECTED: "kind count" lines); with
# EFF_BROWSER_MAKER_ARGS set, those words come first (e.g. a script's binary and source dir).
# EFF_BROWSER_NO_ESCAPE_CHECK=1 skips the check of the sample's hostile layer name.
# Exit 0 = pass, 1 = fail, 77 = skipped (no chromium; `tools/deps.sh test` installs it).
# EFF_BROWSER_KEEP=DIR keeps the report, the DOM dump and chromium's log in DIR.
set -euo pipefail
maker=$1
screenshot=${2:-}

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "SKIP: chromium is not installed"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/eff-browser.XXXXXX")
cleanup() {
  if [ -n "${EFF_BROWSER_KEEP:-}" ]; then
    mkdir -p "$EFF_BROWSER_KEEP" && cp "$work"/report.html "$work"/dom.html "$work"/chromium.log "$EFF_BROWSER_KEEP"/ 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# shellcheck disable=SC2086
"$maker" ${EFF_BROWSER_MAKER_ARGS:-} "$work/report.html" "$work/expected.txt"

# Self-contained: no resource may come from the network (not even a font or an SVG namespace URL).
if grep -nE 'https?://|(src|href)="//|@import|url\(' "$work/report.html" | head -5; then
  fail "the report references a URL (lines above)"
fi

# Flags: root in a container needs --no-sandbox; a fresh profile keeps runs independent; the rest
# keeps start-up to a few seconds and off the network.
run_chromium() {
  timeout 90 "$browser" --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
    --no-default-browser-check --disable-extensions --disable-background-networking --disable-sync \
    --disable-component-update --mute-audio --hide-scrollbars --user-data-dir="$work/profile" \
    --enable-logging=stderr --v=0 "$@" "file://$work/report.html"
}

if ! run_chromium --dump-dom >"$work/dom.html" 2>"$work/chromium.log"; then
  tail -20 "$work/chromium.log"
  fail "chromium --dump-dom failed"
fi

# Console messages (errors, CSP violations, uncaught exceptions) appear as CONSOLE lines.
console_pattern='CONSOLE|Uncaught|Refused to|Content Security Policy'
if grep -E "$console_pattern" "$work/chromium.log" | head -5; then
  fail "the page logged console messages (lines above)"
fi

# Negative control: the same page with a script error and an external image must be caught, or
# the check above proves nothing (chromium's log format could change).
sed 's#</main>#<img src="https://example.invalid/x.png"><script>undefined_function();</script></main>#' \
  "$work/report.html" >"$work/broken.html"
timeout 90 "$browser" --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
  --disable-background-networking --user-data-dir="$work/profile" --enable-logging=stderr --v=0 --dump-dom \
  "file://$work/broken.html" >/dev/null 2>"$work/broken.log" || true
if ! grep -qE "$console_pattern" "$work/broken.log"; then
  fail "negative control: an injected script error was not seen in chromium's log"
fi

if ! grep -q '<body[^>]*data-ok="true"' "$work/dom.html"; then
  grep -o '<body[^>]*>' "$work/dom.html" | head -1
  fail "the page's self-check did not pass (data-ok is not \"true\")"
fi

while read -r kind count; do
  got=$(grep -o "<figure class=\"chart\" data-chart-kind=\"$kind\">" "$work/dom.html" | wc -l)
  if [ "$got" -ne "$count" ]; then
    fail "expected $count charts of kind $kind, the page has $got"
  fi
done <"$work/expected.txt"

# The escaped layer name survives as text and never becomes markup.
if [ -z "${EFF_BROWSER_NO_ESCAPE_CHECK:-}" ] &&
  { grep -q '<conv&"1">' "$work/dom.html" || ! grep -q '&lt;conv&amp;"1"&gt;' "$work/dom.html"; }; then
  fail "the layer name <conv&\"1\"> is not escaped in the rendered page"
fi

if [ -n "$screenshot" ]; then
  run_chromium --screenshot="$screenshot" --window-size=1400,5200 >/dev/null 2>&1 || fail "chromium --screenshot failed"
fi

if [ "$failures" -gt 0 ]; then
  echo "browser report test: $failures failure(s)"
  exit 1
fi
echo "browser report test: ok ($(tr '\n' ' ' <"$work/expected.txt"))"
