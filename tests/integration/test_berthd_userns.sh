#!/usr/bin/env bash
# berthd --userns-remap with the docker CLI: containers run in a user namespace of their own
# whose root is the first id of a test user's subordinate ranges. The test's mount namespace
# (lib.sh's unshare) gets a copy of /etc with that user and its ranges bound over the real
# one, so nothing of it reaches the host. Checked: id -u is 0 inside while the host sees the
# range's first uid, the image's files belong to the container's root, /etc/hosts and the root
# file system are writable, a bind mount gets the mapped owner, a named volume is the mapped
# root's, exec joins the same user namespace, logs, a published port, container to container
# traffic, --userns=host and dockerd's refusals, docker info; then berthd without the flag runs
# containers as real root again. Needs root, busybox-static, curl and the docker CLI.
OWN_NETNS=1 # berthd makes its bridge and rules: not on the host
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/berthd_env.sh"

command -v curl >/dev/null || fail "curl is missing"
export DOCKER_HOST=unix://$SOCK
RUSER=berthtest-remap
RUID=4242
FIRST=300000
COUNT=65536

# --- a remap user in this test's own /etc -------------------------------------------------
cp -a /etc "$T/etc"
echo "$RUSER:x:$RUID:$RUID::/nonexistent:/bin/false" >>"$T/etc/passwd"
echo "$RUSER:x:$RUID:" >>"$T/etc/group"
echo "$RUSER:$FIRST:$COUNT" >>"$T/etc/subuid"
echo "$RUSER:$FIRST:$COUNT" >>"$T/etc/subgid"
mount --bind "$T/etc" /etc
grep -q "^$RUSER:" /etc/subuid || fail "the test's /etc is not in place"

echo "{}" >"$T/daemon.json"
# A user without ranges: berthd refuses to start and says what to add.
rc=0
timeout 20 "$BERTHD" daemon -H "unix://$T/x.sock" --data-root "$T/xdata" --exec-root "$T/xexec" \
    --pidfile "$T/x.pid" --config-file "$T/daemon.json" --userns-remap nobody >"$T/x.out" 2>&1 ||
    rc=$?
[ "$rc" != 0 ] || fail "berthd started with a user that has no subordinate ids"
assert_contains "$(cat "$T/x.out")" "/etc/subuid has no range for nobody"

start_berthd --userns-remap "$RUSER"
busybox_tar "$T/busybox.tar"
dk import --change 'CMD ["sh"]' "$T/busybox.tar" busybox:latest >/dev/null || fail "import"

assert_contains "$(dk info --format '{{json .SecurityOptions}}')" "name=userns" "docker info"

# --- identity ------------------------------------------------------------------------------
assert_eq "$(dk run --rm busybox id -u)" 0 "id -u inside"
assert_eq "$(dk run --rm busybox id -g)" 0 "id -g inside"
assert_eq "$(dk run --rm busybox stat -c %u:%g /bin/busybox /etc/passwd / | tr '\n' ' ')" \
    "0:0 0:0 0:0 " "the image's files belong to the container's root"
dk run -d --name s1 busybox sleep 300 >/dev/null || fail "run s1"
PID=$(dk inspect -f '{{.State.Pid}}' s1)
assert_eq "$(awk '/^Uid:/ {print $2, $3, $4, $5}' /proc/$PID/status)" \
    "$FIRST $FIRST $FIRST $FIRST" "the container's uid on the host"
assert_eq "$(awk '/^Gid:/ {print $2}' /proc/$PID/status)" "$FIRST" "the container's gid on the host"
assert_eq "$(echo $(cat /proc/$PID/uid_map))" "0 $FIRST $COUNT" "uid_map"
assert_eq "$(echo $(cat /proc/$PID/gid_map))" "0 $FIRST $COUNT" "gid_map"
[ "$(readlink /proc/$PID/ns/user)" != "$(readlink /proc/self/ns/user)" ] ||
    fail "the container is in the host's user namespace"

