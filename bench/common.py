"""What every benchmark shares: the machine's description and percentile arithmetic."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from collections.abc import Sequence


def machine() -> str:
    """One line naming the machine, so every figure says where it was measured."""
    return (
        f"{os.cpu_count()} cores, {platform.machine()}, Python {sys.version.split()[0]}, "
        f"{platform.system()} {platform.release()}"
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, int(q) - 1))]
