"""Sizes of the demo (full and ``--quick``) and what every section receives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastgen.demo._report import Progress

__all__ = ["FULL", "QUICK", "Context", "Sizes"]


@dataclass(frozen=True)
class Sizes:
    """How much data and training each section uses.

    ``None`` means the whole data set.
    """

    name: str
    text_docs: int | None  # reviews (train + test)
    hmm_days: int | None  # trading days of S&P 500 prices
    hmm_states: int
    hmm_iter: int  # EM iterations at most (tol 1e-6)
    images: int | None  # digit images (train + test)
    ae_epochs: int
    vae_epochs: int
    repeat: int  # timed runs per operation (best is reported)


FULL = Sizes("full", text_docs=None, hmm_days=None, hmm_states=3, hmm_iter=300,
             images=None, ae_epochs=80, vae_epochs=100, repeat=3)
QUICK = Sizes("quick", text_docs=3_000, hmm_days=1_200, hmm_states=3, hmm_iter=40,
              images=600, ae_epochs=1, vae_epochs=1, repeat=1)


@dataclass
class Context:
    """Output folder, sizes, seed and the progress printer shared by the sections."""

    out: Path
    sizes: Sizes
    seed: int
    log: Progress
    figures: bool = True  # False when matplotlib is missing

    def path(self, name: str) -> Path:
        return self.out / name
