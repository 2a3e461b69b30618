#!/usr/bin/env bash
# make bench, local-driver part:
#   A. `berth create -d local` until berthd in the machine answers over mutual TLS (the
#      create command returns only then: it provisions and checks the engine end to end).
#   B. `berth ls` with 20 running local machines (each queried over mutual TLS, in parallel).
# Results go to build/bench/local.md and stdout. No figure is asserted.
# Knobs: BENCH_CREATE_N (5 timed creates), BENCH_LS_MACHINES (20), BENCH_LS_N (20 ls runs),
# BENCH_LS_WARMUP (3 untimed ls runs first). BENCH_SKIP_CREATE_TIMING=1 creates every machine
# untimed (for measuring ls alone). The load average before the ls runs is printed with the
# results: the figure moves with whatever else runs on the host.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/timing.sh"

CREATE_N=${BENCH_CREATE_N:-5}
MACHINES=${BENCH_LS_MACHINES:-20}
LS_N=${BENCH_LS_N:-20}
LS_WARMUP=${BENCH_LS_WARMUP:-3}
[ "${BENCH_SKIP_CREATE_TIMING:-0}" != 1 ] || CREATE_N=0
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
running=$($BERTH ls --format '{{.State}} {{.DockerVersion}}' | grep -c '^Running v') || true
for i in $(seq "$LS_WARMUP"); do
    $BERTH ls >/dev/null
done
load=$(cut -d' ' -f1 /proc/loadavg)
: >"$T/ls.ms"
for i in $(seq "$LS_N"); do
    ms $BERTH ls >>"$T/ls.ms"
done
read -r l_med l_p90 <<<"$(stats "$T/ls.ms")"
{
    echo "# local driver ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load average $load before the ls runs)"
    echo
    echo "| case | runs | median | p90 |"
    echo "| --- | --- | --- | --- |"
    if [ "$CREATE_N" -gt 0 ]; then
        read -r c_med c_p90 <<<"$(stats "$T/create.ms")"
        echo "| \`berth create -d local\` until berthd answers over mutual TLS | $CREATE_N | ${c_med} ms | ${c_p90} ms |"
    fi
    echo "| \`berth ls\` with $MACHINES local machines ($running answering with their engine version) | $LS_N | ${l_med} ms | ${l_p90} ms |"
} | tee "$RESULTS"
