#!/usr/bin/env bash
# make bench, SSH part: berth's libssh2 client against OpenSSH's, side by side in one run,
# on the throwaway host of tests/integration/hostns.sh (its own namespaces, a real sshd).
#   A. `berth ssh h1 true` against `ssh -i MACHINE_KEY root@ADDR true`: medians, p90, ratio.
#   B. `berth create -d generic` until berthd answers over mutual TLS (berthd uploaded each
#      time: the host is purged between runs), and `berth provision` with berthd in place.
# Results go to build/bench/ssh.md and stdout. No figure is asserted.
# Knobs: BENCH_N (20 runs per SSH case), BENCH_CREATE_N (5 creates).
if [ -z "${BERTH_TEST_NETNS:-}" ]; then
    exec unshare --net --mount -- env BERTH_TEST_NETNS=1 bash "$0" "$@"
fi
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/timing.sh"
source "$(dirname "$0")/../integration/hostns.sh"

N=${BENCH_N:-20}
CREATE_N=${BENCH_CREATE_N:-5}
RESULTS=$TOP/build/bench/ssh.md
mkdir -p "$(dirname "$RESULTS")"

create() {
    $BERTH create -d generic --generic-ip-address "$HOST_ADDR" --generic-ssh-key "$USER_KEY" \
        --engine-opt "cgroup-parent=$HOST_CGROUP_PARENT" "$@"
}

host_start
: >"$T/create.ms"
for i in $(seq "$CREATE_N"); do
    ms create "c$i" >>"$T/create.ms"
    [ "$i" = "$CREATE_N" ] || $BERTH rm --purge -y "c$i" >/dev/null 2>&1 || fail "rm --purge c$i"
done
: >"$T/provision.ms"
for i in $(seq "$CREATE_N"); do
    ms $BERTH provision "c$CREATE_N" >>"$T/provision.ms"
done

key=$BERTH_STORAGE_PATH/machines/c$CREATE_N/id_ecdsa
openssh() {
    ssh -i "$key" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p 22 "root@$HOST_ADDR" true
}
: >"$T/berth.ms"
: >"$T/openssh.ms"
for i in $(seq "$N"); do # interleaved, so both see the same conditions
    ms $BERTH ssh "c$CREATE_N" true >>"$T/berth.ms"
    ms openssh >>"$T/openssh.ms"
done

read -r b_med b_p90 <<<"$(stats "$T/berth.ms")"
read -r o_med o_p90 <<<"$(stats "$T/openssh.ms")"
read -r c_med c_p90 <<<"$(stats "$T/create.ms")"
read -r p_med p_p90 <<<"$(stats "$T/provision.ms")"
size=$(stat -c %s "$TOP/build/lib/berth/berthd-static")
{
    echo "## SSH and provisioning ($(date -u +%Y-%m-%d), $(nproc) CPUs)"
    echo
    echo "| case | runs | median ms | p90 ms |"
    echo "| --- | --- | --- | --- |"
    echo "| \`berth ssh h1 true\` (libssh2) | $N | $b_med | $b_p90 |"
    echo "| \`ssh -i KEY root@ADDR true\` (OpenSSH $(ssh -V 2>&1 | cut -d, -f1)) | $N | $o_med | $o_p90 |"
    echo "| \`create -d generic\` to TLS-ready (berthd $((size / 1000000)) MB uploaded) | $CREATE_N | $c_med | $c_p90 |"
    echo "| \`provision\` (berthd already there) | $CREATE_N | $p_med | $p_p90 |"
    echo
    awk -v b="$b_med" -v o="$o_med" 'BEGIN { printf "berth ssh / OpenSSH (medians): %.2f\n", b / o }'
} | tee "$RESULTS"
$BERTH rm --purge -y "c$CREATE_N" >/dev/null 2>&1 || true
