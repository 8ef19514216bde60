#!/usr/bin/env bash
# check_tls.sh BINARY: `sluice --check` loads each cluster's TLS files as start-up would:
# a matching pair passes; a key of another certificate and a missing certificate each give
# one line naming the cluster and the file, and exit status 2.
set -uo pipefail
binary=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for n in a b; do
  openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=sluice-$n" -days 1 \
    -keyout "$dir/$n.key" -out "$dir/$n.crt" >/dev/null 2>&1 || { echo "openssl failed"; exit 1; }
done
config() {  # config CERT KEY
  cat <<TOML
[admin]
password = "pw"
[[cluster]]
name = "c1"
protocol = "mysql"
listen = "127.0.0.1:16033"
monitor_user = "m"
monitor_password = "m"
tls_cert = "$1"
tls_key = "$2"
  [[cluster.server]]
  host = "127.0.0.1"
  port = 3306
  role = "primary"
TOML
}
fail=0
config "$dir/a.crt" "$dir/a.key" >"$dir/good.toml"
out=$("$binary" --config "$dir/good.toml" --check 2>&1); st=$?
[[ $st == 0 ]] || { echo "FAIL: a matching pair: status $st: $out"; fail=1; }

config "$dir/a.crt" "$dir/b.key" >"$dir/mismatch.toml"
out=$("$binary" --config "$dir/mismatch.toml" --check 2>&1); st=$?
echo "$out"
[[ $st == 2 ]] || { echo "FAIL: mismatched key: status $st"; fail=1; }
grep -Eq "^$dir/mismatch.toml: cluster c1: $dir/b.key: tls_key: cannot load the key of $dir/a.crt: .+" <<<"$out" ||
  { echo "FAIL: no line naming the mismatched key"; fail=1; }

config "$dir/missing.crt" "$dir/a.key" >"$dir/missing.toml"
out=$("$binary" --config "$dir/missing.toml" --check 2>&1); st=$?
echo "$out"
[[ $st == 2 ]] || { echo "FAIL: missing cert: status $st"; fail=1; }
grep -Eq "^$dir/missing.toml: cluster c1: $dir/missing.crt: tls_cert: cannot load certificate: .+" <<<"$out" ||
  { echo "FAIL: no line naming the missing certificate"; fail=1; }
exit $fail
