# Timing helpers for the bench scripts that run whole commands. Source after lib.sh.

# ms CMD...: run CMD (output dropped), print its wall time in milliseconds.
ms() {
    local t0 t1
    t0=$(date +%s%N)
    "$@" </dev/null >/dev/null 2>&1 || fail "bench command failed: $*"
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000))
}

# stats FILE: "median p90" of the numbers in FILE.
stats() {
    sort -n "$1" | awk '{v[NR] = $1} END {m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.9 + 0.999)];
        printf "%d %d", m, p}'
}
