"""The charts docs/BENCHMARKS.md shows: hit@k curves and latency against store size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .sections import SYSTEM_ORDER


def charts(r: dict[str, Any], docs: Path, stem: str = "bench") -> list[str]:
    """hit@k curves (SQuAD, ISW) and latency vs store size; returns the PNG file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    panels = [(t, r[key]["systems"]) for key, t in (("squad", "SQuAD-open (EVAL split)"), ("isw", "ISW questions"))
              if r.get(key, {}).get("systems")]
    if panels:
        fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
        for ax, (title, systems) in zip(axes[0], panels, strict=True):
            for name in [s for s in SYSTEM_ORDER if s in systems]:
                m = systems[name]
                ks = [k for k in range(1, 6) if f"hit{k}" in m]
                ax.plot(ks, [m[f"hit{k}"] for k in ks], marker="o", label=name, linewidth=2.5 if name == "briefbot" else 1.5)
            ax.set_title(title)
            ax.set_xlabel("k (passages shown)")
            ax.set_ylabel("hit@k")
            ax.set_xticks(range(1, 6))
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        names.append(f"{stem}-hit-at-k.png")
        fig.savefig(docs / names[-1], dpi=110)
        plt.close(fig)

    lat = r.get("latency", {})
    points: dict[str, list[tuple[float, float, float]]] = {kind: [] for kind in ("briefbot", "langchain")}
    for where in ("isw_embedded", "100k"):
        for kind in points:
            got = (lat.get(where) or {}).get(kind)
            if got:
                points[kind].append((got["chunks"], got["p50"], got["p95"]))
    if any(points.values()):
        fig, ax = plt.subplots(figsize=(6, 4))
        colors = {"briefbot": "tab:blue", "langchain": "tab:orange"}
        for kind, label in (("briefbot", "briefbot ask"), ("langchain", "plain LangChain similarity_search")):
            pts = sorted(points[kind])
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=colors[kind], label=f"{label} p50")
                ax.plot([p[0] for p in pts], [p[2] for p in pts], marker="x", linestyle="--", color=colors[kind],
                        label=f"{label} p95")
        server = lat.get("isw_server") or {}
        for kind, name in (("briefbot", "briefbot"), ("langchain", "plain LangChain")):
            if kind in server:
                ax.scatter([server[kind]["chunks"]], [server[kind]["p50"]], marker="s", color=colors[kind],
                           label=f"{name} p50, chroma server", zorder=5)
        ax.set_xscale("log")
        ax.set_xlabel("chunks in the store")
        ax.set_ylabel("latency per question (ms)")
        ax.set_title("Query latency vs store size (embedded Chroma)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
        fig.tight_layout()
        names.append(f"{stem}-latency.png")
        fig.savefig(docs / names[-1], dpi=110)
        plt.close(fig)
    return names
