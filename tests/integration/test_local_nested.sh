#!/usr/bin/env bash
# What an engine inside a local machine relies on: nested namespaces, overlayfs, a cgroup
# hierarchy of its own that it may populate (on this host's layout and on a cgroup-v2-only
# layout, the latter made in a private mount namespace of the test), devices, ptys; and the
# driver's errors for bad flags and busy ports. Needs root.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/local_env.sh"

mssh() {
    local name=$1
    shift
    ssh -i "$STORE/machines/$name/id_ecdsa" -p "$($B inspect -f '{{.Driver.SSHPort}}' "$name")" \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
        -o LogLevel=ERROR -o ConnectTimeout=10 root@127.0.0.1 "$@"
}

# Errors name the machine, the step and the cause.
expect_fail $B create -d local --local-image "$T/nope.tar.gz" bad1
assert_contains "$ERR" "machine bad1"
assert_contains "$ERR" "--local-image $T/nope.tar.gz"
expect_fail $B create -d local --local-memory 8 bad2
assert_contains "$ERR" "--local-memory 8: a machine needs 32 MB at least"
expect_fail $B create -d local --local-cpus 100000 bad3
assert_contains "$ERR" "--local-cpus 100000: must be between 0 and"
python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)' >"$T/busy" &
_bg_pids+=("$!")
wait_for 5 "a busy port" test -s "$T/busy"
BUSY=$(cat "$T/busy")
expect_fail $B create -d local --local-ssh-port "$BUSY" bad4
assert_contains "$ERR" "--local-ssh-port $BUSY: 127.0.0.1:$BUSY is in use"
[ -z "$($B ls -q)" ] || fail "refused creates left machines: $($B ls -q)"

