#!/usr/bin/env bash
# 200 cycles of `docker run -d -p ...` then `docker rm -f` leave nothing behind: no veth, no
# address, no rule, no lease, no network namespace, no listening socket, no process. The
# default bridge's addresses come from a /25 (126 of them): a leaked lease would run it dry
# long before the 200th cycle.
source "$(dirname "$0")/netns_env.sh"

start_berthd --bip 172.30.0.1/16 --fixed-cidr 172.30.1.0/25
export DOCKER_HOST=unix://$SOCK
net_images
CYCLES=${NETLEAK_CYCLES:-200}

addrs() { ip -o addr show | wc -l; }
# one cycle first: the bridge gets its IPv6 link-local address once a port joins it
dk rm -f "$(dk run -d -p 80 bb sleep 1000)" >/dev/null || fail "warm-up cycle"
veths0=$(count_veths) addrs0=$(addrs) rules0=$(count_rules) listen0=$(count_listeners)
for i in $(seq 1 "$CYCLES"); do
    id=$(dk run -d -p 80 -p 5353:53/udp bb sleep 1000) || fail "cycle $i: run"
    case "$(ip_of "$id")" in 172.30.1.*) ;; *) fail "cycle $i: address $(ip_of "$id") not from --fixed-cidr" ;; esac
    dk rm -f "$id" >/dev/null || fail "cycle $i: rm -f"
done
wait_veths "$veths0"
assert_eq "$(addrs)" "$addrs0" "addresses after $CYCLES cycles"
assert_eq "$(count_rules)" "$rules0" "rules after $CYCLES cycles"
assert_eq "$(count_listeners)" "$listen0" "listening sockets after $CYCLES cycles"
assert_eq "$(count_netns)" 0 "network namespaces after $CYCLES cycles"
assert_eq "$(test_pids | wc -l)" 0 "processes after $CYCLES cycles"
assert_eq "$(dk network inspect -f '{{len .Containers}}' bridge)" 0 "endpoints on the bridge"
finish
echo "PASS test_berthd_netleak ($CYCLES cycles)"
