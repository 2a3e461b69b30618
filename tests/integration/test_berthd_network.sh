#!/usr/bin/env bash
# berthd networking through the docker CLI, hermetic: berthd runs in this test's own network
# namespace, a second namespace plays another host. Covers the default bridge (addresses,
# outbound NAT, published ports from the host, from another host and from a container), the
# four --net modes, user-defined networks with name and alias resolution through the embedded
# DNS server, connect/disconnect (also before start), --ip/--mac-address/--dns/--add-host,
# --link with Docker's variables and /etc/hosts (updated when the linked container restarts),
# network ls/inspect/rm/prune, and that a restart of berthd keeps containers' addresses.
# (PID 1 of a container ignores signals it has no handler for: `timeout` runs under sh, and
# not as its last command, which ash would exec in its place.)
source "$(dirname "$0")/netns_env.sh"

start_berthd
export DOCKER_HOST=unix://$SOCK
net_images

# --- the default bridge ------------------------------------------------------------------
out=$(dk network ls --format '{{.Name}} {{.Driver}}' | sort | tr '\n' ' ')
assert_eq "$out" "bridge bridge host host none null " "predefined networks"
ip -4 -o addr show berth0 | grep '172.17.0.1/16' >/dev/null || fail "berth0 has no 172.17.0.1/16: $(ip -4 -o addr)"

mkdir -p "$T/www"
echo "hello from web1" >"$T/www/index.html"
dk run -d --name web1 -p 8080:80 -v "$T/www:/www:ro" bb httpd -f -p 80 -h /www >/dev/null ||
    fail "run web1"
ip1=$(ip_of web1)
case "$ip1" in 172.17.*) ;; *) fail "web1 address: [$ip1]" ;; esac
assert_eq "$(dk inspect -f '{{.NetworkSettings.IPAddress}}' web1)" "$ip1" "top-level IPAddress"
assert_eq "$(dk inspect -f '{{.NetworkSettings.Gateway}}' web1)" "172.17.0.1" "gateway"
mac=$(dk inspect -f '{{.NetworkSettings.MacAddress}}' web1)
assert_eq "$mac" "$(printf '02:42:%02x:%02x:%02x:%02x' $(echo "$ip1" | tr . ' '))" "MAC from the address"
out=$(dk exec web1 ip -o link show eth0) || fail "exec ip link"
assert_contains "$out" "$mac" "eth0 has the MAC"
out=$(dk exec web1 ip route) || fail "exec ip route"
assert_contains "$out" "default via 172.17.0.1" "default route"
wait_for 10 "web1 to serve" curl -sf "http://$ip1/"
# published: from this host (loopback and its addresses), from another host, from a container
assert_eq "$(curl -s --max-time 5 http://127.0.0.1:8080/)" "hello from web1" "published, loopback"
assert_eq "$(curl -s --max-time 5 http://10.123.0.1:8080/)" "hello from web1" "published, host address"
assert_eq "$(cli curl -s --max-time 5 http://10.123.0.1:8080/)" "hello from web1" "published, from another host"
out=$(dk run --rm bb sh -c "timeout 5 wget -qO- http://172.17.0.1:8080/; exit \$?") || fail "published, from a container"
assert_eq "$out" "hello from web1" "published, from a container"
# container to container on the bridge, and outbound through NAT to "another host"
out=$(dk run --rm bb sh -c "timeout 5 wget -qO- http://$ip1/; exit \$?") || fail "container to container"
assert_eq "$out" "hello from web1" "container to container"
mkdir -p "$T/cliwww"
echo "outside" >"$T/cliwww/index.html"
bg nsenter -t "$CLIENT_PID" -n -- busybox httpd -f -p 9000 -h "$T/cliwww"
wait_for 10 "the client's server" cli curl -sf http://10.123.0.2:9000/
out=$(dk run --rm bb sh -c "timeout 5 wget -qO- http://10.123.0.2:9000/; exit \$?") || fail "outbound NAT"
assert_eq "$out" "outside" "outbound through NAT"
nft list table ip berth | grep masquerade >/dev/null || fail "no masquerade rule: $(nft list ruleset)"
# -P and docker port
id=$(dk run -d -P --expose 7000 --name pub bb sleep 1000) || fail "run -P"
port=$(dk port pub 7000/tcp | head -n1)
case "$port" in 0.0.0.0:49[0-8][0-9][0-9] | 0.0.0.0:49900) ;; *) fail "-P port: [$port]" ;; esac
dk rm -f pub >/dev/null

# --- --net host, none, container ---------------------------------------------------------
out=$(dk run --rm --net host bb ip -o link show) || fail "--net host"
assert_contains "$out" "vhost" "--net host sees the host's interfaces"
out=$(dk run --rm --net none bb sh -c 'ip -o link show | wc -l; ip -o link show') || fail "--net none"
assert_eq "$(echo "$out" | head -n1)" "1" "--net none has one interface: $out"
assert_contains "$out" ": lo:" "--net none has lo"
out=$(dk run --rm --net container:web1 bb sh -c 'ip -4 -o addr show eth0; timeout 5 wget -qO- http://127.0.0.1:80/') ||
    fail "--net container:web1"
