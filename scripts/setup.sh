#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Prepare a Debian 12 machine for Sluice and build it into build/.
# Idempotent: installs missing packages, reserves hugepages, mounts
# hugetlbfs, configures and builds. Safe to run again at any time.
#
#   scripts/setup.sh            install, reserve, build
#   SLUICE_HUGEPAGES=N          2 MiB pages to reserve (default 512 = 1 GiB)
#   SLUICE_BUILD=dir            build directory (default build)
#   SLUICE_MESON_OPTS="..."     extra meson options for a new build directory
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${SLUICE_BUILD:-$root/build}
pages=${SLUICE_HUGEPAGES:-512}

log() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

packages=(build-essential meson ninja-build pkg-config python3 gnuplot-nox
	dpdk dpdk-dev libdpdk-dev libpmem-dev libpmem2-dev libhugetlbfs-dev libhugetlbfs-bin
	libbenchmark-dev iproute2 procps
	libjansson-dev libmicrohttpd-dev
	libsodium-dev libipsec-mb-dev python3-nacl python3-cryptography tcpdump clang llvm
	etcd-server etcd-client libcurl4-openssl-dev
	mosquitto mosquitto-clients python3-paho-mqtt libssl-dev)

install_packages() {
	local missing=() p
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root"
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install failed"
}

reserve_hugepages() {
	local have
	have=$(cat /proc/sys/vm/nr_hugepages)
	if [ "$have" -lt "$pages" ]; then
		[ "$(id -u)" -eq 0 ] || die "need $pages hugepages (have $have); run as root"
		echo "$pages" > /proc/sys/vm/nr_hugepages
		have=$(cat /proc/sys/vm/nr_hugepages)
		[ "$have" -ge 64 ] || die "could only reserve $have hugepages"
		log "reserved $have 2 MiB hugepages"
	fi
	if ! grep -qs ' hugetlbfs ' /proc/mounts; then
		mkdir -p /dev/hugepages
		mount -t hugetlbfs nodev /dev/hugepages || die "cannot mount hugetlbfs"
		log "mounted hugetlbfs on /dev/hugepages"
	fi
}

build_tree() {
	if [ ! -f "$build/build.ninja" ]; then
		# shellcheck disable=SC2086
		meson setup "$build" "$root" ${SLUICE_MESON_OPTS:-} >/dev/null ||
			die "meson setup failed"
	fi
	ninja -C "$build" >/dev/null || { ninja -C "$build"; die "build failed"; }
	log "built into $build"
}

install_packages
reserve_hugepages
build_tree
