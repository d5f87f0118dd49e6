"""
==========================================
Market regimes in S&P 500 daily returns
==========================================

Daily stock market returns alternate between quiet periods and turbulent ones.
A Gaussian hidden Markov model describes this with a few hidden *regimes*, each with
its own mean and variance of the daily return, and a transition matrix that says how
long a regime tends to last. This example fits a three-regime
:class:`fastgen.hmm.GaussianHMM` to 20 years of S&P 500 returns, colours the price
series by the most likely regime of each day, and fits hmmlearn's ``GaussianHMM``
from the same starting point to compare the answers and the time taken (both
measured in this run).

The data are the S&P 500 daily prices, 1999 to 2018, that the ``arch`` package ships
(``data/sp500/sp500.csv.gz``, adjusted close), read from the installed package by
:func:`fastgen.demo._data.load_sp500`; nothing is downloaded.
"""

import os
import time

import matplotlib.pyplot as plt
import numpy as np

from fastgen.demo._data import load_sp500, log_returns
from fastgen.hmm import GaussianHMM

QUICK = os.environ.get("FASTGEN_DOCS_QUICK") == "1"

# %%
# Daily log returns
# -----------------
# The observations are the daily log returns in percent,
# ``100 * (log(price[t]) - log(price[t - 1]))``: one sequence of about 5,000 trading
# days with one feature.

prices = load_sp500()
returns = log_returns(prices.close)
X = returns.reshape(-1, 1)
days = prices.dates[1:]  # the day each return ends on
print(f"{prices.source}: {len(prices.close):,} days, {prices.dates[0]} to {prices.dates[-1]}")

# %%
# A deterministic starting point
# ------------------------------
# EM finds a local maximum of the likelihood, which depends on where it starts. To
# compare two libraries number for number they must start from the same parameters,
# so instead of a random initialisation the days are grouped by the tercile of their
# volatility over the surrounding month (21 trading days); each group gives a
# starting mean and variance, and every regime starts with a 0.98 probability of
# staying where it is. ``init_params=""`` tells ``fit`` to keep these parameters as
# the starting point. The quick configuration of the documentation build runs at most
# 25 EM iterations instead of 200.

k = 3
n_iter = 25 if QUICK else 200
window = 21
volatility = np.sqrt(np.convolve(returns**2, np.full(window, 1 / window), mode="same"))
group = np.digitize(volatility, np.quantile(volatility, [1 / 3, 2 / 3]))
start = {
    "startprob_": np.full(k, 1 / k),
    "transmat_": np.where(np.eye(k, dtype=bool), 0.98, 0.01),
    "means_": np.array([[returns[group == g].mean()] for g in range(k)]),
    "covars_": np.array([[returns[group == g].var()] for g in range(k)]),
}


def initialised(hmm_class):
    """An unfitted HMM of ``hmm_class`` whose EM starts from ``start``."""
    model = hmm_class(k, covariance_type="diag", n_iter=n_iter, tol=1e-6,
                               init_params="")
    for name, value in start.items():
        setattr(model, name, value.copy())
    return model


t0 = time.perf_counter()
model = initialised(GaussianHMM).fit(X)
fit_fastgen = time.perf_counter() - t0
states = model.predict(X)  # Viterbi: the most likely sequence of regimes
print(f"EM iterations run: {model.monitor_.iter} (at most {n_iter})")
print(f"log-likelihood: {model.score(X):.4f}")

# %%
# What the regimes are
# --------------------
# The regimes are sorted by their volatility. The expected duration of a regime is
# ``1 / (1 - p)``, ``p`` its probability of staying, in trading days; annualised
# volatility is the daily one times the square root of 252 trading days.

order = np.argsort(model.covars_[:, 0, 0])
names = ["calm", "normal", "turbulent"]
for name, s in zip(names, order, strict=True):
    daily = np.sqrt(model.covars_[s, 0, 0])
    print(f"{name:9s}  mean {model.means_[s, 0]:+.3f} %/day   volatility {daily:.2f} %/day "
          f"({daily * np.sqrt(252):.0f} % a year)   expected duration "
          f"{1 / (1 - model.transmat_[s, s]):.0f} days   share of days "
          f"{np.mean(states == s):.1%}")

# %%
# Regimes on the price
# --------------------
# Each day of the price series (log scale) is coloured by its Viterbi regime; the
# lower panel shows the returns themselves.

colours = {"calm": "tab:green", "normal": "tab:orange", "turbulent": "tab:red"}
fig, (ax_price, ax_ret) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True,
                                       height_ratios=[2, 1], layout="constrained")
ax_price.plot(days, prices.close[1:], color="lightgrey", lw=0.8, zorder=0)
for name, s in zip(names, order, strict=True):
    on = states == s
    ax_price.scatter(days[on], prices.close[1:][on], s=2, color=colours[name], label=name)
    ax_ret.scatter(days[on], returns[on], s=2, color=colours[name])
ax_price.set_yscale("log")
ticks = [800, 1000, 1500, 2000, 3000]
ax_price.set_yticks(ticks, labels=[f"{t:,}" for t in ticks])
ax_price.minorticks_off()
ax_price.set_ylabel("S&P 500 (log scale)")
ax_price.legend(loc="upper left", markerscale=5, title="regime")
ax_price.set_title(f"Three-regime GaussianHMM, {len(returns):,} daily returns")
ax_ret.set_ylabel("daily log return (%)")
plt.show()

# %%
# Same answers as hmmlearn, and the time taken
# --------------------------------------------
# hmmlearn's ``GaussianHMM`` runs the same EM from the same starting parameters. The
# log-likelihoods agree to rounding and the Viterbi paths are identical. The times are
# one ``fit`` each, measured here; at this size (one short sequence, three states) a
# fit takes milliseconds, so they mostly show fixed per-iteration costs rather than
# throughput.

import hmmlearn.hmm  # noqa: E402

t0 = time.perf_counter()
reference = initialised(hmmlearn.hmm.GaussianHMM).fit(X)
fit_hmmlearn = time.perf_counter() - t0
print(f"log-likelihood: fastgen {model.score(X):.6f}, hmmlearn {reference.score(X):.6f}")
print("identical Viterbi paths:", np.array_equal(states, reference.predict(X)))
print(f"fit ({model.monitor_.iter} and {reference.monitor_.iter} EM iterations): "
      f"fastgen {fit_fastgen * 1e3:.1f} ms, hmmlearn {fit_hmmlearn * 1e3:.1f} ms")
