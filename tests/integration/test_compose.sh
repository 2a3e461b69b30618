#!/usr/bin/env bash
# docker-compose 1.29 (Debian's) against berthd with the seed's example: web publishes 3000
# and links to db, which it reaches by name on the project's network. `up -d`, `ps`,
# `logs`, `stop`/`start`, `down` (containers and the network go), nothing left behind.
source "$(dirname "$0")/netns_env.sh"
command -v docker-compose >/dev/null || fail "docker-compose is missing (see tests/deps.sh check)"

start_berthd
export DOCKER_HOST=unix://$SOCK
net_images
mkdir -p "$T/proj"
cd "$T/proj"
cat >docker-compose.yml <<'YML'
version: "2"
services:
  web:
    image: phoenix-web
    command: sh -c 'mkdir -p /www && wget -qO /www/index.html http://db:27017/ && echo web-up && httpd -f -p 3000 -h /www'
    ports:
      - "3000:3000"
    links:
      - db
    depends_on:
      - db
  db:
    image: phoenix-mongo
    command: sh -c 'mkdir -p /www && echo from-db >/www/index.html && httpd -f -p 27017 -h /www'
YML
compose() {
    timeout 120 docker-compose -p seed "$@"
}
out=$(compose up -d 2>&1) || fail "compose up: $out"
assert_contains "$out" 'Creating network "seed_default"' "up creates the project network"
out=$(compose ps 2>&1) || fail "compose ps: $out"
assert_eq "$(echo "$out" | grep -c ' Up ')" 2 "both services up: $out"
assert_contains "$out" "0.0.0.0:3000->3000/tcp" "web's published port"
wait_for 20 "web to serve db's page on the published port" curl -sf http://127.0.0.1:3000/
assert_eq "$(curl -s http://127.0.0.1:3000/)" "from-db" "web fetched db's page through the link"
assert_eq "$(cli curl -s --max-time 5 http://10.123.0.1:3000/)" "from-db" "from another host"
assert_contains "$(compose logs web 2>&1)" "web-up" "compose logs"
assert_eq "$(dk network inspect -f '{{len .Containers}}' seed_default)" 2 "both on seed_default"
compose stop >/dev/null 2>&1 || fail "compose stop"
compose start >/dev/null 2>&1 || fail "compose start"
wait_for 20 "web to serve again after start" curl -sf http://127.0.0.1:3000/
out=$(compose down 2>&1) || fail "compose down: $out"
assert_contains "$out" "Removing network seed_default" "down removes the network"
assert_eq "$(dk ps -aq | wc -l)" 0 "containers after down"
dk network inspect seed_default >/dev/null 2>&1 && fail "seed_default outlived down"
wait_veths 0
cd "$T"
finish
echo "PASS test_compose"
