#!/usr/bin/env bash
# The generic driver end to end against a throwaway host (hostns.sh: its own mount, pid,
# uts and network namespaces, its own /etc, /var, /run, a real OpenSSH sshd), reached from
# this script's own network namespace over a veth pair: provisioning (busybox/sysv path),
# docker over mutual TLS, `berth ssh` (streams, exit status, a PTY driven through tmux),
# `berth scp` (a tree with symlinks, modes and a 50 MB file, then -d), `berth mount`, a
# changed host key, a berthd that cannot start, an unreachable host, provision, upgrade
# with a running container, regenerate-certs, rm and rm --purge.
# A user with password-less sudo is provisioned too; one without is refused clearly.
# Needs root, openssh-server, openssh-client, sudo, tmux, sshfs, busybox-static, docker CLI.
if [ -z "${BERTH_TEST_NETNS:-}" ]; then
    exec unshare --net --mount -- env BERTH_TEST_NETNS=1 bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hostns.sh"

export DOCKER_CONFIG=$T/dockercfg
unset DOCKER_HOST DOCKER_TLS_VERIFY DOCKER_CERT_PATH DOCKER_CONTEXT
export BERTH_SSH_TIMEOUT=20
TM="tmux -S $T/tmux.sock"
M=$BERTH_STORAGE_PATH/machines

for tool in tmux sshfs docker sudo; do
    command -v $tool >/dev/null || fail "$tool is missing (see tests/deps.sh check)"
done
[ -x /bin/busybox ] || fail "/bin/busybox is missing (apt-get install busybox-static)"
[ -f "$TOP/build/lib/berth/berthd-static" ] || fail "build/lib/berth/berthd-static is missing (make all)"

host_start
# The host's containers must go through berthd before the host dies (their cgroups are
# shared); tmux and sshfs belong to this script.
trap 'rc=$?; set +e; $TM kill-server 2>/dev/null; fusermount3 -u "$T/mnt" 2>/dev/null
    rm_containers; host_stop; (exit $rc); _cleanup' EXIT

rm_containers() {
    local ids
    [ -n "${DOCKER_HOST:-}" ] || return 0
    ids=$(timeout 20 docker ps -aq 2>/dev/null) || return 0
    [ -z "$ids" ] || timeout 30 docker rm -f $ids >/dev/null 2>&1
}

create() {
    $BERTH create -d generic --generic-ip-address "$HOST_ADDR" --generic-ssh-key "$USER_KEY" \
        --engine-opt "cgroup-parent=$HOST_CGROUP_PARENT" "$@"
}

# --- failures first: an unreachable host, a berthd that cannot start ---------------------

# Frames for this address go to a MAC nobody has: no answer at all, not even a refusal.
ip neigh replace 10.203.17.99 lladdr 02:00:00:00:00:99 dev vc nud permanent
start=$SECONDS
expect_fail env BERTH_SSH_TIMEOUT=3 $BERTH create -d generic --generic-ip-address 10.203.17.99 \
    --generic-ssh-key "$USER_KEY" far
took=$((SECONDS - start))
[ $took -le 6 ] || fail "unreachable host: took ${took}s with a 3s timeout"
assert_contains "$ERR" "machine far: ssh 10.203.17.99:22: connect: timed out after 3s (step: waiting for SSH)"
assert_contains "$ERR" "berth provision far" "the way out after a failed provisioning"
ls_far=$($BERTH ls --filter name=far --format '{{.State}}: {{.Error}}')
assert_contains "$ls_far" "Error: " "ls state of an unreachable host"
assert_contains "$ls_far" "ssh port 10.203.17.99:22: no answer within 3s" "ls error column"
$BERTH rm -y far >/dev/null

expect_fail create --engine-opt log-level=bogus broken
assert_contains "$ERR" "machine broken: berthd did not start (step: start berthd)"
assert_contains "$ERR" "tried '/etc/init.d/berthd restart'"
assert_contains "$ERR" "Last lines of /var/log/berthd.log on the host:"
assert_contains "$ERR" 'log level "bogus": use debug' "berthd's own complaint, from its log"
$BERTH rm -y broken >/dev/null
hx /etc/init.d/berthd stop >/dev/null

