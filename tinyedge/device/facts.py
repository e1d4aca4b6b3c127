"""Device facts: what a board says about itself (CPU, cores, governor, temperature, throttling).

FACTS_SCRIPT runs on the board with `sh` and prints raw `key=value` lines; parse_facts turns them
into typed facts. The script is POSIX sh with nothing beyond what busybox (Raspberry Pi OS, Alpine,
OpenWrt) and toybox (Android) provide: no awk, no bash. Every probe is optional: a file or a program
that is missing gives no line, never an error, and the script always exits 0. Values are cut to
their first line, so a probe cannot inject a line of its own.

Keys of parse_facts (a key is absent when the board does not tell):
uname_m, kernel, os, cpu_model, board_model, cores (int), governor, cpu_max_mhz (float),
temp_c (float), throttled (the hex string `vcgencmd get_throttled` prints), throttled_flags (names
of its set bits), mem_total_kb (int), user.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Optional

# `p key value` prints key=value when value is not empty, first line only.
FACTS_SCRIPT = r"""
nl='
'
p() { [ -n "$2" ] && printf '%s=%s\n' "$1" "${2%%$nl*}"; return 0; }
has() { command -v "$1" >/dev/null 2>&1; }
first() { [ -r "$1" ] && sed -n '1p' "$1" 2>/dev/null; }
p uname_m "$(uname -m 2>/dev/null)"
p kernel "$(uname -r 2>/dev/null)"
p user "$(id -un 2>/dev/null || whoami 2>/dev/null || printf '%s' "${USER:-}")"
[ -r /etc/os-release ] && p os_release "$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release 2>/dev/null)"
if has getprop; then
  p android_release "$(getprop ro.build.version.release 2>/dev/null)"
  p android_sdk "$(getprop ro.build.version.sdk 2>/dev/null)"
  p android_model "$(getprop ro.product.model 2>/dev/null)"
  p android_maker "$(getprop ro.product.manufacturer 2>/dev/null)"
  p android_soc "$(getprop ro.soc.model 2>/dev/null)"
fi
for f in /proc/device-tree/model /sys/firmware/devicetree/base/model; do
  [ -r "$f" ] && { p dt_model "$(tr -d '\000' < "$f" 2>/dev/null)"; break; }
done
p dmi_product "$(first /sys/class/dmi/id/product_name)"
if [ -r /proc/cpuinfo ]; then
  sed -n -e 's/^model name[[:space:]]*:[[:space:]]*/cpu_model_name=/p' \
    -e 's/^Hardware[[:space:]]*:[[:space:]]*/cpu_hardware=/p' \
    -e 's/^CPU implementer[[:space:]]*:[[:space:]]*/cpu_implementer=/p' \
    -e 's/^CPU part[[:space:]]*:[[:space:]]*/cpu_part=/p' \
    -e 's/^processor[[:space:]]*:[[:space:]]*/cpu_processor=/p' /proc/cpuinfo 2>/dev/null
fi
p cpus_online "$(first /sys/devices/system/cpu/online)"
has nproc && p nproc "$(nproc 2>/dev/null)"
p governor "$(first /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor)"
for f in /sys/devices/system/cpu/cpu[0-9]*/cpufreq/cpuinfo_max_freq; do
  [ -r "$f" ] && p cpu_max_khz "$(first "$f")"
