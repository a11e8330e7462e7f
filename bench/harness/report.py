"""The side-by-side table (Markdown, printed and kept) and the JSON of a run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _fmt(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{v:,.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "–" if not a or not b else f"{a / b:.2f}×"


def side_by_side(servers: dict[str, dict[str, Any]]) -> str:
    """One row per phase: dendray and Synapse throughput, latency, CPU per op, and ratios."""
    d = servers.get("dendray", {}).get("phases", {})
    s = servers.get("synapse", {}).get("phases", {})
    head = ("| phase | dendray ops/s | Synapse ops/s | throughput d/S | dendray p50 / p95 / p99 ms "
            "| Synapse p50 / p95 / p99 ms | dendray CPU ms/op | Synapse CPU ms/op | CPU d/S | errors d / S |")
    lines = [head, "|" + "---|" * 10]
    for name in list(d) + [n for n in s if n not in d]:
        a, b = d.get(name, {}), s.get(name, {})

        def lat(x: dict[str, Any]) -> str:
            return " / ".join(_fmt(x.get(k)) for k in ("p50_ms", "p95_ms", "p99_ms")) if x else "–"

        lines.append(
            f"| {name} | {_fmt(a.get('throughput_per_s'))} | {_fmt(b.get('throughput_per_s'))} "
            f"| {_ratio(a.get('throughput_per_s'), b.get('throughput_per_s'))} | {lat(a)} | {lat(b)} "
            f"| {_fmt(a.get('cpu_ms_per_op'), 2)} | {_fmt(b.get('cpu_ms_per_op'), 2)} "
            f"| {_ratio(a.get('cpu_ms_per_op'), b.get('cpu_ms_per_op'))} "
            f"| {a.get('errors', '–')} / {b.get('errors', '–')} |")
    for key in ("idle", "peak"):
        a = servers.get("dendray", {}).get("rss_mb", {}).get(key)
        b = servers.get("synapse", {}).get("rss_mb", {}).get(key)
        lines.append(f"| RSS {key} (MB) | {_fmt(a, 0)} | {_fmt(b, 0)} | {_ratio(a, b)} |"
                     + " |" * 6)
    return "\n".join(lines)


def scaling_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| setup | room-server shards | Ray nodes | sends/s | per shard | per node "
             "| p50 / p99 ms | CPU ms/send | errors |", "|" + "---|" * 9]
    for r in rows:
        p = r["send"]
        lines.append(
            f"| {r['label']} | {r['shards']} | {r['nodes']} | {_fmt(p['throughput_per_s'])} "
            f"| {_fmt(p['throughput_per_s'] / r['shards'])} | {_fmt(p['throughput_per_s'] / r['nodes'])} "
            f"| {_fmt(p['p50_ms'])} / {_fmt(p['p99_ms'])} | {_fmt(p['cpu_ms_per_op'], 2)} "
            f"| {p['errors']} |")
    return "\n".join(lines)


def write(path: Path, run: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run, indent=2, ensure_ascii=False) + "\n")
