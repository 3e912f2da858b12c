"""A measured number against its issue's target: ``met``, ``MISSED`` or ``not measured``.

Shared by ``make bench`` (``benchmarks.run``) and ``make bench-scale``
(``benchmarks.scale_report``), so that both documents judge alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: A target: the comparison (``>=``, ``<=`` or ``<``) and the bound.
Target = tuple[str, float]


def judge(numbers: Mapping[str, Any], targets: Mapping[str, Target]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, (op, target) in targets.items():
        value = numbers.get(name)
        if not isinstance(value, (int, float)):
            out[name] = "not measured"
            continue
        met = {">=": value >= target, "<=": value <= target, "<": value < target}[op]
        out[name] = f"{'met' if met else 'MISSED'} ({value} {op} {target} wanted)"
    return out
