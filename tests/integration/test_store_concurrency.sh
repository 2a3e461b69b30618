#!/usr/bin/env bash
# Concurrent berth processes and SIGKILL mid-write never leave a torn or
# corrupt config.json; certificates self-heal; a moved address gets a new
# server certificate instead of a TLS failure.
source "$(dirname "$0")/lib.sh"

B=$BERTH
M=$BERTH_STORAGE_PATH/machines/m1
$B create -d none --url tcp://127.0.0.1:2376 m1 >/dev/null 2>&1 || fail "create m1"

config_ok() {
    python3 - "$M/config.json" <<'PY' || fail "config.json is torn or invalid"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["Name"] == "m1" and d["DriverName"] == "none", d
assert d["Driver"]["URL"].startswith("tcp://127.0.0."), d
PY
}
pair_ok() {
    local a b
    a=$(openssl x509 -in "$M/server.pem" -noout -pubkey | sha256sum)
    b=$(openssl pkey -in "$M/server-key.pem" -pubout | sha256sum)
    [ "$a" == "$b" ]
}

# 1. Sixteen processes re-issuing the same machine's certificates at once.
pids=()
for i in $(seq 16); do
    $B regenerate-certs -f m1 >/dev/null 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent regenerate-certs failed"; done
config_ok
pair_ok || fail "server cert and key do not match after concurrent regeneration"
openssl verify -CAfile "$BERTH_STORAGE_PATH/certs/ca.pem" "$M/server.pem" >/dev/null ||
    fail "server cert does not verify"

# 2. SIGKILL at random points of writes, 60 times, with writers running alongside.
for round in $(seq 60); do
    $B regenerate-certs -f m1 >/dev/null 2>&1 &
    victim=$!
    $B regenerate-certs -f m1 >/dev/null 2>&1 &
    other=$!
    # A random delay of 0-40 ms picks the moment of the kill; nothing is waited for.
    sleep "0.0$((RANDOM % 5))"
    kill -9 "$victim" 2>/dev/null || true
    wait "$victim" 2>/dev/null || true
    wait "$other" || fail "round $round: a regenerate-certs beside a killed one failed"
    config_ok
done
# Whatever state the kills left, the next use repairs the certificates
# and sweeps the temp files of killed writers.
$B env --shell bash m1 >/dev/null || fail "env after kills"
pair_ok || fail "env did not repair a mismatched server cert/key pair"
$B regenerate-certs -f m1 >/dev/null 2>&1 || fail "regenerate-certs after kills"
left=$(find "$M" -name '*.tmp.*')
[ -z "$left" ] || fail "temp files of killed writers left behind: $left"
assert_eq "$($B ls -q)" m1

# 3. The machine's address moves: env re-issues the server certificate for it.
sed -i 's#tcp://127.0.0.1:2376#tcp://127.0.0.3:2376#' "$M/config.json"
openssl x509 -in "$M/server.pem" -noout -checkip 127.0.0.3 | grep -c 'does match' >/dev/null &&
    fail "precondition: old cert already covers 127.0.0.3"
out=$($B env --shell bash m1) || fail "env after the address moved"
assert_contains "$out" 'DOCKER_HOST="tcp://127.0.0.3:2376"'
openssl x509 -in "$M/server.pem" -noout -checkip 127.0.0.3 | grep -c 'does match' >/dev/null ||
    fail "server cert was not re-issued for the new address"
assert_eq "$($B inspect -f '{{.Driver.IPAddress}}' m1)" 127.0.0.3
echo ok
