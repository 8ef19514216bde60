#!/usr/bin/env bash
# expect_config_error.sh BINARY CONFIG EXPECTED_REGEX
# Runs `BINARY --config CONFIG --check` (add NO_CHECK=1 to leave out --check) and passes when
# it exits with status 2 and one stderr line matches EXPECTED_REGEX as a whole line.
set -uo pipefail
if (($# != 3)); then
  echo "usage: $0 BINARY CONFIG EXPECTED_REGEX" >&2
  exit 64
fi
binary=$1 config=$2 regex=$3
args=(--config "$config")
if [[ "${NO_CHECK:-0}" != 1 ]]; then args+=(--check); fi

err=$(mktemp)
trap 'rm -f "$err"' EXIT
# timeout: a broken config must fail at once; a binary that starts serving instead must not hang.
timeout 10 "$binary" "${args[@]}" >/dev/null 2>"$err"
status=$?

ok=1
if ((status != 2)); then
  echo "FAIL: exit status $status, expected 2" >&2
  ok=0
fi
if ! grep -Eq -- "^(${regex})\$" "$err"; then
  echo "FAIL: no stderr line matches ^(${regex})\$" >&2
  ok=0
fi
if ((ok == 0)); then
  echo "--- stderr of: $binary ${args[*]}" >&2
  cat "$err" >&2
  exit 1
fi
echo "ok: exit 2, stderr: $(head -c 300 "$err")"
