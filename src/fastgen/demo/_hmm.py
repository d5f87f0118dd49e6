"""Section 2: market regimes in S&P 500 daily returns with a Gaussian HMM.

The observations are daily log returns (percent), one sequence of ~5,000 trading days.
Hidden states are regimes that differ mostly in volatility; EM starts from an explicit,
deterministic point (states seeded by terciles of a 21-day rolling volatility, sticky
transitions) so that fastgen and hmmlearn fit from the same parameters and can be
compared number for number.
"""

from __future__ import annotations

import math

import numpy as np

from fastgen.demo._context import Context
from fastgen.demo._data import load_sp500, log_returns
from fastgen.demo._report import Section, Speed, timed

__all__ = ["initial_params", "regime_names", "run_hmm"]

TITLE = "Gaussian HMM: market regimes in S&P 500 daily returns"
MODEL_FILE = "sp500_regimes.fgm"
BATCH_INPUT = "sp500_returns.npy"
BATCH_OUTPUT = "sp500_regimes_batch.npy"
FIGURE = "hmm_regimes.png"
FILTER_FIGURE = "hmm_filtered_vs_smoothed.png"
ZOOM_DAYS = 120  # trading days either side of the zoomed episode
TOL = 1e-6
VOL_WINDOW = 21  # trading days, about one month
STAY = 0.98  # initial probability of staying in a regime


def regime_names(k: int) -> list[str]:
    """Names of the regimes sorted by volatility, lowest first."""
    if k == 2:
        return ["calm", "turbulent"]
    if k == 3:
        return ["calm", "normal", "turbulent"]
    return [f"regime {i + 1}" for i in range(k)]


def initial_params(returns: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Deterministic EM starting point from volatility quantiles.

    Each day is put in one of ``k`` groups by the quantile of its centred
    ``VOL_WINDOW``-day root mean square return; the groups give the initial means and
    variances, ``startprob_`` is uniform and ``transmat_`` keeps a regime with
    probability ``STAY``.  Shapes follow hmmlearn's diag convention for one feature.
    """
    r = np.asarray(returns, dtype=np.float64)
    vol = np.sqrt(np.convolve(r * r, np.full(VOL_WINDOW, 1.0 / VOL_WINDOW), mode="same"))
    group = np.searchsorted(np.quantile(vol, np.arange(1, k) / k), vol, side="right")
    trans = np.full((k, k), (1.0 - STAY) / max(k - 1, 1))
    np.fill_diagonal(trans, STAY if k > 1 else 1.0)
    return {
        "startprob_": np.full(k, 1.0 / k),
        "transmat_": trans,
        "means_": np.array([[r[group == i].mean()] for i in range(k)]),
        "covars_": np.array([[r[group == i].var()] for i in range(k)]),
    }


def _model(module, k: int, n_iter: int, params: dict[str, np.ndarray]):
    m = module.GaussianHMM(k, covariance_type="diag", init_params="", n_iter=n_iter, tol=TOL)
    for name, value in params.items():
        setattr(m, name, value.copy())
    return m


def _episodes(states: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs of equal states: (state, first index, last index inclusive)."""
    cuts = np.flatnonzero(np.diff(states)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(states)]]) - 1
    return [(int(states[s]), int(s), int(e)) for s, e in zip(starts, ends, strict=True)]


def _gaussian_loglik(r: np.ndarray) -> float:
    """Log-likelihood of one Gaussian fitted by maximum likelihood (no regimes)."""
    var = float(np.var(r))
    return -0.5 * len(r) * (math.log(2.0 * math.pi * var) + 1.0)


