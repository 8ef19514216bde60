#!/usr/bin/env bash
# Runs one integration test that makes private clusters under its own scratch directory, and
# frees that directory's disk when the test ends: CI's disk is finite and 30 private clusters
# left behind took 9 GB (a CI run died of "No space left on device").
#
#   scratch_run.sh <scratch-dir> -- <command> [args...]
#
# Before the test: a scratch dir left by an earlier run is removed. After it: on success the
# whole dir goes; on failure the server data directories go (data/, template/, etcd data) and
# every log and config stays for the post-mortem. Exit status is the test's own.
set -uo pipefail

[[ $# -ge 3 && $2 == -- ]] || { echo "usage: $0 <scratch-dir> -- <command...>" >&2; exit 2; }
dir=$1
shift 2
# Refuse anything that is not clearly a scratch directory of ours.
[[ $dir == /* && $dir == */scratch/* ]] || { echo "$0: '$dir' is not a */scratch/* path" >&2; exit 2; }

rm -rf -- "$dir"
"$@"
rc=$?
if [[ $rc -eq 0 ]]; then
  rm -rf -- "$dir"
elif [[ -d $dir ]]; then
  find "$dir" -depth -type d \( -name data -o -name template \) -exec rm -rf -- {} + 2>/dev/null
  echo "scratch_run: test failed (exit $rc); logs kept in $dir" >&2
fi
exit $rc