# --- create: provisioning and docker over mutual TLS -----------------------------------------

create h1 2>"$T/create.err" || fail "create h1: $(cat "$T/create.err")"
for want in "Waiting for SSH on $HOST_ADDR:22" "Provisioning h1: Debian" "busybox/sysv init" \
    "answers on tcp://$HOST_ADDR:2376 over mutual TLS"; do
    assert_contains "$(cat "$T/create.err")" "$want" "create progress"
done
[ "$(stat -c %a "$M/h1/id_ecdsa")" = 600 ] || fail "machine key is not 0600"
[ "$(hx stat -c %a /etc/berth/server-key.pem)" = 600 ] || fail "server key on the host is not 0600"
assert_contains "$(hx cat /etc/berth/daemon.json)" "\"cgroup-parent\": \"$HOST_CGROUP_PARENT\"" \
    "--engine-opt in daemon.json"
# The recorded host key is one of the host's: the same type and blob as its .pub file.
ktype=$(cut -d' ' -f1 "$M/h1/known_host")
case $ktype in
ssh-ed25519) hostkey=$H/keys/ssh_host_ed25519_key ;;
ecdsa-sha2-nistp256) hostkey=$H/keys/ssh_host_ecdsa_key ;;
*) fail "unexpected recorded host key type $ktype" ;;
esac
assert_eq "$(cat "$M/h1/known_host")" "$(cut -d' ' -f1,2 "$hostkey.pub")" "recorded host key"
grep -qF "$(cut -d' ' -f2 "$M/h1/id_ecdsa.pub")" "$H/root/.ssh/authorized_keys" ||
    fail "the machine key is not in the host's authorized_keys"
# OpenSSH agrees: the .pub line is a valid key and the machine key logs in.
ssh-keygen -l -f "$M/h1/id_ecdsa.pub" >/dev/null || fail "ssh-keygen cannot read id_ecdsa.pub"
ssh -i "$M/h1/id_ecdsa" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR root@$HOST_ADDR true </dev/null ||
    fail "OpenSSH cannot log in with the machine key"

eval "$($BERTH env --shell bash h1)"
assert_eq "$DOCKER_HOST" "tcp://$HOST_ADDR:2376"
v=$(timeout 30 docker version --format '{{.Server.Version}}') || fail "docker version over mutual TLS"
assert_eq "$v" "$("$TOP/build/lib/berth/berthd-static" --version | sed -n 's/^berthd version \([^,]*\),.*/\1/p')"
mkdir -p "$T/rootfs/bin"
cp /bin/busybox "$T/rootfs/bin/busybox"
for applet in sh echo sleep cat true; do ln -s busybox "$T/rootfs/bin/$applet"; done
tar -C "$T/rootfs" -cf "$T/rootfs.tar" .
timeout 60 docker import "$T/rootfs.tar" busybox:latest >/dev/null || fail "docker import"
assert_eq "$(timeout 60 docker run --rm busybox echo hi)" "hi" "docker run on the machine"

# --- berth ssh -------------------------------------------------------------------------------

set +e
$BERTH ssh h1 sh -c 'echo out; echo err >&2; exit 7' </dev/null >"$T/out" 2>"$T/err"
rc=$?
set -e
assert_eq "$rc" 7 "remote exit status"
assert_eq "$(cat "$T/out")" "out" "remote stdout"
assert_eq "$(cat "$T/err")" "err" "remote stderr"
assert_eq "$($BERTH ssh h1 'echo $((6 * 7))' </dev/null)" 42 "one argument is a shell command line"
assert_contains "$($BERTH ssh h1 ls -la /etc/berth </dev/null)" "-rw------- 1 root root" \
    "options after the machine name go to the remote command"
