# A throwaway host for SSH tests, sourced after lib.sh by a script that already runs in
# its own network and mount namespaces (see test_generic_ssh.sh's first lines).
#
# The host has its own mount, pid, uts and network namespaces; its own /etc (an overlay on
# the real one, changes kept in $T), and /var, /run, /root, /tmp and /usr/local bound from
# directories in $T; a real OpenSSH sshd on $HOST_ADDR:22. A veth pair links it to the
# caller's network namespace ($CLIENT_ADDR). Everything it writes stays in $T, and killing
# its first process (done at exit through lib.sh's bg) ends its processes, mounts and veth.
# /home is the host's own too: host_add_user makes users there for the sudo cases.
#
#   host_start          create the host, start sshd, authorize $USER_KEY for root
#   hx CMD...           run CMD inside the host (all of its namespaces)
#   host_sshd_restart   stop sshd and start it again (after its host keys changed)
#   host_stop           kill the host (host_start makes it run at exit, before lib.sh's
#                       cleanup) and remove its containers' cgroups

HOST_ADDR=10.203.17.2
CLIENT_ADDR=10.203.17.1
HOST_NET=24
H=$T/host
USER_KEY=$T/user_ed25519

[ "$(id -u)" = 0 ] || fail "needs root (namespaces, mounts)"
[ -x /usr/sbin/sshd ] || fail "/usr/sbin/sshd is missing (apt-get install openssh-server)"
command -v ssh-keygen >/dev/null || fail "ssh-keygen is missing (apt-get install openssh-client)"
case "$T" in
/etc/* | /var/* | /run/* | /root/* | /usr/local/*) fail "\$T ($T) is hidden inside the host" ;;
esac

hx() {
    nsenter --target "$HOST_PID" --mount --uts --net --pid -- "$@"
}

_host_files() {
    mkdir -p "$H"/{etc.up,etc.work,var/log,var/lib,var/tmp,run/sshd,root/.ssh,tmp,usrlocal/bin,keys,home}
    chmod 700 "$H/root" "$H/root/.ssh"
    chmod 1777 "$H/tmp" "$H/var/tmp"
    ssh-keygen -q -t ed25519 -N '' -f "$H/keys/ssh_host_ed25519_key"
    ssh-keygen -q -t ecdsa -N '' -f "$H/keys/ssh_host_ecdsa_key"
    ssh-keygen -q -t ed25519 -N '' -C test-user -f "$USER_KEY"
    cp "$USER_KEY.pub" "$H/root/.ssh/authorized_keys"
    chmod 600 "$H/root/.ssh/authorized_keys"
    cat >"$H/sshd_config" <<EOF
ListenAddress $HOST_ADDR:22
HostKey $H/keys/ssh_host_ed25519_key
HostKey $H/keys/ssh_host_ecdsa_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AuthorizedKeysFile .ssh/authorized_keys
PidFile /run/sshd.pid
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel VERBOSE
EOF
    # The host's own mounts. $T lives under /tmp, which the host replaces: bind $T into
    # the host's /tmp at the same path first, so every path under $T means the same inside.
    cat >"$H/init.sh" <<EOF
set -e
mount --make-rprivate /
mount -t overlay overlay -o lowerdir=/etc,upperdir=$H/etc.up,workdir=$H/etc.work /etc
mount --bind $H/var /var
mount --bind $H/run /run
mount --bind $H/root /root
mount --bind $H/usrlocal /usr/local
mount --bind $H/home /home
case "$T" in /tmp/*)
    mkdir -p "$H/tmp${T#/tmp}"
    mount --bind "$T" "$H/tmp${T#/tmp}" ;;
esac
mount --rbind $H/tmp /tmp
hostname throwaway
ip link set lo up
touch $H/ready
# pid 1 of the host: reap whatever gets orphaned here (berthd, sshd's children).
trap 'exit 0' TERM
while :; do sleep 3600 & wait \$! || true; done
EOF
}

_host_net() {
    ip link add vc type veth peer name vh netns "$HOST_PID"
    ip addr add "$CLIENT_ADDR/$HOST_NET" dev vc
    ip link set vc up
    ip link set lo up
    hx ip addr add "$HOST_ADDR/$HOST_NET" dev vh
    hx ip link set vh up
}

_sshd_answers() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$HOST_ADDR/22" 2>/dev/null
}

host_sshd_start() {
    hx /usr/sbin/sshd -f "$H/sshd_config" -E "$H/sshd.log" || fail "sshd did not start: $(tail -5 "$H/sshd.log")"
    wait_for 10 "sshd on $HOST_ADDR:22" _sshd_answers
}

host_sshd_restart() {
    hx sh -c 'kill $(cat /run/sshd.pid)'
    wait_for 10 "the old sshd to go" sh -c "! nsenter --target $HOST_PID --mount --pid test -e /run/sshd.pid"
    host_sshd_start
}

# host_add_user NAME [sudo]: a user who logs in with $USER_KEY, optionally allowed sudo
# without a password.
host_add_user() {
    # '*', not useradd's '!': without PAM, sshd refuses every login to a locked account.
    hx useradd -m -s /bin/sh -p '*' "$1"
    hx sh -c "mkdir -m 700 /home/$1/.ssh && cat >/home/$1/.ssh/authorized_keys && chown -R $1: /home/$1/.ssh" <"$USER_KEY.pub"
    if [ "${2:-}" = sudo ]; then
        hx sh -c "echo '$1 ALL=(ALL) NOPASSWD: ALL' >/etc/sudoers.d/$1 && chmod 440 /etc/sudoers.d/$1"
    fi
}

# unshare ignores SIGTERM while it waits for its child: kill the host's pid 1 instead,
# which takes every process of the host with it.
host_stop() {
    [ -n "${HOST_PID:-}" ] || return 0
    kill -9 "$HOST_PID" 2>/dev/null || true
    wait "$HOST_UNSHARE" 2>/dev/null || true
    HOST_PID=
    _host_cgroups
}

host_start() {
    trap 'rc=$?; set +e; host_stop; (exit $rc); _cleanup' EXIT
    _host_files
    # (unshare complains on stderr when its child is killed: that goes to init.log too.)
    bg unshare --mount --pid --uts --net --fork --kill-child --mount-proc bash "$H/init.sh" \
        2>"$H/init.log"
    HOST_UNSHARE=$BG_PID
    local deadline=$((SECONDS + 10))
    until [ -e "$H/ready" ]; do
        kill -0 "$HOST_UNSHARE" 2>/dev/null && [ $SECONDS -lt $deadline ] ||
            fail "the throwaway host did not come up: $(cat "$H/init.log")"
        sleep 0.05
    done
    HOST_PID=$(cat "/proc/$HOST_UNSHARE/task/$HOST_UNSHARE/children")
    HOST_PID=${HOST_PID%% *}
    [ -n "$HOST_PID" ] || fail "no first process in the throwaway host"
    _host_net
    host_sshd_start
}

# Containers berthd started in the host die with it, but their cgroups (in the shared
# /sys/fs/cgroup) stay: remove those named after the host's containers, and the parent
# $HOST_CGROUP_PARENT (give it to berthd with --engine-opt cgroup-parent=...).
HOST_CGROUP_PARENT=berth-hostns-$$
_host_cgroups() {
    local d name deadline=$((SECONDS + 10))
    for d in "$H"/run/berth/containers/*/ "$HOST_CGROUP_PARENT/"; do
        name=$(basename "$d")
        [ "$name" != "*" ] || continue
        while [ -n "$(find /sys/fs/cgroup -maxdepth 4 -type d -name "$name" 2>/dev/null)" ]; do
            find /sys/fs/cgroup -maxdepth 4 -depth -type d -name "$name" -exec rmdir {} + 2>/dev/null
            [ $SECONDS -lt $deadline ] || break
            sleep 0.1
        done
    done
}
