#!/usr/bin/env bash
# make bench, local-driver part:
#   A. `berth create -d local` until berthd in the machine answers over mutual TLS (the
#      create command returns only then: it provisions and checks the engine end to end).
#   B. `berth ls` with 20 running local machines (each queried over mutual TLS, in parallel).
# Results go to build/bench/local.md and stdout. No figure is asserted.
# Knobs: BENCH_CREATE_N (5 timed creates), BENCH_LS_MACHINES (20), BENCH_LS_N (20 ls runs).
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/timing.sh"

CREATE_N=${BENCH_CREATE_N:-5}
MACHINES=${BENCH_LS_MACHINES:-20}
LS_N=${BENCH_LS_N:-20}
RESULTS=$TOP/build/bench/local.md
mkdir -p "$(dirname "$RESULTS")"

remove_all() {
    local names
    names=$($BERTH ls -q 2>/dev/null | tr '\n' ' ')
    [ -z "$names" ] || $BERTH rm -f $names >/dev/null 2>&1
}
trap 'remove_all; _cleanup' EXIT

: >"$T/create.ms"
for i in $(seq "$CREATE_N"); do
    ms $BERTH create -d local "m$i" >>"$T/create.ms"
done
for i in $(seq $((CREATE_N + 1)) "$MACHINES"); do
    $BERTH create -d local "m$i" >/dev/null 2>&1 || fail "create m$i"
done
running=$($BERTH ls --format '{{.State}} {{.DockerVersion}}' | grep -c '^Running v')
: >"$T/ls.ms"
for i in $(seq "$LS_N"); do
    ms $BERTH ls >>"$T/ls.ms"
done
read -r c_med c_p90 <<<"$(stats "$T/create.ms")"
read -r l_med l_p90 <<<"$(stats "$T/ls.ms")"
{
    echo "# local driver ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs)"
    echo
    echo "| case | runs | median | p90 |"
    echo "| --- | --- | --- | --- |"
    echo "| \`berth create -d local\` until berthd answers over mutual TLS | $CREATE_N | ${c_med} ms | ${c_p90} ms |"
    echo "| \`berth ls\` with $MACHINES local machines ($running answering with their engine version) | $LS_N | ${l_med} ms | ${l_p90} ms |"
} | tee "$RESULTS"
