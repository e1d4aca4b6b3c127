"""Device facts: FACTS_SCRIPT run for real (sh, busybox sh with nothing but busybox on the PATH), on
this machine and on a faked Raspberry Pi 4 and Android phone (their /proc and /sys files, recorded
from such devices, mounted over this machine's in a private mount namespace, their vcgencmd and
getprop as small scripts), and parse_facts on recorded outputs.
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from tinyedge.device.facts import FACTS_SCRIPT, decode_throttled, parse_facts

# /proc/cpuinfo of a Raspberry Pi 4 Model B on Raspberry Pi OS (bookworm, 64-bit kernel).
PI4_CORE = """processor\t: {n}
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

"""
PI4_CPUINFO = "".join(PI4_CORE.format(n=n) for n in range(4)) + (
    "Hardware\t: BCM2835\nRevision\t: c03114\nSerial\t\t: 10000000abcdef01\n"
    "Model\t\t: Raspberry Pi 4 Model B Rev 1.4\n")
PI4_FILES = {
    "cpuinfo": PI4_CPUINFO,
    "meminfo": "MemTotal:        3884084 kB\nMemFree:         3264556 kB\n",
    "os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n',
    "model": "Raspberry Pi 4 Model B Rev 1.4\0",
    "governor": "ondemand\n", "max_freq": "1800000\n", "online": "0-3\n", "temp": "47712\n",
}
PI4_TOOLS = {"vcgencmd": '[ "$1" = get_throttled ] && echo throttled=0x50005\n'}

# A phone (Snapdragon 888: 4x Cortex-A55, 3x Cortex-A78, 1x Cortex-X1) on Android 13, as its
# kernel prints /proc/cpuinfo (no model name), with getprop answering for the build properties.
PHONE_PARTS = ["0xd05"] * 4 + ["0xd41"] * 3 + ["0xd44"]
PHONE_CPUINFO = "".join(
    f"processor\t: {n}\nBogoMIPS\t: 38.40\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 "
    f"atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\n"
    f"CPU architecture: 8\nCPU variant\t: 0x1\nCPU part\t: {part}\nCPU revision\t: 0\n\n"
    for n, part in enumerate(PHONE_PARTS)) + "Hardware\t: Qualcomm Technologies, Inc SM8350\n"
PHONE_FILES = {
    "cpuinfo": PHONE_CPUINFO,
    "meminfo": "MemTotal:        7734572 kB\n",
    "os-release": None, "model": None,
    "governor": "schedutil\n", "max_freq": ["1804800\n"] * 4 + ["2419200\n"] * 3 + ["2841600\n"],
    "online": "0-7\n", "temp": "36200\n",
}
PHONE_TOOLS = {"getprop": """case "$1" in
  ro.build.version.release) echo 13 ;; ro.build.version.sdk) echo 33 ;;
  ro.product.model) echo SM-G991B ;; ro.product.manufacturer) echo samsung ;;
  ro.soc.model) echo SM8350 ;; *) echo ;; esac
