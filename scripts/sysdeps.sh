#!/usr/bin/env bash
# Install the system packages tinyedge needs to build and test (Debian/Ubuntu).
# As root it installs what is missing with apt-get; otherwise it names what is missing and how to get it.
#
# Two groups:
# - required (gcc, make, python3-venv, python3-dev, the sanitizer runtimes): without them nothing
#   builds, so a non-root run that misses one fails;
# - cross (Debian's ARM cross compilers, qemu-user and openssh-server), with --cross only (make test):
#   only the ARM tests, `tinyedge runner --toolchain gcc`, the emulated boards and the deploy tests
#   (a real sshd on 127.0.0.1) use them (the default toolchain, zig, comes from PyPI), so a non-root
#   run that misses them says so and carries on; those tests skip with the reason.
set -euo pipefail
with_cross=0 with_qemu=0
case "${1:-}" in
  --cross) with_cross=1 with_qemu=1 ;;
  --emulate) with_qemu=1 ;;   # make demo: qemu-user runs its emulated-pi4 deploy
esac

need=()
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v make >/dev/null 2>&1 || need+=(make)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
python3 - <<'PY' >/dev/null 2>&1 || need+=(python3-dev)
import sysconfig, os, sys
sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)
PY
# The sanitizer build of the runtime (make test) links libasan/libubsan, which come with gcc's libgcc-dev.
if command -v gcc >/dev/null 2>&1 && ! echo 'int main(void){return 0;}' | \
     gcc -x c -fsanitize=address,undefined -o /dev/null - >/dev/null 2>&1; then
  need+=("libgcc-$(gcc -dumpversion | cut -d. -f1)-dev")
fi

# Cross compilers with the static C library each one links (with --no-install-recommends the
# libc6-dev-*-cross packages must be named), and qemu-user (not qemu-user-static: its qemu-aarch64
# is the one that accepts -plugin).
cross=()
if [ "$with_cross" = 1 ]; then
  command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || cross+=(gcc-aarch64-linux-gnu)
  [ -e /usr/aarch64-linux-gnu/lib/libc.a ] || cross+=(libc6-dev-arm64-cross)
  command -v arm-linux-gnueabihf-gcc >/dev/null 2>&1 || cross+=(gcc-arm-linux-gnueabihf)
  [ -e /usr/arm-linux-gnueabihf/lib/libc.a ] || cross+=(libc6-dev-armhf-cross)
fi
if [ "$with_qemu" = 1 ]; then
  { command -v qemu-aarch64 && command -v qemu-arm; } >/dev/null 2>&1 || cross+=(qemu-user)
fi
if [ "$with_cross" = 1 ]; then
  # The deploy tests start their own sshd (a temporary config on a random port on 127.0.0.1).
  [ -x /usr/sbin/sshd ] || command -v sshd >/dev/null 2>&1 || cross+=(openssh-server)
  # tests/test_extension_arm64.py runs an aarch64 Debian Python under qemu; scripts/arm64_python.sh
  # builds its root with debootstrap (in /usr/sbin, often not on a non-root PATH).
  command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || cross+=(debootstrap)
  # tests/test_deploy_facts.py runs the device-facts script under busybox sh too (minimal boards).
  command -v busybox >/dev/null 2>&1 || cross+=(busybox)
fi

[ ${#need[@]} -eq 0 ] && [ ${#cross[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${need[*]} ${cross[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" "${cross[@]}"
  exit 0
fi
if [ ${#cross[@]} -gt 0 ]; then
  echo "note: optional system packages are missing: ${cross[*]}" >&2
  echo "      (ARM cross compilers, qemu-user for emulated boards, sshd for the deploy tests)" >&2
  echo "      install them with:  sudo apt-get install --no-install-recommends ${cross[*]}" >&2
  echo "      (without them those tests skip and the demo skips its emulated deploy, with the reason)" >&2
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "tinyedge needs these system packages: ${need[*]}" >&2
  echo "install them with:  sudo apt-get install ${need[*]}" >&2
  exit 1
fi
