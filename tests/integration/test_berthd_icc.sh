#!/usr/bin/env bash
# berthd --icc=false, as the seed describes it: containers on the default bridge cannot talk
# to each other, except a linking container to the ports its linked container exposes. Also
# --ip-masq=false: no masquerade rule.
source "$(dirname "$0")/netns_env.sh"

start_berthd --icc=false --ip-masq=false
export DOCKER_HOST=unix://$SOCK
net_images
assert_eq "$(dk network inspect -f '{{index .Options "com.docker.network.bridge.enable_icc"}}' bridge)" \
    "false" "bridge option enable_icc"
nft list table ip berth | grep masquerade >/dev/null && fail "--ip-masq=false, yet a masquerade rule"

# db serves on its exposed port 27017 and on 5000, which it does not expose
dk run -d --name db phoenix-mongo sh -c 'mkdir -p /www && echo db-exposed >/www/index.html &&
    httpd -p 27017 -h /www && httpd -f -p 5000 -h /www' >/dev/null || fail "run db"
dbip=$(ip_of db)
wait_for 10 "db to serve" curl -sf "http://$dbip:27017/"
dk run -d --name web --link db:webdb phoenix-web sleep 1000 >/dev/null || fail "run web --link"
out=$(dk exec web timeout 5 wget -qO- http://webdb:27017/) || fail "the linked, exposed port is refused"
assert_eq "$out" "db-exposed" "web reaches db's exposed port through the link"
dk exec web timeout 3 wget -qO- "http://$dbip:5000/" >/dev/null 2>&1 &&
    fail "web reached db's port 5000, which db does not expose"
dk run --rm bb sh -c "timeout 3 wget -qO- http://$dbip:27017/; exit \$?" >/dev/null 2>&1 &&
    fail "an unlinked container reached db"
# the host itself still reaches the containers (icc is about container to container)
assert_eq "$(curl -s --max-time 5 "http://$dbip:27017/")" "db-exposed" "host to container"
[ "$(count_rules)" -gt 0 ] || fail "no berth rules: $(nft list ruleset)"
# the link's rules go with the linking container
before=$(count_rules)
dk rm -f web >/dev/null
[ "$(count_rules)" -lt "$before" ] || fail "web's link rules stayed: $(nft list ruleset)"
finish
nft list table ip berth >/dev/null 2>&1 && fail "berthd's ip table outlived it"
nft list table bridge berth >/dev/null 2>&1 && fail "berthd's bridge table outlived it"
echo "PASS test_berthd_icc"
