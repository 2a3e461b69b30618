#!/usr/bin/env bash
# Installs the Debian packages berth needs for PURPOSE (build, local, check, demo, fuzz, bench)
# when they are missing. As root it runs apt-get; otherwise it lists them.
set -euo pipefail
purpose=${1:-build}
# `make` also builds the local driver's machine image (drivers/local/mkimage.sh) from these:
# static busybox, dropbear, OpenSSH's sftp-server and scp; its tests use the OpenSSH client.
local_pkgs="busybox-static dropbear-bin openssh-sftp-server openssh-client nftables"
# berthd-static (the berthd installed on machines) links every library statically; Debian's
# libarchive-dev pulls none of the static archives it needs.
static_pkgs="nettle-dev libacl1-dev libzstd-dev liblz4-dev libbz2-dev liblzma-dev zlib1g-dev
"
build_pkgs="build-essential pkg-config libjansson-dev libssl-dev libcurl4-openssl-dev
 libssh2-1-dev libarchive-dev libhttp-parser-dev libseccomp-dev openssl libnl-3-dev
 libnl-route-3-dev libnftables-dev libldns-dev nftables $static_pkgs $local_pkgs"
# test_generic_ssh.sh: a real sshd in a throwaway host, OpenSSH's client and ssh-keygen to
# cross-check keys, tmux to drive an interactive `berth ssh`, sshfs for `berth mount`, sudo
# for provisioning as a non-root user.
check_pkgs="libcmocka-dev python3 python3-docker docker-compose curl procps iproute2
 busybox-static util-linux tmux openssh-server openssh-client sshfs sudo"
demo_pkgs="busybox-static curl"
fuzz_pkgs="clang libclang-rt-14-dev"
# make bench: podman+runc side by side with berthd (netavark and iptables give podman its
# default bridge network, inside the benchmark's own network namespace).
bench_pkgs="podman runc conmon netavark iptables busybox-static python3 curl procps util-linux
 iproute2"
case "$purpose" in
build) want="$build_pkgs" ;;
local) want="$build_pkgs $local_pkgs" ;;
check) want="$build_pkgs $check_pkgs" ;;
demo) want="$build_pkgs $demo_pkgs" ;;
fuzz) want="$build_pkgs $fuzz_pkgs" ;;
bench) want="$build_pkgs $bench_pkgs" ;;
*) echo "usage: $0 build|local|check|demo|fuzz|bench" >&2; exit 2 ;;
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
