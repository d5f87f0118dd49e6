"""Fitted models of every family and a brute-force filter, shared by the filtering and
streaming tests."""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

import fastgen.hmm as F

LENGTHS = [40, 1, 75, 12, 90]


def _fitted():
    rng = np.random.RandomState(5)
    n = sum(LENGTHS)
    gauss = rng.randn(n, 2) + rng.randint(0, 2, (n, 1)) * 3
    symbols = rng.randint(0, 4, (n, 1))
    cases = {
        "gaussian-full": (F.GaussianHMM(3, covariance_type="full", n_iter=3, random_state=0),
                          gauss),
        "categorical": (F.CategoricalHMM(3, n_iter=3, random_state=0), symbols),
        "gmm": (F.GMMHMM(2, n_mix=2, n_iter=3, random_state=0), gauss),
        "poisson": (F.PoissonHMM(2, n_iter=3, random_state=0), rng.poisson(3.0, (n, 3))),
        "multinomial": (F.MultinomialHMM(2, n_trials=6, n_iter=3, random_state=0),
                        rng.multinomial(6, [0.2, 0.3, 0.5], n)),
        "variational-gaussian": (F.VariationalGaussianHMM(2, n_iter=3, random_state=0), gauss),
        "variational-categorical": (F.VariationalCategoricalHMM(2, n_iter=3, random_state=0),
                                    symbols),
    }  # fmt: skip
    return {k: (m.fit(X, LENGTHS), X) for k, (m, X) in cases.items()}


CASES = _fitted()


def brute_force_filter(model, X, lengths):
    """Normalised log-space forward rows, from the family's own frame log-likelihoods."""
    family = model.emission_family(model)
    log_frame = family.log_likelihood(family.prepare(family.validate_X(X)))
    with np.errstate(divide="ignore"):
        log_start, log_trans = np.log(model.startprob_), np.log(model.transmat_)
    out, a = [], 0
    for n in lengths:
        lf = log_frame[a : a + n]
        fwd = np.empty_like(lf)
        fwd[0] = log_start + lf[0]
        for t in range(1, n):
            fwd[t] = logsumexp(fwd[t - 1][:, None] + log_trans, axis=0) + lf[t]
        out.append(np.exp(fwd - logsumexp(fwd, axis=1, keepdims=True)))
        a += n
    return np.concatenate(out)
