#!/usr/bin/env bash
# Installs the Debian packages berth needs for PURPOSE (build, check, demo, fuzz, bench)
# when they are missing. As root it runs apt-get; otherwise it lists them.
set -euo pipefail
purpose=${1:-build}
build_pkgs="build-essential pkg-config libjansson-dev libssl-dev libcurl4-openssl-dev
 libssh2-1-dev libarchive-dev libhttp-parser-dev libseccomp-dev openssl"
check_pkgs="libcmocka-dev python3 python3-docker docker-compose curl procps iproute2
 busybox-static util-linux"
demo_pkgs="busybox-static"
fuzz_pkgs="clang libclang-rt-14-dev"
# make bench: podman+runc side by side with berthd (netavark and iptables give podman its
# default bridge network, inside the benchmark's own network namespace).
bench_pkgs="podman runc conmon netavark iptables busybox-static python3 curl procps util-linux
 iproute2"
case "$purpose" in
build) want="$build_pkgs" ;;
check) want="$build_pkgs $check_pkgs" ;;
demo) want="$build_pkgs $demo_pkgs" ;;
fuzz) want="$build_pkgs $fuzz_pkgs" ;;
bench) want="$build_pkgs $bench_pkgs" ;;
*) echo "usage: $0 build|check|demo|fuzz|bench" >&2; exit 2 ;;
esac
missing=()
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "berth: missing packages: ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "berth: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