"""}

# What FACTS_SCRIPT prints on such a Pi 4 (recorded), for parse_facts alone.
PI4_OUTPUT = """uname_m=aarch64
kernel=6.6.31+rpt-rpi-v8
user=pi
os_release="Debian GNU/Linux 12 (bookworm)"
dt_model=Raspberry Pi 4 Model B Rev 1.4
""" + "".join(f"cpu_processor={n}\ncpu_implementer=0x41\ncpu_part=0xd08\n" for n in range(4)) + """\
cpu_hardware=BCM2835
cpus_online=0-3
nproc=4
governor=ondemand
cpu_max_khz=1800000
cpu_max_khz=1800000
cpu_max_khz=1800000
cpu_max_khz=1800000
temp_millic=47712
throttled=0x50005
mem_total_kb=3884084
"""


def test_parse_facts_of_a_pi4():
    facts = parse_facts(PI4_OUTPUT)
    assert facts == {
        "uname_m": "aarch64", "kernel": "6.6.31+rpt-rpi-v8", "user": "pi", "governor": "ondemand",
        "os": "Debian GNU/Linux 12 (bookworm)", "cpu_model": "Cortex-A72",
        "board_model": "Raspberry Pi 4 Model B Rev 1.4", "cores": 4, "cpu_max_mhz": 1800.0,
        "temp_c": 47.712, "throttled": "0x50005", "mem_total_kb": 3884084,
        "throttled_flags": ["under-voltage", "throttled", "under-voltage-occurred",
                            "throttled-occurred"]}


@pytest.mark.parametrize("value, flags", [
    ("0x0", []),
    ("0x50005", ["under-voltage", "throttled", "under-voltage-occurred", "throttled-occurred"]),
    ("0xf000f", ["under-voltage", "arm-frequency-capped", "throttled", "soft-temp-limit",
                 "under-voltage-occurred", "arm-frequency-capped-occurred", "throttled-occurred",
                 "soft-temp-limit-occurred"]),
    ("0x80008", ["soft-temp-limit", "soft-temp-limit-occurred"]),
    ("0x20", ["bit-5"]),
])
def test_throttled_bits(value, flags):
    assert decode_throttled(value) == flags


def test_parse_facts_leaves_out_what_it_cannot_read():
    text = ("uname_m=aarch64\ntemp_millic=hot\ncpu_max_khz=abc\nthrottled=VCHI failed\n"
            "cpus_online=3-1\nmem_total_kb=\ngarbage line\n=x\nUPPER=1\ncpu_part=0xd08\n")
    assert parse_facts(text) == {"uname_m": "aarch64"}
    # an unknown core: the kernel's own words rather than a guess
    text = "cpu_implementer=0x41\ncpu_part=0xfff\ncpu_model_name=ARMv7 Processor rev 4 (v7l)\n"
    assert parse_facts(text)["cpu_model"] == "ARMv7 Processor rev 4 (v7l)"
    assert parse_facts("cpus_online=0,2-3\n")["cores"] == 3
    assert parse_facts("cpu_processor=0\ncpu_processor=1\n")["cores"] == 2
    assert parse_facts("temp_millic=41\n")["temp_c"] == 41.0, "a driver that reports degrees"


# --- the script itself ---------------------------------------------------------------------------

def shells() -> list:
    """(id, argv, PATH) for every shell here: sh, and busybox sh with only busybox's applets."""
    found = [("sh", [shutil.which("sh") or "/bin/sh"], os.environ.get("PATH", ""))]
    busybox = shutil.which("busybox")
    if busybox:
        found.append(("busybox", [busybox, "sh"], None))
    return found


@pytest.fixture(params=[s[0] for s in shells()])
def shell(request, tmp_path):
    name, argv, path = next(s for s in shells() if s[0] == request.param)
    if path is None:  # busybox alone, as on a minimal board: its applets are the whole PATH
        bin_dir = tmp_path / "busybox-bin"
        bin_dir.mkdir()
        subprocess.run([argv[0], "--install", "-s", str(bin_dir)], check=True)
        path = str(bin_dir)
    return argv, path


def test_script_runs_here_and_gives_the_basics(shell):
    argv, path = shell
    done = subprocess.run([*argv, "-c", FACTS_SCRIPT], capture_output=True, text=True,
                          env={"PATH": path, "HOME": "/"}, timeout=30)
    assert done.returncode == 0 and done.stderr == "", done
    facts = parse_facts(done.stdout)
    assert facts["uname_m"] == platform.machine()
    assert facts["cores"] == len(os.sched_getaffinity(0)) or facts["cores"] == os.cpu_count()
    assert facts["kernel"] == platform.release()
    for line in done.stdout.splitlines():
        assert "=" in line and line.split("=", 1)[1], line