# --- writing --------------------------------------------------------------------------------
out=$(dk run --rm busybox sh -c 'echo "10.9.8.7 extra" >>/etc/hosts && grep -c extra /etc/hosts &&
    echo x >/etc/hostname && touch /newfile /bin/busybox && mkdir -p /var/new && echo ok') ||
    fail "writing in a remapped container: $out"
assert_contains "$out" "ok"
dk exec s1 sh -c 'echo data >/rootfile' || fail "write in the root file system of s1"
UPPER=$(dk inspect -f '{{.GraphDriver.Data.UpperDir}}' s1)
assert_eq "$(stat -c %u:%g "$UPPER/rootfile")" "$FIRST:$FIRST" "a new file's owner in the upper dir"

mkdir "$T/bind"
chown "$FIRST:$FIRST" "$T/bind"
dk run --rm -v "$T/bind:/b" busybox sh -c 'echo hi >/b/f' || fail "write into a bind mount"
assert_eq "$(stat -c %u:%g "$T/bind/f")" "$FIRST:$FIRST" "owner of a file made in a bind mount"
dk run --rm -v "$T/bind:/b:ro" busybox cat /b/f >/dev/null || fail "a read-only bind mount"

out=$(dk run --rm -v vol1:/data busybox sh -c 'touch /data/x && stat -c %u /data/x') ||
    fail "a named volume: $out"
assert_eq "$out" 0 "a file in a named volume, inside"
VDATA=$(dk volume inspect -f '{{.Mountpoint}}' vol1)
assert_eq "$(stat -c %u:%g "$VDATA" "$VDATA/x" | tr '\n' ' ')" "$FIRST:$FIRST $FIRST:$FIRST " \
    "a named volume's owner on the host"

# --- exec -----------------------------------------------------------------------------------
assert_eq "$(dk exec s1 id -u)" 0 "exec: id -u"
assert_eq "$(dk exec s1 readlink /proc/self/ns/user)" "$(readlink /proc/$PID/ns/user)" \
    "exec joins the container's user namespace"
dk exec -d s1 sleep 123 || fail "exec -d"
wait_for 10 "the exec'd sleep" pgrep -f '^sleep 123$'
EPID=$(pgrep -f '^sleep 123$' | head -1)
assert_eq "$(awk '/^Uid:/ {print $2}' /proc/$EPID/status)" "$FIRST" "exec: uid on the host"

# --- logs, ports, networking -----------------------------------------------------------------
dk run --name l1 busybox echo hello-from-remap >/dev/null || fail "run l1"
assert_eq "$(dk logs l1)" "hello-from-remap" "docker logs"

dk run -d --name web -p 8089:80 busybox httpd -f -p 80 -h /etc >/dev/null || fail "run web"
wait_for 20 "httpd through a published port" curl -sf -o /dev/null --max-time 5 \
    http://127.0.0.1:8089/hostname
WEB_IP=$(dk inspect -f '{{.NetworkSettings.IPAddress}}' web)
out=$(dk run --rm busybox wget -q -O - "http://$WEB_IP/hostname") ||
    fail "container to container: $out"
assert_eq "$out" "$(dk inspect -f '{{.Config.Hostname}}' web)" "container to container"

# --- opting out, refusals ----------------------------------------------------------------------
dk run -d --name h1 --userns=host busybox sleep 300 >/dev/null || fail "run --userns=host"
HPID=$(dk inspect -f '{{.State.Pid}}' h1)
assert_eq "$(awk '/^Uid:/ {print $2}' /proc/$HPID/status)" 0 "--userns=host: uid on the host"
assert_eq "$(readlink /proc/$HPID/ns/user)" "$(readlink /proc/self/ns/user)" \
    "--userns=host: the host's user namespace"
expect_fail dk run --rm --privileged busybox true
assert_contains "$(dk run --rm --privileged busybox true 2>&1 || true)" \
    "privileged mode is incompatible with user namespaces"
dk run --rm --privileged --userns=host busybox true || fail "--privileged --userns=host"
assert_contains "$(dk run --rm --network host busybox true 2>&1 || true)" \
    "Cannot share the host's network namespace"

# --- without the flag, as before -----------------------------------------------------------
ids=$(dk ps -aq)
dk rm -f $ids >/dev/null
stop_berthd
start_berthd
assert_eq "$(dk info --format '{{json .SecurityOptions}}')" "[]" "docker info without remap"
dk run -d --name plain busybox sleep 300 >/dev/null || fail "run plain"
PPID_=$(dk inspect -f '{{.State.Pid}}' plain)
assert_eq "$(awk '/^Uid:/ {print $2}' /proc/$PPID_/status)" 0 "without remap: uid on the host"
assert_eq "$(readlink /proc/$PPID_/ns/user)" "$(readlink /proc/self/ns/user)" \
    "without remap: the host's user namespace"
assert_eq "$(dk run --rm busybox id -u)" 0 "without remap: id -u"

dk volume rm vol1 >/dev/null || fail "volume rm"
finish
umount /etc
echo "PASS: userns"
