#!/usr/bin/env bash
# expect_success.sh BINARY REGEX [ARGS...]
# Runs `BINARY ARGS...` and passes when it exits with status 0 and a line of its output
# (stdout and stderr together) matches the extended REGEX.
set -uo pipefail
if (($# < 2)); then
  echo "usage: $0 BINARY REGEX [ARGS...]" >&2
  exit 64
fi
binary=$1 regex=$2
shift 2
out=$(timeout 10 "$binary" "$@" 2>&1)
status=$?
printf '%s\n' "$out"
if ((status != 0)); then
  echo "FAIL: $binary $* exited with status $status, expected 0" >&2
  exit 1
fi
if ! grep -Eq -- "$regex" <<<"$out"; then
  echo "FAIL: no output line matches $regex" >&2
  exit 1
fi