done
p temp_millic "$(first /sys/class/thermal/thermal_zone0/temp)"
has vcgencmd && vcgencmd get_throttled 2>/dev/null | sed -n '/^throttled=0x[0-9a-fA-F]*$/p'
[ -r /proc/meminfo ] && p mem_total_kb "$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\) kB.*/\1/p' /proc/meminfo 2>/dev/null)"
exit 0
"""

# Bits of `vcgencmd get_throttled` (Raspberry Pi firmware documentation): 0-3 now, 16-19 since boot.
THROTTLE_BITS = {
    0: "under-voltage", 1: "arm-frequency-capped", 2: "throttled", 3: "soft-temp-limit",
    16: "under-voltage-occurred", 17: "arm-frequency-capped-occurred", 18: "throttled-occurred",
    19: "soft-temp-limit-occurred",
}

# `CPU part` numbers of the cores found on boards and phones, per `CPU implementer` (ARM's
# Technical Reference Manuals, MIDR_EL1.PartNum; Qualcomm's Kryo parts as the kernel reports them).
CPU_PARTS = {
    0x41: {0xc07: "Cortex-A7", 0xc08: "Cortex-A8", 0xc09: "Cortex-A9", 0xc0d: "Cortex-A12",
           0xc0f: "Cortex-A15", 0xc0e: "Cortex-A17", 0xd01: "Cortex-A32", 0xd03: "Cortex-A53",
           0xd04: "Cortex-A35", 0xd05: "Cortex-A55", 0xd07: "Cortex-A57", 0xd08: "Cortex-A72",
           0xd09: "Cortex-A73", 0xd0a: "Cortex-A75", 0xd0b: "Cortex-A76", 0xd0c: "Neoverse-N1",
           0xd0d: "Cortex-A77", 0xd40: "Neoverse-V1", 0xd41: "Cortex-A78", 0xd44: "Cortex-X1",
           0xd46: "Cortex-A510", 0xd47: "Cortex-A710", 0xd48: "Cortex-X2", 0xd49: "Neoverse-N2",
           0xd4d: "Cortex-A715", 0xd4e: "Cortex-X3", 0xd80: "Cortex-A520", 0xd81: "Cortex-A720",
           0xd82: "Cortex-X4"},
    0x51: {0x800: "Kryo 2xx Gold", 0x801: "Kryo 2xx Silver", 0x802: "Kryo 3xx Gold",
           0x803: "Kryo 3xx Silver", 0x804: "Kryo 4xx Gold", 0x805: "Kryo 4xx Silver"},
}


def decode_throttled(value: str) -> list[str]:
    """Names of the set bits of a `vcgencmd get_throttled` value ('0x50005' -> under-voltage,
    throttled, under-voltage-occurred, throttled-occurred); unknown bits are named `bit-N`."""
    bits = int(value, 16)
    return [THROTTLE_BITS.get(i, f"bit-{i}") for i in range(bits.bit_length()) if bits >> i & 1]


def _count_cpus(text: str) -> Optional[int]:
    """The CPUs in a kernel cpu list ('0-3', '0,2-5')."""
    total = 0
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)(?:-(\d+))?\s*", part)
        if not m:
            return None
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            return None
        total += hi - lo + 1
    return total or None


def _int(text: Optional[str]) -> Optional[int]:
    """A decimal or 0x-prefixed integer, None when `text` is neither."""
    for base in (10, 16):
        try:
            return int(text, base) if base == 10 or text.lower().startswith("0x") else None
        except (AttributeError, TypeError, ValueError):
            continue
    return None


def _cpu_cores(implementers: list, parts: list) -> Optional[str]:
    """'Cortex-A72' or, on a big.LITTLE chip, '4x Cortex-A55 + 4x Cortex-A76' from the per-core
    `CPU implementer` / `CPU part` lines (each part goes with the implementer line before it)."""
    names = []
    for impl, part in zip(implementers, parts):
        name = CPU_PARTS.get(_int(impl), {}).get(_int(part))
        if name is None:
            return None  # an unknown core: better the kernel's own words than a partial name
        names.append(name)
    counts = Counter(names)
    if len(counts) == 1:
        return names[0]
    return " + ".join(f"{n}x {name}" for name, n in counts.items())


def _raw_lines(text: str) -> dict[str, list[str]]:
    raw: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        value = value.replace("\x00", "").strip()
        if sep and re.fullmatch(r"[a-z_]+", key) and value:
            raw.setdefault(key, []).append(value)
    return raw


def parse_facts(text: str) -> dict:
    """Typed device facts from what FACTS_SCRIPT printed; unknown lines are ignored and a fact the
    board did not tell (or told in a form that does not parse) is left out."""
    raw = _raw_lines(text)
    one = {k: v[0] for k, v in raw.items()}
    facts: dict = {}
    for key in ("uname_m", "kernel", "user", "governor"):
        if key in one:
            facts[key] = one[key]
    if "android_release" in one:
        sdk = f" (API {one['android_sdk']})" if "android_sdk" in one else ""
        facts["os"] = f"Android {one['android_release']}{sdk}"
    elif "os_release" in one:
        facts["os"] = one["os_release"].strip("\"'")
    # The implementer lines come one per core, like the part lines (older kernels print them once).
    impl = raw.get("cpu_implementer", [])
    parts = raw.get("cpu_part", [])
    impl = impl * len(parts) if len(impl) == 1 else impl
    cores = _cpu_cores(impl, parts) if parts and len(impl) == len(parts) else None
    model = cores or one.get("cpu_model_name") or one.get("android_soc") or one.get("cpu_hardware")
    if model:
        facts["cpu_model"] = model
    maker_model = " ".join(one[k] for k in ("android_maker", "android_model") if k in one)
    board = one.get("dt_model") or maker_model or one.get("dmi_product")
    if board:
        facts["board_model"] = board
    n = (_count_cpus(one["cpus_online"]) if "cpus_online" in one else None) \
        or len(raw.get("cpu_processor", [])) or _int(one.get("nproc"))
    if n:
        facts["cores"] = n
    khz = [_int(v) for v in raw.get("cpu_max_khz", [])]
    if khz and all(k is not None for k in khz):
        facts["cpu_max_mhz"] = max(khz) / 1000.0
    millic = _int(one.get("temp_millic"))
    if millic is not None:
        # The kernel's unit is the millidegree; a few vendor drivers (some phones) report whole
        # degrees, which no running device reads as millidegrees (under 1 °C).
        facts["temp_c"] = millic / 1000.0 if abs(millic) >= 1000 else float(millic)
    throttled = one.get("throttled")
    if throttled and re.fullmatch(r"0x[0-9a-fA-F]+", throttled):
        facts["throttled"] = throttled
        facts["throttled_flags"] = decode_throttled(throttled)
    mem = _int(one.get("mem_total_kb"))
    if mem is not None:
        facts["mem_total_kb"] = mem
    return facts


__all__ = ["FACTS_SCRIPT", "parse_facts", "decode_throttled", "THROTTLE_BITS", "CPU_PARTS"]
