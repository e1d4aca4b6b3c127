#!/usr/bin/env bash
# Build (once) a Debian bookworm arm64 root that runs an aarch64 Python under qemu-user:
#   qemu-aarch64 -L ROOT -cpu cortex-a72 ROOT/usr/bin/python3.11
# with numpy, the cffi backend (what tinyedge's extension imports) and libpython3.11-dev (Python.h
# and the aarch64 pyconfig.h, to cross-compile the extension against). tests/test_extension_arm64.py
# uses it to run tinyedge.load on "the board".
#
# Usage: scripts/arm64_python.sh [--check] [ROOT]   (default ~/.cache/tinyedge/arm64-python)
# Prints ROOT once it is complete. --check builds nothing: exit status 1 when ROOT is not complete.
# Idempotent: a complete root carries a stamp naming its package list and is reused as is; a root
# without the stamp (an interrupted run) is deleted and rebuilt, never used. Needs root (debootstrap
# creates device nodes and owned files), debootstrap and network access to a Debian mirror
# (TINYEDGE_DEBIAN_MIRROR, default http://deb.debian.org/debian).
set -euo pipefail

check_only=0
if [ "${1:-}" = --check ]; then check_only=1; shift; fi
ROOT="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/tinyedge/arm64-python}"
MIRROR="${TINYEDGE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
PACKAGES=python3,python3-numpy,python3-cffi-backend,libpython3.11-dev
STAMP_NAME=.tinyedge-arm64-python
STAMP_TEXT="$SUITE $PACKAGES"

if [ -f "$ROOT/$STAMP_NAME" ] && [ "$(cat "$ROOT/$STAMP_NAME")" = "$STAMP_TEXT" ]; then
  echo "$ROOT"
  exit 0
fi
if [ "$check_only" = 1 ]; then
  echo "arm64_python.sh: no complete aarch64 Python root at $ROOT" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "arm64_python.sh: building $ROOT needs root (debootstrap); run it as root" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "arm64_python.sh: debootstrap is missing; install it with: apt-get install debootstrap" >&2
  exit 1
fi

# Build beside ROOT and rename at the end: ROOT either does not exist or is complete.
parent="$(dirname "$ROOT")"
mkdir -p "$parent"
work="$(mktemp -d "$parent/.arm64-python.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# First stage only (--foreign): the second runs the target's maintainer scripts, which would need
# binfmt_misc (not mounted here) to run arm64 programs. It downloads every package and unpacks the
# required ones; the rest are unpacked below with dpkg -x, which runs no scripts.
debootstrap --foreign --arch=arm64 --variant=minbase --include="$PACKAGES" \
  "$SUITE" "$work" "$MIRROR" >"$work.log" 2>&1 || {
  echo "arm64_python.sh: debootstrap failed (log: $work.log)" >&2; exit 1; }
rm -f "$work.log"
for deb in "$work"/var/cache/apt/archives/*.deb; do
  dpkg -x "$deb" "$work"
done

# What the skipped maintainer scripts would do that Python needs: numpy links libblas.so.3 and
# liblapack.so.3, which update-alternatives points at the installed implementation.
libdir="$work/usr/lib/aarch64-linux-gnu"
for lib in libblas.so.3 liblapack.so.3; do
  if [ ! -e "$libdir/$lib" ]; then
    impl="$(cd "$libdir" && find . -mindepth 2 -name "$lib" | sort | head -n 1)"
    [ -n "$impl" ] || { echo "arm64_python.sh: no $lib in the root's packages" >&2; exit 1; }
    ln -sf "${impl#./}" "$libdir/$lib"
  fi
done
# The debs, debootstrap's second-stage files and the documentation are never used here.
rm -rf "$work"/var/cache/apt/archives/*.deb "$work"/debootstrap \
  "$work"/usr/share/doc "$work"/usr/share/man "$work"/usr/share/info

# Prove it before stamping: Python starts, numpy computes, the cffi backend imports, the headers exist.
[ -f "$work/usr/include/python3.11/Python.h" ] && \
  [ -f "$work/usr/include/aarch64-linux-gnu/python3.11/pyconfig.h" ] || {
  echo "arm64_python.sh: the root lacks Python.h or the aarch64 pyconfig.h" >&2; exit 1; }
qemu-aarch64 -L "$work" -cpu cortex-a72 "$work/usr/bin/python3.11" -c \
  'import numpy, _cffi_backend, platform; assert platform.machine() == "aarch64"; assert numpy.dot([1.0, 2.0], [3.0, 4.0]) == 11.0' || {
  echo "arm64_python.sh: the root's python3.11 does not run under qemu-aarch64" >&2; exit 1; }

echo "$STAMP_TEXT" >"$work/$STAMP_NAME"
rm -rf "$ROOT"
mv "$work" "$ROOT"
trap - EXIT
echo "$ROOT"