assert_eq "$($BERTH ssh h1 echo --help </dev/null)" "--help"
assert_eq "$(echo piped | $BERTH ssh h1 cat)" "piped" "stdin reaches the remote command"
set +e
$BERTH ssh nosuch true </dev/null 2>"$T/err"
rc=$?
set -e
assert_eq "$rc" 255 "berth ssh's own failure"
assert_contains "$(cat "$T/err")" "machine nosuch does not exist"

# An interactive shell on a terminal: tmux is the terminal, the test types into it.
pane() { $TM capture-pane -p -t ssh; }
pane_has() { pane | grep -qF -- "$1"; }
bg $TM -D # in the foreground: the server is this script's child, reaped at exit
wait_for 10 "the tmux server" test -S "$T/tmux.sock"
$TM new-session -d -s ssh -x 100 -y 30 "$BERTH ssh h1; echo \$? >$T/tmux.rc; sleep 600"
wait_for 15 "a shell prompt on h1" pane_has "root@throwaway"
$TM send-keys -t ssh 'echo sum=$((40 + 2)) $(tty); stty size' Enter
wait_for 10 "the typed command's output" pane_has "sum=42 /dev/pts/"
wait_for 10 "the terminal size 30x100" pane_has "30 100"
$TM resize-window -t ssh -x 80 -y 20
$TM send-keys -t ssh 'clear; stty size' Enter
wait_for 10 "the new size after SIGWINCH" pane_has "20 80"
$TM send-keys -t ssh 'exit 3' Enter
wait_for 10 "berth ssh to end" test -s "$T/tmux.rc"
assert_eq "$(cat "$T/tmux.rc")" 3 "interactive shell's exit status"

# --- berth scp and mount ------------------------------------------------------------------

S=$T/tree
mkdir -p "$S/sub/deeper" "$S/empty"
echo alpha >"$S/a"
printf 'beta\n' >"$S/sub/b"
: >"$S/sub/deeper/zero"
head -c 50000000 /dev/urandom >"$S/sub/big"
printf '#!/bin/sh\necho run\n' >"$S/run.sh"
chmod 0640 "$S/a"
chmod 0755 "$S/run.sh"
chmod 0600 "$S/sub/b"
chmod 0700 "$S/sub/deeper"
chmod 0444 "$S/sub/deeper/zero"
ln -s a "$S/link"
ln -s ../a "$S/sub/up"
ln -s /nowhere/at/all "$S/dangling"
touch -d @1500000000 "$S/a" "$S/sub/b"
touch -d @1600000000 "$S/sub" "$S/empty"
# What must survive the round trip: type, mode, size, mtime (seconds) and link target.
tree_meta() {
    (cd "$1" && find . -mindepth 1 -printf '%y %m %s %l %p\n' | sort &&
        find . -mindepth 1 ! -type l -printf '%TY%Tm%Td%TH%TM%TS %p\n' | sed 's/\.[0-9]*//' | sort)
}
$BERTH scp -r "$S" h1:/root/ || fail "scp -r to the machine"
[ "$(hx readlink /root/tree/link)" = a ] || fail "symlink not kept on the machine"
mkdir "$T/back"
$BERTH scp -r h1:tree "$T/back/" || fail "scp -r from the machine"
assert_eq "$(tree_meta "$T/back/tree")" "$(tree_meta "$S")" "tree metadata after the round trip"
assert_eq "$(cd "$T/back/tree" && find . -type f -exec sha256sum {} + | sort)" \
    "$(cd "$S" && find . -type f -exec sha256sum {} + | sort)" "file contents after the round trip"

echo changed >>"$S/a"             # size differs
touch -d @1700000000 "$S/sub/b"   # mtime differs
echo new >"$S/sub/new"            # missing on the machine
$BERTH -D scp -r -d "$S" h1:/root/ 2>"$T/delta.err" || fail "scp -d: $(cat "$T/delta.err")"
assert_eq "$(grep -c '^scp: copy ' "$T/delta.err")" 3 "files copied by -d"
assert_contains "$(cat "$T/delta.err")" "scp: 3 files copied"
assert_contains "$(cat "$T/delta.err")" "3 unchanged files skipped"
assert_eq "$(hx sha256sum /root/tree/a /root/tree/sub/b /root/tree/sub/new | cut -d' ' -f1)" \
    "$(sha256sum "$S/a" "$S/sub/b" "$S/sub/new" | cut -d' ' -f1)" "-d copied the changes"
