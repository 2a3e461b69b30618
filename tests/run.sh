#!/usr/bin/env bash
# Runs every unit test (cmocka) and integration test, then prints one
# closing line "check: N passed, M failed". Exit status is non-zero on failure.
set -u
cd "$(dirname "$0")/.."
pass=0
failed=()
run() {
    local name=$1
    shift
    local start=$SECONDS
    if "$@" >"build/tests/log/$name.log" 2>&1; then
        pass=$((pass + 1))
        echo "PASS $name ($((SECONDS - start))s)"
    else
        failed+=("$name")
        echo "FAIL $name ($((SECONDS - start))s)"
        tail -n 40 "build/tests/log/$name.log" | sed 's/^/    /'
    fi
}
mkdir -p build/tests/log/unit build/tests/log/integration
for t in build/tests/test_*; do
    [ -x "$t" ] && run "unit/$(basename "$t")" "$t"
done
for t in tests/integration/test_*.sh; do
    run "integration/$(basename "$t" .sh)" bash "$t"
done
echo "check: $pass passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
