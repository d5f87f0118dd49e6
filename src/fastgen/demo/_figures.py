"""PNG figures of the demo, drawn with matplotlib's Agg canvas (no pyplot, no display).

matplotlib is imported inside the functions; :func:`require_matplotlib` raises
:class:`~fastgen.demo._report.SectionSkipped`-style errors the caller turns into a note.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "matplotlib_missing", "plot_filtered_vs_smoothed", "plot_image_rows", "plot_regimes",
    "plot_samples_grid",
]  # fmt: skip

# colour of each regime, calm to turbulent
REGIME_COLOURS = ("#2a9d8f", "#e9c46a", "#e76f51", "#6d597a", "#264653", "#8ab17d")


def matplotlib_missing() -> str | None:
    """None when matplotlib can be imported, else a sentence for the report."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return ("matplotlib is not installed, so no figures were drawn "
                "(pip install 'fastgen-models[demo]')")
    return None


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def plot_regimes(
    path: Path,
    dates: np.ndarray,
    close: np.ndarray,
    returns: np.ndarray,
    states: np.ndarray,
    names: Sequence[str],
    title: str,
) -> None:
    """Price (log scale) and daily returns, each day coloured by its Viterbi regime.

    Parameters
    ----------
    dates : datetime64 (n + 1,)
    close : float (n + 1,)
        Prices; day ``t + 1`` closes the return ``returns[t]``.
    returns : float (n,)
        Daily log returns in percent.
    states : int (n,)
        Regime of each return, in ``0 .. len(names) - 1``.
    """
    fig = _figure(11, 6.5)
    ax_p, ax_r = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    d = dates[1:]
    ax_p.plot(dates, close, color="0.55", lw=0.6, zorder=1)
    for k, name in enumerate(names):
        sel = states == k
        colour = REGIME_COLOURS[k % len(REGIME_COLOURS)]
        share = 100.0 * sel.mean()
        label = f"{name} ({share:.0f}% of days)"
        ax_p.scatter(d[sel], close[1:][sel], s=3, color=colour, label=label, zorder=2)
        ax_r.scatter(d[sel], returns[sel], s=2, color=colour, zorder=2)
    ax_p.set_yscale("log")
    ax_p.set_ylabel("S&P 500 (log scale)")
    ax_p.set_title(title)
    ax_p.legend(loc="upper left", markerscale=4, frameon=False)
    ax_r.set_ylabel("daily log return (%)")
    ax_r.axhline(0.0, color="0.3", lw=0.5)
    for ax in (ax_p, ax_r):
        ax.grid(alpha=0.3, lw=0.5)
    fig.tight_layout()
    fig.savefig(path)


def plot_filtered_vs_smoothed(
    path: Path,
    dates: np.ndarray,
    close: np.ndarray,
    filtered: np.ndarray,
    smoothed: np.ndarray,
    regime: str,
    window: tuple[int, int],
    title: str,
) -> None:
    """The probability of one regime, filtered (what was known that day) against
    smoothed (knowing the whole series), over the whole period and zoomed on ``window``.

    Parameters
    ----------
    dates, close : as :func:`plot_regimes`
    filtered, smoothed : float (n,)
        ``p(regime on day t | returns up to t)`` and ``| all returns``.
    regime : str
        Its name.
    window : (first, last)
        Day indices (into ``filtered``) of the zoomed panel.
    """
    fig = _figure(11, 8)
    ax_p, ax_all, ax_zoom = fig.subplots(3, 1, gridspec_kw={"height_ratios": [1.2, 1, 1.3]})
    d = dates[1:]
    a, b = window
    ax_p.plot(dates, close, color="0.35", lw=0.7)
    ax_p.axvspan(d[a], d[b], color="0.85", zorder=0)
    ax_p.set_yscale("log")
    ax_p.set_ylabel("S&P 500 (log scale)")
    ax_p.set_title(title)
    for ax, sl in ((ax_all, slice(None)), (ax_zoom, slice(a, b + 1))):
        ax.plot(d[sl], smoothed[sl], color="#264653", lw=1.0,
                label="smoothed: predict_proba (uses later days)")
        ax.plot(d[sl], filtered[sl], color="#e76f51", lw=1.0, alpha=0.9,
                label="filtered: filter / stream (days up to t only)")
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel(f"p({regime})")
        ax.grid(alpha=0.3, lw=0.5)
    ax_all.legend(loc="upper left", frameon=False, fontsize=9)
    ax_zoom.set_title(f"zoom: {d[a]} to {d[b]}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)


def plot_image_rows(
    path: Path,
    rows: Sequence[tuple[str, np.ndarray]],
    image_shape: tuple[int, int],
    title: str,
) -> None:
    """One row of images per ``(label, X)`` pair, X float (n_images, h*w) in [0, 1]."""
    n_cols = max(len(x) for _, x in rows)
    fig = _figure(1.0 * n_cols + 1.4, 1.1 * len(rows) + 0.6)
    axes = np.atleast_2d(fig.subplots(len(rows), n_cols))
    for r, (label, X) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(X):
                ax.imshow(np.clip(X[c].reshape(image_shape), 0, 1), cmap="gray_r", vmin=0, vmax=1)
            else:
                ax.set_axis_off()
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)


def plot_samples_grid(
    path: Path, X: np.ndarray, image_shape: tuple[int, int], n_cols: int, title: str
) -> None:
    """A grid of images (n, h*w) in [0, 1], ``n_cols`` per row, as one tiled picture."""
    h, w = image_shape
    n = len(X)
    n_rows = -(-n // n_cols)
    pad = 1
    tile = np.ones((n_rows * (h + pad) + pad, n_cols * (w + pad) + pad), dtype=np.float32)
    tile[:] = 0.5  # grey gutters
    for i in range(n):
        r, c = divmod(i, n_cols)
        y0, x0 = pad + r * (h + pad), pad + c * (w + pad)
        tile[y0 : y0 + h, x0 : x0 + w] = np.clip(X[i].reshape(h, w), 0, 1)
    fig = _figure(0.6 * n_cols + 0.4, 0.6 * n_rows + 0.7)
    ax = fig.subplots()
    ax.imshow(tile, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