assert_eq "$(hx stat -c %Y /root/tree/sub/b)" 1700000000 "-d kept the new mtime"

mkdir "$T/mnt"
$BERTH mount h1:/root/tree "$T/mnt" || fail "berth mount (sshfs)"
assert_eq "$(cat "$T/mnt/sub/new")" "new" "a file read through the mount"
echo written-here >"$T/mnt/from-mount"
assert_eq "$(hx cat /root/tree/from-mount)" "written-here" "a file written through the mount"
$BERTH mount -u "$T/mnt" || fail "berth mount -u"
! mountpoint -q "$T/mnt" || fail "still mounted after mount -u"

# --- provision, upgrade with a running container, regenerate-certs ---------------------------

$BERTH provision h1 2>"$T/prov.err" || fail "provision: $(cat "$T/prov.err")"
! grep -q "Copying berthd" "$T/prov.err" || fail "provision re-sent an identical berthd"
timeout 30 docker version >/dev/null || fail "docker version after provision"

cid=$(timeout 60 docker run -d busybox sleep 600) || fail "docker run -d"
pid_before=$(timeout 30 docker inspect -f '{{.State.Pid}}' "$cid")
inode_before=$(hx stat -c %i /usr/local/bin/berthd)
$BERTH upgrade h1 2>"$T/up.err" || fail "upgrade: $(cat "$T/up.err")"
assert_contains "$(cat "$T/up.err")" "Copying berthd"
[ "$(hx stat -c %i /usr/local/bin/berthd)" != "$inode_before" ] || fail "upgrade did not replace berthd"
assert_eq "$(timeout 30 docker inspect -f '{{.State.Running}} {{.State.Pid}}' "$cid")" \
    "true $pid_before" "the container across the upgrade"
assert_eq "$(timeout 30 docker exec "$cid" echo alive)" "alive" "exec after the upgrade"
timeout 30 docker rm -f "$cid" >/dev/null

serial_before=$(openssl x509 -in "$M/h1/server.pem" -noout -serial)
$BERTH regenerate-certs -f h1 2>/dev/null || fail "regenerate-certs"
[ "$(openssl x509 -in "$M/h1/server.pem" -noout -serial)" != "$serial_before" ] ||
    fail "regenerate-certs kept the old certificate"
assert_eq "$(hx sha256sum /etc/berth/server.pem | cut -d' ' -f1)" \
    "$(sha256sum "$M/h1/server.pem" | cut -d' ' -f1)" "the new certificate on the host"
timeout 30 docker version >/dev/null || fail "docker version after regenerate-certs"
# A certificate berth re-issues by itself (here: it went missing) is installed at once.
rm "$M/h1/server.pem"
eval "$($BERTH env --shell bash h1 2>"$T/env.err")" || fail "env: $(cat "$T/env.err")"
assert_contains "$(cat "$T/env.err")" "Installing the new server certificate of h1"
assert_eq "$(hx sha256sum /etc/berth/server.pem | cut -d' ' -f1)" \
    "$(sha256sum "$M/h1/server.pem" | cut -d' ' -f1)" "the re-issued certificate on the host"
timeout 30 docker version >/dev/null || fail "docker version with the re-issued certificate"

# --- a changed host key ------------------------------------------------------------------