assert_contains "$out" "$ip1/16" "container mode shares the address"
assert_contains "$out" "hello from web1" "container mode shares the ports"
assert_eq "$(dk inspect -f '{{.HostConfig.NetworkMode}}' "$(dk create --net none bb true)")" "none" "NetworkMode none"

# --- options: --ip, --mac-address, --dns, --add-host, --hostname ---------------------------
out=$(dk run --rm --hostname box --dns 10.9.9.9 --add-host db.example:10.1.2.3 \
    bb sh -c 'hostname; cat /etc/resolv.conf /etc/hosts') || fail "run with options"
assert_contains "$out" "box" "--hostname"
assert_contains "$out" "nameserver 10.9.9.9" "--dns"
assert_contains "$out" "10.1.2.3	db.example" "--add-host"
# the CLI sends --mac-address only to API 1.44 daemons: through the API (1.43: Config.MacAddress)
id=$(ucurl -X POST -H 'Content-Type: application/json' http://x/v1.43/containers/create \
    -d '{"Image":"bb","Cmd":["sleep","1000"],"MacAddress":"02:aa:bb:cc:dd:ee"}' | sed 's/.*"Id":"\([0-9a-f]*\)".*/\1/')
dk start "$id" >/dev/null || fail "start the container with a MAC address"
assert_contains "$(dk exec "$id" ip -o link show eth0)" "02:aa:bb:cc:dd:ee" "MacAddress"
assert_eq "$(dk inspect -f '{{.NetworkSettings.MacAddress}}' "$id")" "02:aa:bb:cc:dd:ee" "inspect MacAddress"
dk rm -f "$id" >/dev/null
expect_fail dk run --rm --ip 172.17.0.99 bb true
assert_contains "$ERR" "user defined networks only" "--ip on the default bridge"

# --- user-defined networks -------------------------------------------------------------------
dk network create --subnet 10.200.0.0/24 --gateway 10.200.0.254 --label team=a appnet >/dev/null ||
    fail "network create"
expect_fail dk network create appnet
assert_contains "$ERR" "already exists" "duplicate network name"
expect_fail dk network create --subnet 10.200.0.128/25 overlap
assert_contains "$ERR" "overlaps" "overlapping subnet"
assert_eq "$(dk network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}' appnet)" \
    "10.200.0.0/24 10.200.0.254" "network inspect IPAM"
br=br-$(dk network inspect -f '{{.Id}}' appnet | cut -c1-12)
ip -4 -o addr show "$br" | grep 10.200.0.254/24 >/dev/null || fail "bridge $br: $(ip -4 -o addr)"
dk run -d --name db1 --network appnet --network-alias database -v "$T/www:/www:ro" bb \
    httpd -f -p 80 -h /www >/dev/null || fail "run db1"
out=$(dk run --rm --network appnet bb sh -c 'cat /etc/resolv.conf; timeout 5 wget -qO- http://db1/; timeout 5 wget -qO- http://database/; nslookup database 127.0.0.11') ||
    fail "resolve by name and alias: $out"
