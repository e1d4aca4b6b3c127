#!/usr/bin/env bash
# Install the system packages tinyedge needs to build and test (Debian/Ubuntu).
# As root it installs what is missing with apt-get; otherwise it names what is missing and how to get it.
set -euo pipefail

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

[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
else
  echo "tinyedge needs these system packages: ${need[*]}" >&2
  echo "install them with:  sudo apt-get install ${need[*]}" >&2
  exit 1
fi