old_fp=$(ssh-keygen -l -f "$hostkey.pub" | cut -d' ' -f2)
rm -f "$H"/keys/ssh_host_*
ssh-keygen -q -t ed25519 -N '' -f "$H/keys/ssh_host_ed25519_key"
ssh-keygen -q -t ecdsa -N '' -f "$H/keys/ssh_host_ecdsa_key"
new_fp=$(ssh-keygen -l -f "$hostkey.pub" | cut -d' ' -f2)
host_sshd_restart
expect_fail $BERTH ssh h1 true
assert_contains "$ERR" "machine h1: ssh $HOST_ADDR:22: host key changed: recorded $ktype $old_fp"
assert_contains "$ERR" "the host now presents $ktype $new_fp"
assert_contains "$ERR" "berth provision --accept-host-key h1"
expect_fail $BERTH scp h1:tree/a "$T/a.copy"
assert_contains "$ERR" "host key changed"
$BERTH ssh --accept-host-key h1 true </dev/null 2>/dev/null || fail "ssh --accept-host-key"
$BERTH ssh h1 true </dev/null || fail "ssh with the accepted key"

# --- rm leaves the host alone, rm --purge removes what berth installed -------------------

$BERTH rm -y h1 >/dev/null
[ ! -d "$M/h1" ] || fail "rm left the machine directory"
hx /etc/init.d/berthd status >/dev/null || fail "rm stopped berthd on the host"
hx test -x /usr/local/bin/berthd || fail "rm removed berthd from the host"

create h2 2>/dev/null || fail "create h2 on the same host"
eval "$($BERTH env --shell bash h2)"
cid=$(timeout 60 docker run -d busybox sleep 600)
expect_fail $BERTH rm --purge -y h2
assert_contains "$ERR" "1 container still runs on the host"
[ -d "$M/h2" ] || fail "a refused purge removed the machine"
timeout 30 docker rm -f "$cid" >/dev/null
h2key=$(cut -d' ' -f2 "$M/h2/id_ecdsa.pub")
$BERTH rm --purge -y h2 >/dev/null 2>&1 || fail "rm --purge"
for f in /usr/local/bin/berthd /etc/berth /etc/init.d/berthd /var/log/berthd.log /run/berth; do
    ! hx test -e $f || fail "rm --purge left $f on the host"
done
[ -z "$(hx pgrep -x berthd)" ] || fail "berthd still runs after rm --purge"
hx test -d /var/lib/berth || fail "rm --purge removed /var/lib/berth (data stays)"
! grep -qF "$h2key" "$H/root/.ssh/authorized_keys" || fail "rm --purge left h2's key in authorized_keys"
# The user's own key stays, and so do the keys of machines removed without --purge.
assert_eq "$(grep -c . "$H/root/.ssh/authorized_keys")" 3 "keys left in authorized_keys"
grep -q test-user "$H/root/.ssh/authorized_keys" || fail "rm --purge removed the user's own key"

# --- a user with password-less sudo, and one without -------------------------------------

host_add_user deploy sudo
host_add_user plain
create --generic-ssh-user deploy hs 2>"$T/sudo.err" || fail "create as a sudo user: $(cat "$T/sudo.err")"
assert_contains "$(cat "$T/sudo.err")" "as a sudo user"
[ "$(hx stat -c %U /usr/local/bin/berthd)" = root ] || fail "berthd installed through sudo is not root's"
grep -qF "$(cut -d' ' -f2 "$M/hs/id_ecdsa.pub")" "$H/home/deploy/.ssh/authorized_keys" ||
    fail "the machine key is not in deploy's authorized_keys"
eval "$($BERTH env --shell bash hs)"
timeout 30 docker version >/dev/null || fail "docker version on a machine provisioned through sudo"
$BERTH rm --purge -y hs >/dev/null 2>&1 || fail "rm --purge through sudo"
! hx test -e /usr/local/bin/berthd || fail "rm --purge through sudo left berthd"
expect_fail create --generic-ssh-user plain hp
assert_contains "$ERR" "user plain is not root and cannot use sudo without a password"
assert_contains "$ERR" "(step: detect the host)"
$BERTH rm -y hp >/dev/null
unset DOCKER_HOST

# Nothing landed outside the throwaway host.
for f in /usr/local/bin/berthd /etc/berth /etc/init.d/berthd /var/log/berthd.log; do
    [ ! -e "$f" ] || fail "$f exists outside the throwaway host"
done
echo ok
