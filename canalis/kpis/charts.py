"""Small bar charts of KPI breakdowns: a PNG when matplotlib is installed, a text bar chart always."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path

BAR_WIDTH = 30


def text_bars(labels: Sequence[str], values: Sequence[float], unit: str = "") -> str:
    """A bar chart in plain text, as a markdown code block."""
    if not labels:
        return "_no data_"
    highest = max((abs(value) for value in values), default=0) or 1
    width = max(len(str(label)) for label in labels)
    lines = []
    for label, value in zip(labels, values, strict=True):
        bar = "█" * round(BAR_WIDTH * abs(value) / highest)
        shown = f"{value:.1%}" if unit == "%" else f"{value:g}{unit}"
        lines.append(f"{str(label).ljust(width)} {bar} {shown}")
    return "```\n" + "\n".join(lines) + "\n```"


def png_bars(title: str, labels: Sequence[str], values: Sequence[float], ylabel: str = "") -> bytes | None:
    """A bar chart as PNG bytes, or None when matplotlib is not installed or there is nothing to draw."""
    if not labels:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        return None
    figure, axes = pyplot.subplots(figsize=(5, 2.8), dpi=80)
    try:
        axes.bar([str(label) for label in labels], list(values), color="#3b6ea8")
        axes.set_title(title, fontsize=10)
        axes.set_ylabel(ylabel, fontsize=8)
        axes.tick_params(labelsize=7)
        for tick in axes.get_xticklabels():
            tick.set_rotation(30 if len(labels) > 4 else 0)
            tick.set_horizontalalignment("right" if len(labels) > 4 else "center")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        pyplot.close(figure)


def save_png(data: bytes, folder: Path, name: str) -> Path:
    """Write a chart under the folder and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    path.write_bytes(data)
    return path


def inline_image(data: bytes, title: str) -> str:
    """A markdown image holding the PNG itself, so the chart shows where the markdown does."""
    return f"![{title}](data:image/png;base64,{base64.b64encode(data).decode('ascii')})"
