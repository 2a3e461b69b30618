# Helpers for the local driver tests (test_local_*). Source it after lib.sh. It checks for
# root and the machine image, names the berth binary $B and its store $STORE, and removes
# every machine before lib.sh deletes $T (a running machine holds its rootfs).
[ "$(id -u)" -eq 0 ] || fail "the local driver needs root"
[ -f "$TOP/build/lib/berth/machine-rootfs.tar.gz" ] || fail "no machine image: run make"

B=$BERTH
STORE=$BERTH_STORAGE_PATH

_local_cleanup() {
    local rc=$?
    set +e
    for m in $($B ls -q 2>/dev/null); do $B rm -f "$m" >/dev/null 2>&1; done
    (exit $rc)
    _cleanup
}
trap _local_cleanup EXIT

# newkey NAME: an ECDSA key where the driver and core look for machine NAME's (until core
# generates the machine's key itself).
newkey() {
    mkdir -p "$STORE/machines/$1"
    ssh-keygen -q -t ecdsa -b 256 -m PEM -N '' -C berth-test -f "$STORE/machines/$1/id_ecdsa"
}
