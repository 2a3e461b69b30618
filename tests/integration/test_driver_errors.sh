#!/usr/bin/env bash
# Broken drivers give one clear error line and exit 1; berth never crashes.
source "$(dirname "$0")/lib.sh"

TD=$TOP/build/tests/drivers
for d in badabi nodesc incomplete; do
    [ -f "$TD/$d.so" ] || fail "test driver $TD/$d.so was not built (make check builds it)"
done
export BERTH_DRIVER_PATH="$TD:$TOP/build/lib/berth/drivers"
cp "$TD/badabi.so" "$T/"
printf 'not an ELF file\n' >"$T/garbage.so"

# run_bad DRIVER EXPECTED...: create must exit exactly 1 with each EXPECTED in its one-line error.
run_bad() {
    local drv=$1 rc=0 err
    shift
    err=$($BERTH create -d "$drv" x 2>&1 >/dev/null) || rc=$?
    assert_eq "$rc" 1 "exit status for driver $drv (a crash would be >= 128)"
    assert_eq "$(wc -l <<<"$err")" 1 "error for driver $drv is one line"
    for want in "$@"; do assert_contains "$err" "$want" "error for driver $drv"; done
    [ ! -e "$BERTH_STORAGE_PATH/machines/x" ] || fail "driver $drv left a machine behind"
}
run_bad badabi "driver badabi ($TD/badabi.so)" "built for driver ABI 2" "speaks ABI 1" "rebuild"
run_bad nodesc "$TD/nodesc.so" "not a berth driver" "no 'berth_driver' symbol"
run_bad incomplete "$TD/incomplete.so" "lacks a required operation"
run_bad nosuchdriver "driver nosuchdriver: not found" "$TD"
run_bad ../etc "invalid name"
BERTH_DRIVER_PATH=$T run_bad garbage "driver garbage ($T/garbage.so): cannot load"

# A machine whose driver later disappears still lists, with the reason.
$BERTH create -d none --url tcp://127.0.0.1:2376 m1 >/dev/null 2>&1 || fail "create m1"
out=$(BERTH_DRIVER_PATH=$T $BERTH ls --format '{{.Name}} {{.State}} {{.Error}}')
assert_contains "$out" "m1 Error machine m1: driver none: not found"
# And it can still be removed with -f.
BERTH_DRIVER_PATH=$T $BERTH rm -f m1 >/dev/null || fail "rm -f with a missing driver"
[ ! -e "$BERTH_STORAGE_PATH/machines/m1" ] || fail "rm -f left m1"
echo ok
