"""Small formatting helpers shared by the commands."""


def human_bytes(n: int) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def shape_str(shape) -> str:
    """(1, 3, 8, 8) -> '1x3x8x8'; () -> 'scalar'."""
    return "x".join(str(d) for d in shape) if len(shape) else "scalar"
