# Shared by the CLI test scripts: a temp dir, pass/fail counters, and the two checks every script
# uses. Source it after setting `bin` (the effectual binary).
#   expect_ok ARGS...                  exit 0 (stdout in $tmp/out, stderr in $tmp/err)
#   expect_error CODE PATTERN -- ARGS  exit CODE, exactly one stderr line matching PATTERN
#   finish NAME                        prints "NAME: N passed, M failed" and sets the exit status
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
ko() {
  failed=$((failed + 1))
  echo "FAIL: $*"
}

expect_ok() {
  if "$bin" "$@" > "$tmp/out" 2> "$tmp/err" < /dev/null; then ok; else ko "effectual $* failed: $(head -c 300 "$tmp/err")"; fi
}

expect_error() {
  local code=$1 pattern=$2
  shift 3
  "$bin" "$@" > "$tmp/out" 2> "$tmp/err" < /dev/null
  local rc=$? lines
  lines=$(wc -l < "$tmp/err")
  if [ "$rc" -ne "$code" ]; then
    ko "effectual $* exited $rc, expected $code: $(head -c 300 "$tmp/err")"
  elif [ "$lines" -ne 1 ]; then
    ko "effectual $* printed $lines stderr lines: $(head -c 300 "$tmp/err")"
  elif ! grep -q -E -- "$pattern" "$tmp/err"; then
    ko "effectual $*: stderr '$(cat "$tmp/err")' does not match /$pattern/"
  else
    ok
  fi
}

finish() {
  echo "$1: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