def run_hmm(ctx: Context) -> Section:
    """Fit, explain the regimes, compare with hmmlearn, save, reload, batch-predict, plot."""
    import fastgen
    import fastgen.hmm as fg_hmm
    from fastgen.batch import predict_file

    sec = Section("hmm", TITLE)
    prices = load_sp500(ctx.sizes.hmm_days)
    r = log_returns(prices.close)
    X = r.reshape(-1, 1)
    k, n_iter, rep = ctx.sizes.hmm_states, ctx.sizes.hmm_iter, ctx.sizes.repeat
    start = initial_params(r, k)
    sec.intro.append(
        f"Data: {prices.source}: {len(prices.close):,} trading days "
        f"({prices.dates[0]} to {prices.dates[-1]}), {len(r):,} daily log returns in percent, "
        f"one sequence.  Model: `GaussianHMM({k}, covariance_type='diag', init_params='', "
        f"n_iter={n_iter}, tol={TOL:g})`, started from volatility terciles of a "
        f"{VOL_WINDOW}-day rolling window and {STAY:g} sticky transitions (the same start "
        "for hmmlearn).  At this size each call takes milliseconds, so the times below "
        "mostly measure per-call overhead, not throughput (the benchmarks time large inputs)."
    )

    ctx.log(f"hmm: fitting fastgen GaussianHMM on {len(r):,} days")
    model, fit_s = timed(lambda: _model(fg_hmm, k, n_iter, start).fit(X), rep)
    loglik, score_s = timed(lambda: model.score(X), rep)
    states, pred_s = timed(lambda: model.predict(X), rep)
    post, proba_s = timed(lambda: model.predict_proba(X), rep)

    # regimes ordered by volatility: rank[state] = position in the calm..turbulent order
    var = model.covars_[:, 0, 0]
    order = np.argsort(var)
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k)
    names = regime_names(k)
    ordered = rank[states]
    episodes = _episodes(ordered)
    rows = []
    for pos, s in enumerate(order):
        mine = [e for e in episodes if e[0] == pos]
        longest = max(mine, key=lambda e: e[2] - e[1], default=None)
        span = "-"
        if longest is not None:
            a, b = prices.dates[longest[1] + 1], prices.dates[longest[2] + 1]
            span = f"{a} to {b} ({longest[2] - longest[1] + 1} days)"
        stay = float(model.transmat_[s, s])
        rows.append([
            names[pos],
            f"{model.means_[s, 0]:+.3f}",
            f"{math.sqrt(var[s]):.2f}",
            f"{math.sqrt(252.0 * var[s]):.0f}",
            f"{100.0 * np.mean(ordered == pos):.1f}",
            f"{1.0 / (1.0 - stay):.0f}" if stay < 1 else "inf",
            str(len(mine)),
            span,
        ])
    sec.tables.append((
        "Regimes (from the fitted parameters; days by Viterbi path), lowest volatility first:",
        ["regime", "mean return (%/day)", "volatility (%/day)", "annualised vol (%)",
         "share of days (%)", "expected duration (days)", "episodes", "longest episode"],
        rows,
    ))

    n_params = (k - 1) + k * (k - 1) + 2 * k
    single = _gaussian_loglik(r)
    sec.metric("log-likelihood (HMM)", loglik, ".2f")
    sec.metric("log-likelihood per day (HMM)", loglik / len(r), ".4f")
    sec.metric("log-likelihood, one Gaussian (no regimes)", single, ".2f")
    sec.metric("BIC (HMM)", -2 * loglik + n_params * math.log(len(r)), ".1f")
    sec.metric("BIC (one Gaussian)", -2 * single + 2 * math.log(len(r)), ".1f")
    sec.metric("EM iterations", int(model.monitor_.iter))
    sec.metric(f"EM converged (gain < {TOL:g} before {n_iter} iterations)",
               bool(model.monitor_.iter < n_iter))
    sec.metric("days whose posterior is > 0.9 for one regime",
               float(np.mean(post.max(axis=1) > 0.9)), ".1%")

    speed = {
        "fit": Speed(f"fit (EM, {len(r):,} days)", fit_s, "hmmlearn", None),
        "score": Speed("score (forward)", score_s, "hmmlearn", None),
        "predict": Speed("predict (Viterbi)", pred_s, "hmmlearn", None),
        "proba": Speed("predict_proba (forward-backward)", proba_s, "hmmlearn", None),
    }
    try:
        from hmmlearn import hmm as hl_hmm
    except ImportError:
        sec.note = "hmmlearn is not installed: no comparison with it."
    else:
        ctx.log("hmm: fitting hmmlearn from the same starting point")
        ref, speed["fit"].incumbent_s = timed(lambda: _model(hl_hmm, k, n_iter, start).fit(X), rep)
        ref_ll, speed["score"].incumbent_s = timed(lambda: ref.score(X), rep)
        ref_states, speed["predict"].incumbent_s = timed(lambda: ref.predict(X), rep)
        ref_post, speed["proba"].incumbent_s = timed(lambda: ref.predict_proba(X), rep)
        sec.check("same EM iterations as hmmlearn", ref.monitor_.iter == model.monitor_.iter,
                  f"hmmlearn {ref.monitor_.iter}, fastgen {model.monitor_.iter}")
        rel = abs(ref_ll - loglik) / abs(ref_ll)
        sec.check("same log-likelihood as hmmlearn", rel <= 1e-8,
                  f"hmmlearn {ref_ll:.6f}, relative diff {rel:.1e}")
        err = max(float(np.max(np.abs(getattr(ref, n) - getattr(model, n))))
                  for n in ("startprob_", "transmat_", "means_", "covars_"))
        sec.check("same fitted parameters as hmmlearn", err <= 1e-6, f"max abs diff {err:.1e}")
        n_diff = int(np.sum(ref_states != states))
        sec.check("same Viterbi path as hmmlearn", n_diff == 0, f"{n_diff} days differ")
        err = float(np.max(np.abs(ref_post - post)))
        sec.check("same posteriors as hmmlearn", err <= 1e-6, f"max abs diff {err:.1e}")
    sec.speed.extend(speed.values())

    ctx.log("hmm: save, reload, batch predict")
    model_path = ctx.path(MODEL_FILE)
    fastgen.save(model, model_path)
    loaded = fastgen.load(model_path)
    rel = abs(loaded.score(X) - loglik) / abs(loglik)
    same = bool(np.array_equal(loaded.predict(X), states)) and rel <= 1e-12
    sec.check("reloaded model gives the same Viterbi path and score", same,
              f"score relative diff {rel:.1e}")
    np.save(ctx.path(BATCH_INPUT), X)
    batch = predict_file(model_path, ctx.path(BATCH_INPUT), ctx.path(BATCH_OUTPUT))
    batch_states = np.load(ctx.path(BATCH_OUTPUT), allow_pickle=False)
    same = batch_states.shape == states.shape and bool(np.array_equal(batch_states, states))
    sec.check("batch predict_file equals in-memory predict", same,
              f"{batch.rows:,} rows in {batch.chunks} chunk(s)")
    sec.files += [MODEL_FILE, BATCH_INPUT, BATCH_OUTPUT]

    # what was knowable on each day: filtering, offline and as a live stream
    filtered = model.filter(X)
    stream = model.stream()
    live = np.concatenate([stream.update(X[t : t + 1]).filtered for t in range(len(X))])
    err = float(np.max(np.abs(live - filtered)))
    sec.check("a stream fed one day at a time equals filter()", err <= 1e-12,
              f"max abs diff {err:.1e}")
    turbulent = order[-1]
    flip = np.argmax(filtered, axis=1) != np.argmax(post, axis=1)
    sec.metric("days whose most likely regime changes once later days are known", flip.mean(),
               ".1%")
    sec.metric(f"mean |filtered - smoothed| p({names[-1]})",
               float(np.mean(np.abs(filtered[:, turbulent] - post[:, turbulent]))), ".3f")

    if ctx.figures:
        from fastgen.demo._figures import plot_regimes

        plot_regimes(ctx.path(FIGURE), prices.dates, prices.close, r, ordered, names,
                     f"S&P 500 coloured by the {k} HMM regimes (Viterbi path)")
        sec.files.append(FIGURE)
        from fastgen.demo._figures import plot_filtered_vs_smoothed

        # zoom on the longest turbulent episode of the Viterbi path
        longest = max((e for e in episodes if e[0] == k - 1), key=lambda e: e[2] - e[1],
                      default=(k - 1, 0, len(r) - 1))  # fmt: skip
        window = (max(longest[1] - ZOOM_DAYS, 0), min(longest[2] + ZOOM_DAYS, len(r) - 1))
        plot_filtered_vs_smoothed(
            ctx.path(FILTER_FIGURE), prices.dates, prices.close, filtered[:, turbulent],
            post[:, turbulent], names[-1], window,
            f"p({names[-1]} regime): filtered (no look-ahead) vs smoothed",
        )  # fmt: skip
        sec.files.append(FILTER_FIGURE)
    return sec