# On this host's cgroup layout.
newkey n1
$B create -d local n1 >"$T/create.log" 2>&1 || { cat "$T/create.log"; fail "create n1"; }
out=$(mssh n1 'set -e
    mkdir -p /var/lib/t/lower /var/lib/t/upper /var/lib/t/work /var/lib/t/merged
    echo lower > /var/lib/t/lower/f
    mount -t overlay overlay -o lowerdir=/var/lib/t/lower,upperdir=/var/lib/t/upper,workdir=/var/lib/t/work /var/lib/t/merged
    echo upper >> /var/lib/t/merged/f
    echo "overlay: $(cat /var/lib/t/merged/f | tr "\n" " ")"
    umount /var/lib/t/merged
    unshare -p -f -n -m -u -i --mount-proc sh -c "hostname nested; echo \"nested: \$(hostname) pid \$\$\""
    echo "devices: $(ls /dev | tr "\n" " ")"
    echo "tmpfs: $(grep -c -e " /run tmpfs" -e " /tmp tmpfs" /proc/mounts)"')
assert_contains "$out" "overlay: lower upper"
assert_contains "$out" "nested: nested pid 1"
assert_contains "$out" "null"
assert_contains "$out" "ptmx"
[ -e /dev/fuse ] && assert_contains "$out" "fuse"
assert_contains "$out" "tmpfs: 2"
# A terminal over SSH (devpts of the machine's own).
assert_contains "$(mssh n1 -tt 'tty' </dev/null | tr -d '\r')" "/dev/pts/"
# The machine's cgroup view: its own root, writable, as an engine uses it.
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
    out=$(mssh n1 'set -e; cat /proc/self/cgroup; mkdir /sys/fs/cgroup/berth /sys/fs/cgroup/berth/c1
        echo 16777216 > /sys/fs/cgroup/berth/c1/memory.max; cat /sys/fs/cgroup/berth/c1/memory.max
        rmdir /sys/fs/cgroup/berth/c1 /sys/fs/cgroup/berth')
    assert_contains "$out" "0::/init"
else
    out=$(mssh n1 'set -e; grep memory /proc/self/cgroup; for c in memory pids cpu cpuacct freezer devices blkio; do
            mkdir -p /sys/fs/cgroup/$c/berth/c1; done
        echo 16777216 > /sys/fs/cgroup/memory/berth/c1/memory.limit_in_bytes
        cat /sys/fs/cgroup/memory/berth/c1/memory.limit_in_bytes
        echo $$ > /sys/fs/cgroup/pids/berth/c1/cgroup.procs; grep pids /proc/self/cgroup
        echo $$ > /sys/fs/cgroup/pids/cgroup.procs
        for c in memory pids cpu cpuacct freezer devices blkio; do
            rmdir /sys/fs/cgroup/$c/berth/c1 /sys/fs/cgroup/$c/berth; done
        cat /sys/fs/cgroup/cpuset/cpuset.cpus')
    assert_contains "$out" "memory:/init"
    assert_contains "$out" "pids:/berth/c1"
    [ -n "$(tail -1 <<<"$out")" ] || fail "the machine's cpuset has no CPUs"
    # No block device of the host is usable inside (v1 device rules).
    dev=$(stat -c '%t %T' "$(findmnt -n -o SOURCE /)" 2>/dev/null || true)
    if [ -n "$dev" ]; then
        set -- $dev
        expect_fail mssh n1 "mknod /tmp/disk b $((16#$1)) $((16#$2)) && head -c 512 /tmp/disk >/dev/null"
    fi
fi
assert_contains "$out" "16777216"
ID1=$($B inspect -f '{{.Driver.MachineID}}' n1)
$B rm -y n1 >/dev/null 2>&1 || fail "rm n1"
find /sys/fs/cgroup -maxdepth 3 -name "n1-$ID1" | grep . && fail "cgroups of n1 left"

# A machine from another image (--local-image) gets its own cached copy.
cp "$TOP/build/lib/berth/machine-rootfs.tar.gz" "$T/custom.tar.gz"
newkey n3
$B create -d local --local-image "$T/custom.tar.gz" n3 >/dev/null 2>&1 || fail "create n3"
assert_eq "$(mssh n3 hostname)" n3
assert_contains "$($B inspect -f '{{.Driver.Image}}' n3)" "$STORE/cache/machine-rootfs-"
[ "$(ls "$STORE"/cache/machine-rootfs-*.tar.gz | wc -l)" -eq 2 ] || fail "expected two cached images"
$B rm -y n3 >/dev/null 2>&1 || fail "rm n3"

# On a cgroup-v2-only layout: the test mounts cgroup2 on /sys/fs/cgroup in a mount
# namespace of its own and runs berth there.
newkey n2
cat >"$T/v2.sh" <<EOF
set -euo pipefail
umount -R /sys/fs/cgroup
mount -t cgroup2 cgroup2 /sys/fs/cgroup
$B create -d local n2 >"$T/create2.log" 2>&1 || { cat "$T/create2.log"; exit 1; }
ssh -i "$STORE/machines/n2/id_ecdsa" -p "\$($B inspect -f '{{.Driver.SSHPort}}' n2)" \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
    -o LogLevel=ERROR root@127.0.0.1 'set -e; grep " /sys/fs/cgroup " /proc/mounts
        cat /proc/self/cgroup; mkdir /sys/fs/cgroup/berth; echo made; rmdir /sys/fs/cgroup/berth'
id=\$($B inspect -f '{{.Driver.MachineID}}' n2)
[ -d /sys/fs/cgroup/berth-local/n2-\$id/init ] && echo "host: berth-local/n2/init"
$B stop n2 >/dev/null 2>&1
[ ! -d /sys/fs/cgroup/berth-local/n2-\$id ] && echo "host: gone after stop"
$B rm -y n2 >/dev/null 2>&1
[ ! -d /sys/fs/cgroup/berth-local/n2-\$id ] && echo "host: gone after rm"
EOF
out=$(unshare -m --propagation private bash "$T/v2.sh") || fail "cgroup v2 layout: $out"
assert_contains "$out" "cgroup2 /sys/fs/cgroup cgroup2"
assert_contains "$out" "0::/init"
assert_contains "$out" "made"
assert_contains "$out" "host: berth-local/n2/init"
assert_contains "$out" "host: gone after stop"
assert_contains "$out" "host: gone after rm"
echo "local nested: ok"