def test_script_with_no_programs_at_all_prints_nothing_and_succeeds(shell):
    argv, _ = shell
    done = subprocess.run([*argv, "-c", FACTS_SCRIPT], capture_output=True, text=True,
                          env={"PATH": "/nonexistent"}, timeout=30)
    assert (done.returncode, done.stderr) == (0, "")


FAKE_DEVICE = r"""
set -e
d="$1"; shift
mount --bind "$d/cpuinfo" /proc/cpuinfo
mount --bind "$d/meminfo" /proc/meminfo
for m in /sys/firmware /sys/class/thermal /sys/devices/system/cpu; do mount -t tmpfs none "$m"; done
if [ -f "$d/os-release" ]; then mount --bind "$d/os-release" /etc/os-release
else mount --bind /dev/null /etc/os-release; fi
if [ -f "$d/model" ]; then
  mkdir -p /sys/firmware/devicetree/base; cp "$d/model" /sys/firmware/devicetree/base/model
fi
mkdir -p /sys/class/thermal/thermal_zone0; cp "$d/temp" /sys/class/thermal/thermal_zone0/temp
cp "$d/online" /sys/devices/system/cpu/online
for f in "$d"/max_freq.*; do
  n=${f##*.}; mkdir -p /sys/devices/system/cpu/cpu$n/cpufreq
  cp "$f" /sys/devices/system/cpu/cpu$n/cpufreq/cpuinfo_max_freq
  cp "$d/governor" /sys/devices/system/cpu/cpu$n/cpufreq/scaling_governor
done
PATH="$d/bin:$PATH" exec "$@"
"""


def fake_device(tmp_path: Path, files: dict, tools: dict, argv: list, path: str):
    """Run FACTS_SCRIPT with `files` mounted over this machine's in a private mount namespace."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("faking a device's /proc and /sys needs root and unshare")
    d = tmp_path / "device"
    (d / "bin").mkdir(parents=True)
    for name, text in files.items():
        if isinstance(text, list):
            for n, t in enumerate(text):
                (d / f"{name}.{n}").write_text(t)
        elif name == "max_freq":
            for n in range(4):
                (d / f"{name}.{n}").write_text(text)
        elif text is not None:
            (d / name).write_text(text)
    for name, body in tools.items():
        (d / "bin" / name).write_text("#!/bin/sh\n" + body)
        (d / "bin" / name).chmod(0o755)
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here: {probe.stderr.strip()}")
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           FAKE_DEVICE, "fake", str(d), *argv, "-c", FACTS_SCRIPT],
                          capture_output=True, text=True, env={"PATH": path}, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done
    return parse_facts(done.stdout)


def test_script_on_a_faked_pi4(shell, tmp_path):
    argv, path = shell
    facts = fake_device(tmp_path, PI4_FILES, PI4_TOOLS, argv, path + ":/usr/bin:/bin")
    expected = parse_facts(PI4_OUTPUT)
    for key in ("os", "cpu_model", "board_model", "cores", "governor", "cpu_max_mhz", "temp_c",
                "throttled", "throttled_flags", "mem_total_kb"):
        assert facts[key] == expected[key], key


def test_script_on_a_faked_android_phone(shell, tmp_path):
    argv, path = shell
    facts = fake_device(tmp_path, PHONE_FILES, PHONE_TOOLS, argv, path + ":/usr/bin:/bin")
    assert facts["os"] == "Android 13 (API 33)"
    assert facts["cpu_model"] == "4x Cortex-A55 + 3x Cortex-A78 + 1x Cortex-X1"
    assert facts["board_model"] == "samsung SM-G991B"
    assert facts["cores"] == 8 and facts["cpu_max_mhz"] == 2841.6
    assert facts["governor"] == "schedutil" and facts["temp_c"] == 36.2
    assert facts["mem_total_kb"] == 7734572
    assert "throttled" not in facts, "no vcgencmd on a phone"