assert_contains "$out" "nameserver 127.0.0.11" "embedded DNS in resolv.conf"
assert_eq "$(echo "$out" | grep -c 'hello from web1')" 2 "reached by name and by alias: $out"
db1ip=$(ip_of db1 appnet)
assert_contains "$out" "$db1ip" "nslookup answers the alias"
case "$db1ip" in 10.200.0.*) ;; *) fail "db1 address on appnet: $db1ip" ;; esac
out=$(dk run --rm --network appnet --ip 10.200.0.50 bb ip -4 -o addr show eth0) || fail "--ip"
assert_contains "$out" "10.200.0.50/24" "--ip"
# the default bridge cannot resolve names and cannot reach another network
expect_fail dk run --rm bb sh -c "timeout 3 wget -qO- http://$db1ip/; exit \$?"
# network inspect lists the running containers
out=$(dk network inspect -f '{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}' appnet)
assert_eq "$out" "db1 $db1ip/24" "network inspect Containers"
# connect and disconnect, on a created container (docker-compose does this) and a running one
dk create --name late bb sleep 1000 >/dev/null || fail "create late"
dk network connect --alias latecomer appnet late || fail "network connect (created)"
dk start late >/dev/null || fail "start late"
out=$(dk exec late ip -4 -o addr show) || fail "exec late"
assert_contains "$out" "eth0" "late on the bridge"
assert_contains "$out" "10.200.0." "late on appnet"
out=$(dk exec db1 nslookup latecomer 127.0.0.11) || fail "resolve the connect alias: $out"
dk network disconnect appnet late || fail "network disconnect (running)"
out=$(dk exec late ip -4 -o addr show)
case "$out" in *10.200.0.*) fail "still on appnet after disconnect: $out" ;; esac
dk network connect appnet web1 || fail "network connect (running)"
out=$(dk exec web1 timeout 5 wget -qO- http://db1/) || fail "web1 reaches db1 after connect"
# --ip-range: addresses come from the range; --internal: nothing in or out but the network
dk network create --subnet 10.201.0.0/16 --ip-range 10.201.7.0/24 ranged >/dev/null || fail "create ranged"
out=$(dk run --rm --network ranged bb ip -4 -o addr show eth0) || fail "run on ranged"
assert_contains "$out" "10.201.7." "address from --ip-range"
dk network create --internal intnet >/dev/null || fail "create --internal"
out=$(dk run --rm --network intnet bb sh -c "timeout 3 wget -qO- http://10.123.0.2:9000/; exit \$?" 2>&1) &&
    fail "an --internal network reached another host: $out"
out=$(dk run --rm bb sh -c "timeout 5 wget -qO- http://10.123.0.2:9000/; exit \$?") || fail "bridge lost its way out"
dk network rm ranged intnet >/dev/null || fail "rm ranged intnet"
expect_fail dk network rm appnet
assert_contains "$ERR" "active endpoints" "rm a network in use"
expect_fail dk network rm bridge
assert_contains "$ERR" "pre-defined" "rm a predefined network"
assert_eq "$(dk network ls -q --filter label=team=a | wc -l)" 1 "network ls --filter label"

# --- links: the seed's db and web -------------------------------------------------------------
dk run --name db -itd phoenix-mongo sh >/dev/null || fail "run db"
dbip=$(ip_of db)
dk run -d --name web --link db:webdb phoenix-web sleep 1000 >/dev/null || fail "run web --link"
out=$(dk exec web env) || fail "env of web"
for want in "WEBDB_NAME=/web/webdb" "WEBDB_PORT=tcp://$dbip:27017" \
    "WEBDB_PORT_27017_TCP=tcp://$dbip:27017" "WEBDB_PORT_27017_TCP_ADDR=$dbip" \
    "WEBDB_PORT_27017_TCP_PORT=27017" "WEBDB_PORT_27017_TCP_PROTO=tcp" \
    "WEBDB_ENV_MONGO_VERSION=3.2.1"; do
    assert_contains "$out" "$want" "link variable"
done
out=$(dk exec web cat /etc/hosts)
echo "$out" | grep -E "^$dbip	webdb .* db\$" >/dev/null || fail "link in /etc/hosts: $out"
assert_eq "$(dk inspect -f '{{join .HostConfig.Links ","}}' web)" "/db:/web/webdb" "HostConfig.Links"
# db restarts with another address: web's /etc/hosts follows
dk run -d --name filler bb sleep 1000 >/dev/null
dk restart -t 1 db >/dev/null || fail "restart db"
dbip2=$(ip_of db)
[ "$dbip2" != "$dbip" ] || fail "db kept its address $dbip over a restart (expected a new one)"
out=$(dk exec web cat /etc/hosts)
echo "$out" | grep -E "^$dbip2	webdb .* db\$" >/dev/null || fail "hosts not updated after db restarted: $out"
expect_fail dk run --rm --link nosuch:x bb true

# --- berthd restarts: addresses, names and DNS stay -----------------------------------------
stop_berthd
# what a berthd killed halfway through a start could leave: swept at the next start
ip link add vb0123456789a type veth peer name vb0123456789b
start_berthd
ip link show vb0123456789a >/dev/null 2>&1 && fail "a stray veth survived berthd's start"
assert_eq "$(ip_of web1)" "$ip1" "web1 keeps its address over a berthd restart"
out=$(dk run --rm --network appnet bb timeout 5 wget -qO- http://database/) || fail "DNS after berthd restart"
id=$(dk run -d bb sleep 1000)
ipn=$(ip_of "$id")
[ "$ipn" != "$ip1" ] && [ "$ipn" != "$dbip2" ] || fail "address $ipn handed out twice after restart"
assert_eq "$(curl -s --max-time 5 http://127.0.0.1:8080/)" "hello from web1" "published after restart"

# --- removal: nothing of a container's network stays --------------------------------------
dk rm -f $(dk ps -aq) >/dev/null
wait_veths 0
assert_eq "$(count_netns)" 0 "network namespaces left"
dk network rm appnet >/dev/null || fail "network rm"
ip link show "$br" >/dev/null 2>&1 && fail "bridge $br left after network rm"
dk network create pruneme >/dev/null
assert_contains "$(dk network prune -f)" "pruneme" "network prune"
assert_eq "$(count_rules)" "$(nft -a list ruleset | grep -c 'comment "berth:')" "rules"
finish
echo "PASS test_berthd_network"
