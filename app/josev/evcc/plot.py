"""A session plot as a hand-written SVG: voltage, current, power and SoC over time.

Why by hand: four line charts need no plotting library, and the appliance image stays small.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from josev.secc.common.actions import Progress

PANELS = (("voltage", "Voltage", "V", "#1f77b4"), ("current", "Current", "A", "#d62728"),
          ("power", "Power", "kW", "#2ca02c"), ("soc", "State of charge", "%", "#9467bd"))


def _nice(top: float) -> float:
    if top <= 0:
        return 1.0
    for step in (1, 2, 2.5, 5, 10):
        mag = 10 ** (len(str(int(top))) - 1)
        if top <= step * mag:
            return float(step * mag)
    return top


def session_svg(samples: Sequence[Progress], title: str = "Charging session") -> str:
    width, panel_h, left, right, top_pad = 900, 160, 70, 20, 40
    height = top_pad + panel_h * len(PANELS) + 40
    t0 = samples[0].now if samples else 0.0
    t_end = max((s.now - t0 for s in samples), default=1.0) or 1.0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="24" font-size="16">{escape(title)}</text>']
    plot_w = width - left - right
    for i, (key, label, unit, color) in enumerate(PANELS):
        y0 = top_pad + i * panel_h
        inner = panel_h - 30
        values = [(s.now - t0, s.values.get(key, 0.0) / (1000.0 if key == "power" else 1.0))
                  for s in samples]
        vmax = _nice(max((v for _, v in values), default=1.0) * 1.05)
        low = min((v for _, v in values), default=0.0)
        vmin = -_nice(-low * 1.05) if low < 0 else 0.0  # discharge (BPT): below the zero line
        if key == "soc":
            vmin, vmax = 0.0, 100.0
        span = vmax - vmin
        out.append(f'<rect x="{left}" y="{y0}" width="{plot_w}" height="{inner}" fill="none" '
                   f'stroke="#999"/>')
        out.append(f'<text x="{left + 6}" y="{y0 + 14}">{escape(label)} ({unit})</text>')
        for frac in (0.0, 0.5, 1.0):
            y = y0 + inner - frac * inner
            out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                       f'{vmin + span * frac:g}</text>')
        if values:
            pts = " ".join(f"{left + t / t_end * plot_w:.1f},"
                           f"{y0 + inner - (v - vmin) / span * inner:.1f}" for t, v in values)
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" '
                       f'points="{pts}"/>')
    y_axis = top_pad + panel_h * len(PANELS) - 14
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = left + frac * plot_w
        out.append(f'<text x="{x:.1f}" y="{y_axis}" text-anchor="middle">'
                   f'{t_end * frac:.1f} s</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
