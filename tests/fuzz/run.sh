#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS with its own corpus under build/fuzz/corpus/.
# Prints one line per target and "fuzz: N passed, M failed" at the end.
set -u
secs=$1
shift
pass=0
fail=0
for bin in "$@"; do
    name=$(basename "$bin")
    corpus=build/fuzz/corpus/$name
    mkdir -p "$corpus"
    if "$bin" -max_total_time="$secs" -max_len=16384 -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 "$corpus" >"build/fuzz/$name.log" 2>&1; then
        echo "PASS $name ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "build/fuzz/$name.log" | awk '{print $2}') runs)"
        pass=$((pass + 1))
    else
        echo "FAIL $name: see build/fuzz/$name.log"
        tail -n 30 "build/fuzz/$name.log"
        fail=$((fail + 1))
    fi
done
echo "fuzz: $pass passed, $fail failed"
[ $fail -eq 0 ]
