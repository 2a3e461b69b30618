# Helpers for the berthd networking tests. Source it first thing: the test re-executes itself
# in a network and mount namespace of its own (berthd's bridges, veths, nftables tables and
# published ports live there and vanish with it), then sources lib.sh and berthd_env.sh.
# CLIENT_PID is a second namespace ("another host"), linked to the test's by a veth pair:
# the test's side is 10.123.0.1/24 (vhost), the client's 10.123.0.2/24 (vcli); `cli CMD`
# runs CMD there.
OWN_NETNS=1
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/berthd_env.sh"

for tool in ip nft nsenter curl; do
    command -v $tool >/dev/null || fail "$tool is missing (see tests/deps.sh check)"
done

bg unshare --net -- sleep 100000
CLIENT_PID=$BG_PID
_own_netns() { [ "$(readlink "/proc/$CLIENT_PID/ns/net")" != "$(readlink /proc/self/ns/net)" ]; }
wait_for 5 "the client namespace" _own_netns
ip link add vhost type veth peer name vcli netns "/proc/$CLIENT_PID/ns/net"
ip addr add 10.123.0.1/24 dev vhost
ip link set vhost up
cli() {
    nsenter -t "$CLIENT_PID" -n -- "$@"
}
cli ip link set lo up
cli ip addr add 10.123.0.2/24 dev vcli
cli ip link set vcli up

# images: bb (busybox), and the seed's pair: phoenix-mongo exposes 27017 and sets an
# environment variable; phoenix-web is plain busybox.
net_images() {
    busybox_tar "$T/bb.tar"
    dk import "$T/bb.tar" bb >/dev/null || fail "import bb"
    dk import --change 'EXPOSE 27017' --change 'ENV MONGO_VERSION=3.2.1' "$T/bb.tar" \
        phoenix-mongo >/dev/null || fail "import phoenix-mongo"
    dk tag bb phoenix-web || fail "tag phoenix-web"
}

# ip_of CTR [NETWORK]: the container's address (on NETWORK, default bridge).
ip_of() {
    dk inspect -f "{{(index .NetworkSettings.Networks \"${2:-bridge}\").IPAddress}}" "$1"
}

# Counts of what berthd's networking leaves in the test's namespace.
count_veths() { ip -o link show | grep -c ': vb' || true; }
# wait_veths N: the kernel destroys a stopped container's veth pair with its namespace, a
# moment later: wait (up to 10 s) until N are left.
_veths_are() { [ "$(count_veths)" = "$1" ]; }
wait_veths() {
    local deadline=$((SECONDS + 10))
    until _veths_are "$1"; do
        [ $SECONDS -lt $deadline ] || fail "veths: expected $1, got $(count_veths): $(ip -o link show | grep ': vb')"
        sleep 0.05
    done
}
count_netns() { ls "$T/exec/netns" 2>/dev/null | wc -l; }
count_rules() { nft -a list ruleset 2>/dev/null | grep -c 'comment "berth:' || true; }
count_listeners() {
    # sockets berthd listens on besides its API socket: TCP and UDP in this namespace
    ss -Hltnup 2>/dev/null | grep -c "pid=$BERTHD_PID," || true
}
