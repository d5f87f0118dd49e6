"""
======================================================
How many regimes? BIC and restarts of EM
======================================================

The number of hidden states of an HMM is not learned by ``fit``: more states always
fit the training data at least as well, so the log-likelihood alone cannot choose.
The Bayesian information criterion (BIC) adds a penalty for every free parameter,
``BIC = -2 log L + p log n``, and the lowest BIC is preferred.
:func:`fastgen.hmm.select_n_components` fits a candidate for each number of states
and returns the best together with every candidate's BIC. Because EM only finds a
local maximum, each candidate is fitted from several random starts (``n_init``) and
the best start is kept; this example also shows how far apart those starts end.

The data are the daily log returns (percent) of the S&P 500, 1999 to 2018, from the
prices that the ``arch`` package ships (``data/sp500/sp500.csv.gz``), read from the
installed package by :func:`fastgen.demo._data.load_sp500`; nothing is downloaded.
"""

import os
import time

import matplotlib.pyplot as plt
import numpy as np

from fastgen.demo._data import load_sp500, log_returns
from fastgen.hmm import GaussianHMM, select_n_components

QUICK = os.environ.get("FASTGEN_DOCS_QUICK") == "1"

returns = log_returns(load_sp500().close)
X = returns.reshape(-1, 1)
print(f"{len(X):,} daily returns")

# %%
# One call for all candidates
# ---------------------------
# The template estimator gives every setting except ``n_components``; the candidates
# are clones of it. All restarts of all candidates run in one batch on fastgen's
# threads (:func:`fastgen.get_num_threads`); the result does not depend on their
# number. One to six states are tried, each with six restarts of at most 200 EM
# iterations (the quick configuration of the documentation build: four restarts of at
# most 100 iterations).

candidates = range(1, 7)
n_init = 4 if QUICK else 6
n_iter = 100 if QUICK else 200
template = GaussianHMM(covariance_type="diag", n_iter=n_iter, tol=1e-3,
                       random_state=0)
start = time.perf_counter()
best, bic = select_n_components(template, X, n_components=candidates, n_init=n_init)
elapsed = time.perf_counter() - start
print(f"{len(candidates) * n_init} EM fits in {elapsed:.2f} s (measured in this run)")
for k, value in bic.items():
    print(f"{k} states: BIC {value:,.1f}")
print(f"lowest BIC: {best.n_components} states")

# %%
# Each candidate's BIC is ``-2 log L + p log n``; for a Gaussian HMM with ``k`` states
# and one feature, ``p`` counts ``k - 1`` start probabilities, ``k (k - 1)``
# transition probabilities and ``2 k`` means and variances. The log-likelihood of
# the chosen model, recomputed from its BIC, is shown beside it.

ks = np.array(list(bic))
values = np.array(list(bic.values()))
n_params = (ks - 1) + ks * (ks - 1) + 2 * ks
log_l = -(values - n_params * np.log(len(X))) / 2
print(f"log-likelihood of the chosen model: {log_l[ks == best.n_components][0]:,.1f} "
      f"(score: {best.score(X):,.1f})")

# %%
# Restarts of EM
# --------------
# ``n_init`` is a parameter of every fastgen HMM: ``fit`` runs that many starts and
# keeps the one with the highest log-likelihood; ``restart_objectives_`` records each
# start's final log-likelihood, in seed order. The spread shows how much a single
# random start can lose. The same holds inside ``select_n_components``: a candidate
# whose restarts all stop at a poor local maximum gets a higher BIC than it deserves,
# so with few restarts (as in the quick build of this page) the BIC curve can have a
# bump and the choice can change; more restarts make it more reliable.

restarts = GaussianHMM(best.n_components, covariance_type="diag",
                       n_iter=n_iter, tol=1e-3, random_state=1,
                       n_init=8 if QUICK else 12).fit(X)
objectives = restarts.restart_objectives_
print(f"{len(objectives)} starts of {best.n_components} states: log-likelihood from "
      f"{objectives.min():,.1f} to {objectives.max():,.1f}")

fig, (ax_bic, ax_restarts) = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained",
                                          width_ratios=[1.4, 1])
ax_bic.plot(ks, values, marker="o")
ax_bic.plot(best.n_components, bic[best.n_components], marker="o", ms=12, mfc="none",
            color="tab:red", label="lowest BIC")
ax_bic.set_xticks(ks)
ax_bic.set_xlabel("number of states")
ax_bic.set_ylabel("BIC (lower is better)")
ax_bic.legend()
ax_bic.set_title(f"select_n_components, n_init={n_init}")
ax_restarts.plot(np.arange(1, len(objectives) + 1), objectives, "o", color="tab:grey")
ax_restarts.axhline(objectives.max(), color="tab:red", lw=1, label="kept by fit")
ax_restarts.set_xlabel("start (seed order)")
ax_restarts.set_ylabel("final log-likelihood")
ax_restarts.set_title(f"{best.n_components} states, n_init={len(objectives)}")
ax_restarts.legend()
plt.show()
