"""
===================================================
Missing values: regimes of two indices with holes
===================================================

Real series have holes: a feed drops out, a market is closed, a sensor fails. With
``allow_nan=True``, :class:`fastgen.hmm.GaussianHMM` treats NaN entries as missing
and marginalises them out: a day with one of its two returns missing is scored on
the return that was observed, under each regime's Gaussian for that return alone,
and with full covariances EM fills in what the missing value contributes from its
conditional distribution given the observed one. This example fits three-regime
models to the daily returns of the S&P 500 and the NASDAQ Composite after removing a
growing share of the values at random, and compares them with the model fitted on the
complete data and with the common shortcut of dropping every incomplete day.

The data are the S&P 500 and NASDAQ Composite daily prices, 1999 to 2018, that the
``arch`` package ships (``data/sp500/sp500.csv.gz`` and ``data/nasdaq/nasdaq.csv.gz``,
adjusted close), read from the installed package's folder, found with
:func:`importlib.util.find_spec`; nothing is downloaded.
"""

import csv
import gzip
import importlib.util
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from fastgen.hmm import GaussianHMM

QUICK = os.environ.get("FASTGEN_DOCS_QUICK") == "1"


def load_close(name):
    """Dates (list of str) and adjusted closes (float array) of an index shipped by arch."""
    folder = Path(next(iter(importlib.util.find_spec("arch").submodule_search_locations)))
    with gzip.open(folder / "data" / name / f"{name}.csv.gz", "rt", encoding="utf-8",
                   newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [row["Date"] for row in rows], np.array([float(row["Adj Close"]) for row in rows])


sp_dates, sp500 = load_close("sp500")
nq_dates, nasdaq = load_close("nasdaq")
assert sp_dates == nq_dates, "the two files cover the same trading days"
X = 100 * np.diff(np.log(np.column_stack([sp500, nasdaq])), axis=0)  # % log returns
print(f"{len(X):,} days from {sp_dates[1]} to {sp_dates[-1]}, two features "
      f"(S&P 500, NASDAQ), correlation {np.corrcoef(X.T)[0, 1]:.2f}")

# %%
# One starting point for every fit
# --------------------------------
# Each fit starts from the same neutral parameters, computed from the observed values
# only (``np.nanstd`` ignores the holes): zero means, covariances equal to 0.3, 1 and
# 4 times the observed one with a correlation of 0.8, and a 0.98 probability of
# staying in a regime; ``init_params=""`` makes ``fit`` start there. The regimes of
# each fit are then sorted by their S&P 500 variance, so that "regime 1" means the
# calmest in every model.


def fit(X, allow_nan=False):
    sd = np.nanstd(X, axis=0)
    cov = np.outer(sd, sd) * np.array([[1.0, 0.8], [0.8, 1.0]])
    model = GaussianHMM(3, covariance_type="full", n_iter=200, tol=1e-4, init_params="",
                        allow_nan=allow_nan)
    model.startprob_ = np.full(3, 1 / 3)
    model.transmat_ = np.where(np.eye(3, dtype=bool), 0.98, 0.01)
    model.means_ = np.zeros((3, 2))
    model.covars_ = np.stack([cov * f for f in (0.3, 1.0, 4.0)])
    return model.fit(X)


def regimes(model, X):
    """Viterbi regimes of ``X`` numbered by S&P 500 variance, and that order."""
    order = np.argsort(model.covars_[:, 0, 0])
    rank = np.empty(3, dtype=int)
    rank[order] = np.arange(3)
    return rank[model.predict(X)], order


complete = fit(X)
reference, order = regimes(complete, X)
vol = np.sqrt(complete.covars_[order, 0, 0])
corr = [complete.covars_[s, 0, 1] / np.sqrt(complete.covars_[s, 0, 0] * complete.covars_[s, 1, 1])
        for s in order]
print("complete data: S&P 500 volatility by regime (%/day)", vol.round(2),
      "  correlation by regime", np.round(corr, 2))

# %%
# Remove values at random, fit again
# ----------------------------------
# Each value (one index on one day) is removed independently with probability
# ``missing``; a day can lose one return, both or none. ``allow_nan=True`` fits on
# every day as it is. Dropping incomplete days keeps only the days with both returns,
# a share of about ``(1 - missing)**2`` of them, and joins what is left into one
# shorter sequence; it can then name the regime of those days only. Each model's
# Viterbi regimes are compared with those of the complete-data model, on all days for
# ``allow_nan`` and on the kept days for dropping. The quick configuration of the
# documentation build tries three shares instead of seven.

shares = [0.1, 0.3, 0.5] if QUICK else [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
rng = np.random.default_rng(0)
results = []
for missing in shares:
    holed = X.copy()
    holed[rng.random(X.shape) < missing] = np.nan
    with_nan = fit(holed, allow_nan=True)
    states_nan, order_nan = regimes(with_nan, holed)
    kept = ~np.isnan(holed).any(axis=1)
    dropped = fit(holed[kept])
    states_drop, order_drop = regimes(dropped, holed[kept])
    results.append({
        "missing": missing,
        "kept": kept.mean(),
        "agree_nan": np.mean(states_nan == reference),
        "agree_drop": np.mean(states_drop == reference[kept]),
        "vol_nan": np.sqrt(with_nan.covars_[order_nan, 0, 0]),
        "vol_drop": np.sqrt(dropped.covars_[order_drop, 0, 0]),
    })
    print(f"{missing:.0%} missing: allow_nan agrees on {results[-1]['agree_nan']:.1%} of all "
          f"days; dropping keeps {kept.mean():.1%} of the days and agrees on "
          f"{results[-1]['agree_drop']:.1%} of them")

# %%
# The comparison
# --------------
# Left: the share of days whose regime matches the complete-data model's, and the share
# of days that dropping keeps at all. Right: the daily S&P 500 volatility of each regime
# estimated with 30 % of the values missing, against the complete data. Each point is
# one random pattern of holes, and EM can stop at a different local maximum from one
# pattern to the next, so the curves are not smooth.

fig, (ax_agree, ax_vol) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
m = [r["missing"] * 100 for r in results]
ax_agree.plot(m, [r["agree_nan"] for r in results], "o-", label="allow_nan=True (all days)")
ax_agree.plot(m, [r["agree_drop"] for r in results], "s-",
              label="drop incomplete days (kept days)")
ax_agree.plot(m, [r["kept"] for r in results], ":", color="tab:grey",
              label="share of days kept by dropping")
ax_agree.set_xlabel("values removed at random (%)")
ax_agree.set_ylabel("share of days")
ax_agree.set_ylim(0, 1.02)
ax_agree.legend(loc="lower left", fontsize="small")
ax_agree.set_title("Regimes matching the complete-data model")

at30 = next(r for r in results if np.isclose(r["missing"], 0.3))
width = 0.27
x = np.arange(3)
ax_vol.bar(x - width, vol, width, label="complete data", color="tab:grey")
ax_vol.bar(x, at30["vol_nan"], width, label="allow_nan=True")
ax_vol.bar(x + width, at30["vol_drop"], width, label="drop incomplete days")
ax_vol.set_xticks(x, labels=["regime 1 (calm)", "regime 2", "regime 3 (turbulent)"])
ax_vol.set_ylabel("S&P 500 volatility (%/day)")
ax_vol.set_title("Estimated with 30 % of the values missing")
ax_vol.legend(fontsize="small")
plt.show()
