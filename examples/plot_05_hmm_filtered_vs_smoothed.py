"""
==========================================================
Live regime probabilities: filtering without look-ahead
==========================================================

``predict_proba`` of an HMM gives each day's regime probabilities given the *whole*
sequence, including the days after it (smoothing). A model run live cannot see the
future: on each day it knows only the returns up to that day. This example fits a
:class:`fastgen.hmm.GaussianHMM` on S&P 500 returns from 1999 to 2006, then feeds the
returns of 2007 onwards one day at a time to an :class:`fastgen.hmm.HMMStream`, which
returns the *filtered* probabilities ``p(regime on day t | returns up to day t)``, and
to a second stream that waits five days before it answers (a fixed-lag smoother). It
compares the three around the 2008 financial crisis.

The data are the S&P 500 daily prices, 1999 to 2018, that the ``arch`` package ships
(``data/sp500/sp500.csv.gz``), read from the installed package by
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
# Fit on the past
# ---------------
# The model is fitted on the daily log returns (percent) up to the end of 2006.
# Regimes of a market last weeks or months, so EM starts from "sticky" transitions
# (a probability of 0.98 of staying in a regime) that ``init_params="mc"`` leaves in
# place: ``fit`` initialises only the means and covariances (by k-means), and
# ``n_init=4`` runs four such starts and keeps the one with the highest
# log-likelihood (the quick configuration of the documentation build runs two, with
# at most 30 EM iterations each instead of 200).

prices = load_sp500()
returns = log_returns(prices.close)
days = prices.dates[1:]
past = days < np.datetime64("2007-01-01")
X_past, X_live = returns[past].reshape(-1, 1), returns[~past].reshape(-1, 1)
live_days = days[~past]

model = GaussianHMM(3, covariance_type="diag", n_iter=30 if QUICK else 200, tol=1e-4,
                    n_init=2 if QUICK else 4, random_state=0, init_params="mc")
model.startprob_ = np.full(3, 1 / 3)
model.transmat_ = np.where(np.eye(3, dtype=bool), 0.98, 0.01)
model.fit(X_past)
turbulent = int(np.argmax(model.covars_[:, 0, 0]))
print(f"fitted on {len(X_past):,} days to {days[past][-1]}; "
      f"regime volatilities (%/day): {np.sqrt(np.sort(model.covars_[:, 0, 0])).round(2)}")

# %%
# Feed the new days one at a time
# -------------------------------
# :meth:`~fastgen.hmm.GaussianHMM.stream` returns an :class:`~fastgen.hmm.HMMStream`.
# Each call of ``update`` takes the next observations and returns their filtered
# probabilities; the stream carries the forward message from call to call, so feeding
# one day at a time gives what ``model.filter`` gives on the whole period at once.
# With ``lag=5`` a stream holds each day back until five more days have arrived and
# then returns its smoothed probabilities given those five days; ``flush`` releases
# the last held days at the end.

live = model.stream()
lagged = model.stream(lag=5)
filtered, fixed_lag, seconds = [], [], []
for t in range(len(X_live)):
    start = time.perf_counter()
    filtered.append(live.update(X_live[t:t + 1]).filtered)
    seconds.append(time.perf_counter() - start)
    fixed_lag.append(lagged.update(X_live[t:t + 1]).smoothed)
fixed_lag.append(lagged.flush().smoothed)
filtered, fixed_lag = np.concatenate(filtered), np.concatenate(fixed_lag)
smoothed = model.predict_proba(X_live)  # conditions on every day of the period

print(f"{len(X_live):,} updates of one day, median {np.median(seconds) * 1e6:.0f} "
      "microseconds each (measured in this run)")
print("day by day equals model.filter on the whole period:",
      np.allclose(filtered, model.filter(X_live), rtol=0, atol=1e-10))
print("log-likelihood of the stream equals model.score:",
      np.isclose(live.log_likelihood_[0], model.score(X_live)))

# %%
# How early is a turbulent regime recognised?
# -------------------------------------------
# In the zoom on mid-2008 to mid-2009 below, the filtered probability (no look-ahead)
# can react only after large returns have been seen, and it swings with each day's
# return; the smoothed one, which knows what comes next, typically moves earlier and
# more steadily; the fixed-lag smoother, answering five days late, lies in between.
# A backtest that used ``predict_proba`` would be using information from the future.

window = (live_days >= np.datetime64("2008-06-01")) & (live_days < np.datetime64("2009-07-01"))
fig, (ax_ret, ax_p) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True,
                                   height_ratios=[1, 1.4], layout="constrained")
ax_ret.bar(live_days[window], X_live[window, 0], width=1.0, color="tab:grey")
ax_ret.set_ylabel("daily log return (%)")
ax_ret.set_title("S&P 500, regimes of a model fitted on 1999-2006")
for label, p, style in [
    ("filtered: days up to t (HMMStream, lag=0)", filtered, dict(color="tab:red", lw=1.6)),
    ("fixed-lag: up to t + 5 (HMMStream, lag=5)", fixed_lag,
     dict(color="tab:purple", lw=1.2, ls="--")),
    ("smoothed: the whole period (predict_proba)", smoothed, dict(color="tab:blue", lw=1.2)),
]:
    ax_p.plot(live_days[window], p[window, turbulent], label=label, **style)
ax_p.set_ylabel("p(turbulent regime)")
ax_p.set_ylim(-0.02, 1.02)
fig.legend(loc="outside lower center", ncols=2, fontsize="small")
plt.show()

# %%
# Over the whole live period, the days classified as turbulent (probability above
# one half) by each method:

for label, p in [("filtered", filtered), ("fixed-lag 5", fixed_lag), ("smoothed", smoothed)]:
    print(f"{label:12s} {np.mean(p[:, turbulent] > 0.5):.1%} of days turbulent")
