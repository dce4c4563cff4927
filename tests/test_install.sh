#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# libsluice as an application sees it: the build is installed into a scratch
# DESTDIR (headers, static library, pkg-config file), then tests/install/
# publisher.c is compiled and linked against it with nothing but
# `pkg-config --cflags --libs --static libsluice`, and run.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${SL_BUILD:-$HERE/../build}
CC=${CC:-cc}

command -v pkg-config >/dev/null || { echo "SKIP: pkg-config not found"; exit 77; }
command -v "$CC" >/dev/null || { echo "SKIP: $CC not found"; exit 77; }

T=$(mktemp -d /tmp/sluice-install.XXXXXX)
trap 'rm -rf "$T"' EXIT
ROOT=$T/root
fail() { echo "FAIL: $*"; exit 1; }

# The development files only (meson's "devel" install tag): what a -dev package holds.
meson install -C "$BUILD" --no-rebuild --quiet --tags devel --destdir "$ROOT" >"$T/install.log" 2>&1 ||
	{ cat "$T/install.log"; fail "meson install"; }

pc=$(find "$ROOT" -name libsluice.pc)
[ -n "$pc" ] || fail "no libsluice.pc installed"
# The installed API is include/sluice/ of the source tree, all of it and
# nothing else: internal layouts must not leak, and whatever sluice.h
# includes must be there.
headers=$(cd "$ROOT" && find . -name '*.h' -printf '%f\n' | sort | tr '\n' ' ')
want=$(cd "$HERE/../include/sluice" && ls -- *.h | sort | tr '\n' ' ')
[ "$headers" = "$want" ] || fail "installed headers: $headers; include/sluice/ has: $want"
[ -n "$(find "$ROOT" -path '*/include/sluice/sluice.h')" ] || fail "no include/sluice/sluice.h"
lib=$(find "$ROOT" -name libsluice.a)
[ -n "$lib" ] || fail "no libsluice.a installed"
# Every symbol it defines for the application's link is sl_-prefixed, so
# that it cannot collide with the application's own (an AddressSanitizer
# build adds __odr_asan.NAME beside each exported variable NAME: the
# compiler's, checked through NAME).
stray=$(nm -g --defined-only "$lib" |
	awk 'NF == 3 && $3 !~ /^sl_/ && $3 !~ /^__odr_asan\.sl_/ { print $3 }')
[ -z "$stray" ] || fail "libsluice.a exports symbols without the sl_ prefix: $stray"

# A sysroot, as for any staged install: pkg-config prefixes -I and -L with it.
# libsluice's one requirement, libsodium, comes from the system (its -I and
# -L are system paths, which pkg-config leaves out).
sys_pc=$(pkg-config --variable pc_path pkg-config)
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$ROOT PKG_CONFIG_LIBDIR=$sys_pc
flags=$(pkg-config --cflags --libs --static libsluice) || fail "pkg-config libsluice"
echo "pkg-config --cflags --libs --static libsluice: $flags"
# A sanitizer build's library needs its runtime: the application is built
# the same way (what pkg-config cannot know).
san=$(meson configure "$BUILD" 2>/dev/null | awk '$1 == "b_sanitize" { print $2 }')
case "$san" in ""|none) san_flags="" ;; *) san_flags="-fsanitize=$san" ;; esac
# shellcheck disable=SC2086 # $flags is a list of words
"$CC" -std=c11 -Wall -Wextra -Werror -pedantic $san_flags -o "$T/publisher" \
	"$HERE/install/publisher.c" $flags >"$T/cc.log" 2>&1 || { cat "$T/cc.log"; fail "publisher does not build against the installed libsluice"; }

"$T/publisher" "$T/no-such-dataplane/shm.sock" || fail "publisher"
echo "PASS"
