"""partial_fit: stepwise (online) EM over chunks of whole sequences, every HMM family.

What is checked against what:

* the first call equals one EM iteration of ``fit`` exactly (fresh model and fitted one);
* the second call against a NumPy reference of the mixing rule (scaling, step size,
  Gaussian M-step) and, for the variational models, against the natural-gradient
  step of stochastic variational inference;
* repeated passes over chunks against batch EM's log-likelihood on the same data;
* how a chunk is split into sequences or ordered does not change its weight;
* bad input, a changed ``n_features`` or ``params``, and model files.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from modelfile_tools import npy, tamper
from numpy.testing import assert_allclose, assert_array_equal

import fastgen
from fastgen._modelfile import ModelFileError
from fastgen.hmm import (
    GMMHMM,
    CategoricalHMM,
    GaussianHMM,
    MultinomialHMM,
    PoissonHMM,
    VariationalCategoricalHMM,
    VariationalGaussianHMM,
)
from fastgen.hmm._engine import step_size

# --------------------------------------------------------------------------- data

K = 3
N_SYMBOLS = 4
N_TRIALS = 10


def hidden_states(rng: np.random.Generator, n: int, k: int = K) -> np.ndarray:
    """Sticky piecewise-constant states."""
    runs = rng.geometric(0.15, size=n)
    return np.repeat(rng.integers(k, size=n), runs)[:n]


def emit(kind: str, states: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(states)
    if kind in ("gaussian", "vgaussian"):
        centres = np.array([[-4.0, 0.0], [0.0, 4.0], [4.0, 0.0]])
        return centres[states] + rng.normal(size=(n, 2))
    if kind == "gmm":
        centres = np.array([[[-5.0, 0.0], [-3.0, 2.0]], [[0.0, 4.0], [2.0, 6.0]],
                            [[4.0, 0.0], [6.0, -2.0]]])  # fmt: skip
        return centres[states, rng.integers(2, size=n)] + 0.7 * rng.normal(size=(n, 2))
    if kind in ("categorical", "vcategorical"):
        table = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7]])
        cdf = np.cumsum(table, axis=1)[states]
        return (cdf < rng.random((n, 1))).sum(axis=1, keepdims=True).clip(0, N_SYMBOLS - 1)
    if kind == "poisson":
        rates = np.array([[1.0, 8.0, 2.0], [6.0, 1.0, 1.0], [2.0, 2.0, 9.0]])
        return rng.poisson(rates[states])
    assert kind == "multinomial"
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.1, 0.7]])
    return np.stack([rng.multinomial(N_TRIALS, probs[s]) for s in states])


def sequences(kind: str, n_seq: int, n_steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.concatenate([emit(kind, hidden_states(rng, n_steps), rng) for _ in range(n_seq)])
    return X, np.full(n_seq, n_steps)


def make(kind: str, **kw):
    kw.setdefault("random_state", 0)
    if kind == "gaussian":
        return GaussianHMM(K, **kw)
    if kind == "gaussian-full":
        return GaussianHMM(K, covariance_type="full", **kw)
    if kind == "gmm":
        return GMMHMM(K, n_mix=2, **kw)
    if kind == "categorical":
        return CategoricalHMM(K, n_features=N_SYMBOLS, **kw)
    if kind == "poisson":
        return PoissonHMM(K, **kw)
    if kind == "multinomial":
        return MultinomialHMM(K, n_trials=N_TRIALS, **kw)
    if kind == "vgaussian":
        return VariationalGaussianHMM(K, covariance_type="diag", **kw)
    assert kind == "vcategorical"
    return VariationalCategoricalHMM(K, n_features=N_SYMBOLS, **kw)


KINDS = ["gaussian", "gaussian-full", "gmm", "categorical", "poisson", "multinomial",
         "vgaussian", "vcategorical"]  # fmt: skip


def data_kind(kind: str) -> str:
    return "gaussian" if kind == "gaussian-full" else kind


def fitted_state(model) -> dict:
    """Every fitted parameter of ``model`` (the chain and the family's attributes)."""
    names = ("startprob_", "transmat_", *model.emission_family.state_attributes)
    return {n: getattr(model, n) for n in names if n in vars(model)}


def assert_same_state(a, b, *, rtol: float = 0.0, atol: float = 0.0) -> None:
    sa, sb = fitted_state(a), fitted_state(b)
    assert sa.keys() == sb.keys()
    for name in sa:
        if rtol == atol == 0:
            assert_array_equal(sa[name], sb[name], err_msg=name)
        else:
            assert_allclose(sa[name], sb[name], rtol=rtol, atol=atol, err_msg=name)


# --------------------------------------------------------------------------- (a) one EM step


@pytest.mark.parametrize("kind", KINDS)
def test_first_call_is_one_em_iteration_of_fit(kind):
    X, lengths = sequences(data_kind(kind), 6, 40, seed=1)
    lengths = np.array([40, 1, 39, 80, 20, 60])  # ragged, a length-1 sequence
    batch = make(kind, n_iter=1, tol=-np.inf).fit(X, lengths)
    online = make(kind).partial_fit(X, lengths)
    assert_same_state(online, batch)  # bit for bit
    assert online.partial_fit_steps_ == 1
    assert online.partial_fit_frames_ == len(X)


@pytest.mark.parametrize("kind", KINDS)
def test_first_call_on_a_fitted_model_does_not_initialise(kind):
    X, lengths = sequences(data_kind(kind), 8, 30, seed=2)
    fitted = make(kind, n_iter=3).fit(X[:120], lengths[:4])
    online = copy.deepcopy(fitted).partial_fit(X[120:], lengths[4:])
    reference = copy.deepcopy(fitted)
    reference.set_params(init_params="", n_iter=1, tol=-np.inf)
    reference.fit(X[120:], lengths[4:])
    assert_same_state(online, reference)


@pytest.mark.parametrize("kind", ["gaussian", "categorical", "vgaussian"])
def test_later_calls_do_not_initialise(kind, monkeypatch):
    X, lengths = sequences(data_kind(kind), 4, 50, seed=3)
    model = make(kind).partial_fit(X, lengths)
    engine = type(model).engine

    def refuse(*args, **kwargs):
        raise AssertionError("initialize called")

    monkeypatch.setattr(engine, "initialize", refuse)
    model.partial_fit(X[:100], [50, 50])
    assert model.partial_fit_steps_ == 2


def test_fit_drops_the_running_statistics():
    X, lengths = sequences("gaussian", 4, 50, seed=4)
    model = make("gaussian").partial_fit(X, lengths).partial_fit(X, lengths)
    model.fit(X, lengths)
    assert not any(name.startswith("partial_fit") for name in vars(model))
    fresh = make("gaussian").fit(X, lengths)
    assert_same_state(model, fresh)
    # after fit, partial_fit starts new statistics from the fitted parameters
    model.partial_fit(X, lengths)
    assert model.partial_fit_steps_ == 1


# --------------------------------------------------------------------------- mixing rule


def test_second_call_matches_a_numpy_reference():
    """Scaling to the first chunk's frames, the step size and the M-step from the
    running statistics, against a hand-written diag Gaussian M-step."""
    X1, l1 = sequences("gaussian", 5, 40, seed=5)  # 200 frames
    X2, l2 = sequences("gaussian", 3, 100, seed=6)  # 300 frames
    decay, offset = 0.8, 2.0
    model = make("gaussian", covars_prior=0.05, covars_weight=3.0)
    model.partial_fit(X1, l1, decay=decay, offset=offset)
    s1 = {k: np.array(v) for k, v in model.partial_fit_stats_.items()}
    em = type(model).engine(model)
    c2 = em.estep(*em.input(X2, l2))  # the chunk's statistics under the current parameters
    model.partial_fit(X2, l2, decay=decay, offset=offset)

    eta = (1 + offset) ** -decay
    assert eta == step_size(1, decay, offset)
    f = 200 / 300
    post = (1 - eta) * s1["emission:post"] + eta * f * c2.emission["post"]
    obs = (1 - eta) * s1["emission:obs"] + eta * f * c2.emission["obs"]
    obs2 = (1 - eta) * s1["emission:obs**2"] + eta * f * c2.emission["obs**2"]
    start = (1 - eta) * s1["start"] + eta * f * c2.start
    trans = (1 - eta) * s1["trans"] + eta * f * c2.trans
    means = obs / post[:, None]  # means_weight = 0
    covars = (0.05 + obs2 - 2 * means * obs + means**2 * post[:, None]) / (2 + post[:, None])
    assert_allclose(model.startprob_, start / start.sum(), rtol=1e-12)
    assert_allclose(model.transmat_, trans / trans.sum(axis=1, keepdims=True), rtol=1e-12)
    assert_allclose(model.means_, means, rtol=1e-10)
    assert_allclose(model._covars_, covars, rtol=1e-10)
    # the running statistics are those of 200 frames
    assert_allclose(model.partial_fit_stats_["emission:post"].sum(), 200, rtol=1e-12)
    assert_allclose(model.partial_fit_stats_["start"], start, rtol=1e-12)


def test_decay_one_is_the_running_mean():
    """decay=1, offset=1: eta_k = 1 / (k + 1), s_k the mean of the scaled chunk stats."""
    chunks = [sequences("categorical", 4, 25, seed=s) for s in range(10, 14)]
    model = make("categorical")
    collected = []
    for X, lengths in chunks:
        if "partial_fit_stats_" in vars(model):
            em = type(model).engine(model)
            collected.append(em.estep(*em.input(X, lengths)).emission["obs"])
        else:  # the first chunk: the statistics under the initialised parameters
            probe = make("categorical")
            em = type(probe).engine(probe)
            em.initialize(*em.input(X, lengths))
            collected.append(em.estep(*em.input(X, lengths)).emission["obs"])
        model.partial_fit(X, lengths, decay=1.0, offset=1.0)
    assert_allclose(model.partial_fit_stats_["emission:obs"], np.mean(collected, axis=0),
                    rtol=1e-12)  # fmt: skip


@pytest.mark.parametrize("kind", ["vcategorical", "vgaussian"])
def test_variational_step_is_the_natural_gradient_step(kind):
    """lambda_2 = (1 - eta) lambda_1 + eta (prior + scaled chunk statistics), in the
    posteriors' natural parameters (Dirichlet: alpha; Normal-Wishart: beta, beta m,
    dof, scale + beta m m^T)."""
    X1, l1 = sequences(kind, 4, 50, seed=20)
    X2, l2 = sequences(kind, 2, 150, seed=21)
    model = make(kind).partial_fit(X1, l1)

    def natural(m) -> dict:
        out = {"start": m.startprob_posterior_, "trans": m.transmat_posterior_}
        if kind == "vcategorical":
            out["emission"] = m.emissionprob_posterior_
        else:
            b, mu = m.beta_posterior_, m.means_posterior_
            out.update(beta=b, beta_m=b[:, None] * mu, dof=m.dof_posterior_,
                       scale=m.scale_posterior_ + b[:, None] * mu**2)  # fmt: skip
        return {k: np.array(v) for k, v in out.items()}

    lam1 = natural(model)
    em = type(model).engine(model)
    c = em.estep(*em.input(X2, l2)) * (200 / 300)
    if kind == "vcategorical":
        target = {"start": model.startprob_prior_ + c.start,
                  "trans": model.transmat_prior_ + c.trans,
                  "emission": model.emissionprob_prior_ + c.emission["obs"]}  # fmt: skip
    else:
        b0, m0 = model.beta_prior_, model.means_prior_
        target = {
            "start": model.startprob_prior_ + c.start, "trans": model.transmat_prior_ + c.trans,
            "beta": b0 + c.emission["post"], "beta_m": b0[:, None] * m0 + c.emission["obs"],
            "dof": model.dof_prior_ + c.emission["post"],
            "scale": model.scale_prior_ + b0[:, None] * m0**2 + c.emission["obs**2"],
        }  # fmt: skip
    model.partial_fit(X2, l2)
    eta = 2**-0.6  # the default schedule's second step: (1 + offset) ** -decay
    lam2 = natural(model)
    for name in lam1:
        assert_allclose(lam2[name], (1 - eta) * lam1[name] + eta * target[name], rtol=1e-10,
                        err_msg=name)  # fmt: skip


# --------------------------------------------------------------------------- (c) splitting


def test_weight_of_a_chunk_does_not_depend_on_its_split_into_sequences():
    X1, l1 = sequences("gaussian", 4, 50, seed=30)
    X2, _ = sequences("gaussian", 4, 75, seed=31)
    a = make("gaussian").partial_fit(X1, l1)
    b = copy.deepcopy(a)
    a.partial_fit(X2, [75] * 4)
    b.partial_fit(X2, [25] * 12)  # the same frames as 12 sequences
    for model in (a, b):  # 200 frames' worth of emission mass either way
        assert_allclose(model.partial_fit_stats_["emission:post"].sum(), 200, rtol=1e-12)
        n_seq = model.partial_fit_stats_["n_sequences"]
        assert_allclose(model.partial_fit_stats_["start"].sum(), n_seq, rtol=1e-12)
    eta = 2**-0.6
    # only the start / transition counts differ, as batch EM's would
    assert_allclose(a.partial_fit_stats_["n_sequences"], (1 - eta) * 4 + eta * 4 * 200 / 300)
    assert_allclose(b.partial_fit_stats_["n_sequences"], (1 - eta) * 4 + eta * 12 * 200 / 300)


@pytest.mark.parametrize("kind", ["gaussian", "poisson", "vcategorical"])
def test_order_and_form_of_the_sequences_of_a_chunk_do_not_matter(kind):
    X1, l1 = sequences(data_kind(kind), 3, 40, seed=40)
    X2, l2 = sequences(data_kind(kind), 5, 30, seed=41)
    lengths2 = np.array([30, 10, 50, 20, 40])
    seqs = np.split(X2, np.cumsum(lengths2)[:-1])
    base = make(kind).partial_fit(X1, l1)
    as_lengths = copy.deepcopy(base).partial_fit(X2, lengths2)
    as_list = copy.deepcopy(base).partial_fit(seqs)
    order = [3, 0, 4, 2, 1]
    permuted = copy.deepcopy(base).partial_fit([seqs[i] for i in order])
    assert_same_state(as_list, as_lengths)
    assert_same_state(permuted, as_lengths, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- (b) vs batch EM


def started(kind: str, X: np.ndarray, lengths: np.ndarray):
    """A model initialised from ``X`` as ``fit`` does, with a sticky chain instead of
    the random draw (whose near-degenerate rows can trap batch and online EM alike).

    VariationalCategoricalHMM draws its emission posteriors at random: from most
    draws its batch fit too crawls for 100-200 iterations towards one of several
    optima (random_state 0: 87 iterations, online EM still 0.07 nats/frame short after
    15 passes); random_state=2 is a draw from which both settle."""
    model = make(kind, random_state=2 if kind == "vcategorical" else 0)
    em = type(model).engine(model)
    em.initialize(X, lengths)
    sticky = np.full((K, K), 0.1) + 0.7 * np.eye(K)
    if kind.startswith("v"):
        model.startprob_posterior_ = np.full(K, len(lengths) / K)
        model.transmat_posterior_ = sticky * len(X) / K
        em.derive()
    else:
        model.startprob_, model.transmat_ = np.full(K, 1 / K), sticky
    return model


@pytest.mark.parametrize("kind", ["gaussian", "gmm", "categorical", "poisson", "multinomial",
                                  "vgaussian", "vcategorical"])  # fmt: skip
def test_passes_over_chunks_reach_batch_em_log_likelihood(kind):
    """From the same starting parameters, 15 passes of partial_fit over 4 chunks end
    within 0.01 nats per frame of batch EM run to convergence on all the data."""
    X, lengths = sequences(kind, 24, 50, seed=50)
    n = len(X)
    start = started(kind, X, lengths)
    batch = copy.deepcopy(start).set_params(init_params="", n_iter=300, tol=1e-8)
    batch_ll = batch.fit(X, lengths).score(X, lengths) / n
    chunks = [(X[i * 300 : (i + 1) * 300], lengths[i * 6 : (i + 1) * 6]) for i in range(4)]
    online = copy.deepcopy(start)
    online.partial_fit(*chunks[0])
    first_ll = online.score(X, lengths) / n
    for _ in range(15):
        for chunk in chunks:
            online.partial_fit(*chunk)
    online_ll = online.score(X, lengths) / n
    # close to batch EM (per frame), and far better than after one step
    assert abs(online_ll - batch_ll) < 0.01, (online_ll, batch_ll)
    assert online_ll - first_ll > 10 * abs(online_ll - batch_ll), (first_ll, online_ll)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"decay": 0.5}, "decay"), ({"decay": 1.5}, "decay"), ({"decay": True}, "decay"),
        ({"decay": "0.7"}, "decay"), ({"decay": np.nan}, "decay"), ({"offset": 0.5}, "offset"),
        ({"offset": np.inf}, "offset"), ({"offset": None}, "offset"),
    ],
)  # fmt: skip
def test_bad_schedule(kw, match):
    X, lengths = sequences("gaussian", 2, 30, seed=60)
    model = make("gaussian")
    with pytest.raises(ValueError, match=match):
        model.partial_fit(X, lengths, **kw)
    assert "means_" not in vars(model)  # nothing happened


@pytest.mark.parametrize("kind", KINDS)
def test_changing_n_features_between_calls(kind):
    X, lengths = sequences(data_kind(kind), 3, 30, seed=61)
    model = make(kind).partial_fit(X, lengths)
    before = copy.deepcopy(fitted_state(model))
    if kind in ("categorical", "vcategorical"):
        bad = np.full((30, 1), N_SYMBOLS)  # a symbol the model does not emit
    elif kind == "multinomial":
        bad = np.column_stack([X[:30], np.zeros(30, dtype=X.dtype)])
    else:
        bad = np.column_stack([X[:30], X[:30, :1]])
    with pytest.raises(ValueError, match="features|symbol"):
        model.partial_fit(bad, [30])
    for name, value in fitted_state(model).items():  # the model is unchanged
        assert_array_equal(value, before[name])
    assert model.partial_fit_steps_ == 1


@pytest.mark.parametrize(
    "X,lengths,match",
    [
        (np.full((10, 2), np.nan), None, "NaN"),
        (np.zeros((10, 2)), [4, 4], "sum"),
        (np.zeros((10, 2)), [12, -2], "positive"),
        (np.zeros((0, 2)), None, "sample"),
        (np.zeros(10), None, "2D"),
    ],
)
def test_bad_chunks(X, lengths, match):
    model = make("gaussian").partial_fit(*sequences("gaussian", 2, 30, seed=62))
    with pytest.raises(ValueError, match=match):
        model.partial_fit(X, lengths)
    assert model.partial_fit_steps_ == 1


def test_changed_params_are_refused_clearly():
    X, lengths = sequences("gaussian", 3, 30, seed=63)
    model = make("gaussian").partial_fit(X, lengths)
    model.set_params(params="st")
    with pytest.raises(ValueError, match="params or the model changed"):
        model.partial_fit(X, lengths)


def test_missing_values_keep_the_same_statistics():
    """allow_nan: chunks with and without NaN mix (every chunk carries post_f)."""
    X, lengths = sequences("gaussian", 4, 50, seed=64)
    Xn = X.copy()
    Xn[::9, 0] = np.nan
    model = make("gaussian", allow_nan=True).partial_fit(X, lengths)
    model.partial_fit(Xn, lengths).partial_fit(X, lengths)
    assert np.isfinite(model.means_).all() and model.partial_fit_steps_ == 3


# --------------------------------------------------------------------------- model files


@pytest.mark.parametrize("kind", KINDS)
def test_a_loaded_model_goes_on(kind, tmp_path):
    X, lengths = sequences(data_kind(kind), 6, 30, seed=70)
    model = make(kind).partial_fit(X[:90], lengths[:3])
    model.partial_fit(X[90:], lengths[3:])
    model.save(tmp_path / "m.fgm")
    loaded = fastgen.load(tmp_path / "m.fgm")
    assert loaded.partial_fit_steps_ == 2 and loaded.partial_fit_frames_ == 90
    assert fastgen.info(tmp_path / "m.fgm")["summary"]["partial_fit_steps"] == 2
    model.partial_fit(X, lengths)
    loaded.partial_fit(X, lengths)
    assert_same_state(loaded, model)


def test_tampered_running_statistics_are_refused(tmp_path):
    X, lengths = sequences("gaussian", 4, 30, seed=71)
    make("gaussian").partial_fit(X, lengths).partial_fit(X, lengths).save(tmp_path / "m.fgm")
    # the dict's items in order: n_sequences, log_prob, start, trans, then the emission's
    start, obs2 = "state.partial_fit_stats_.2v.npy", "state.partial_fit_stats_.6v.npy"
    for array in (-np.ones(K), np.full(K, np.nan), np.ones(K + 1), np.ones(K, dtype=np.int64)):
        out = tamper(tmp_path / "m.fgm", tmp_path / "bad.fgm", members={start: npy(array)})
        with pytest.raises(ModelFileError):
            fastgen.load(out)
    out = tamper(tmp_path / "m.fgm", tmp_path / "bad.fgm",
                 members={obs2: npy(np.full((K, 2), np.inf))})  # fmt: skip
    with pytest.raises(ModelFileError):
        fastgen.load(out)

    def drop_steps(man):
        del man["state"]["partial_fit_steps_"]

    with pytest.raises(ModelFileError, match="incomplete"):
        fastgen.load(tamper(tmp_path / "m.fgm", tmp_path / "bad.fgm", manifest=drop_steps))


def test_malformed_emission_statistics_fail_at_the_next_call():
    """A running statistic of the wrong shape (which broadcasting would accept) is
    refused by the next partial_fit, not mixed in."""
    X, lengths = sequences("gaussian", 4, 30, seed=72)
    model = make("gaussian").partial_fit(X, lengths)
    model.partial_fit_stats_["emission:obs"] = np.ones((1, 2))
    with pytest.raises(ValueError, match="shape"):
        model.partial_fit(X, lengths)


# --------------------------------------------------------------------------- GMM anchor


@pytest.mark.parametrize("covariance_type", ["diag", "spherical", "full", "tied"])
def test_gmm_scatter_moves_to_new_means_exactly(covariance_type):
    """GMMHMM's c_n (posterior scatter about the E-step's means) moved to other means
    equals the scatter computed about them directly (brute force over frames)."""
    rng = np.random.default_rng(80)
    nc, nm, nf, n = 2, 3, 2, 50
    X = rng.normal(size=(n, nf))
    r = rng.random((n, nc, nm))  # any non-negative weights of (state, mixture) pairs
    a, b = rng.normal(size=(nc, nm, nf)), rng.normal(size=(nc, nm, nf))

    def scatter(centre):
        diff = X[:, None, None, :] - centre[None]  # (n, nc, nm, nf)
        full = np.einsum("tkm,tkmi,tkmj->kmij", r, diff, diff)
        if covariance_type == "full":
            return full
        if covariance_type == "tied":
            return full.sum(axis=1)
        diag = np.einsum("kmii->kmi", full)
        return diag.sum(axis=2) if covariance_type == "spherical" else diag

    model = GMMHMM(nc, n_mix=nm, covariance_type=covariance_type)
    model.means_ = b
    stats = {"post_mix": r.sum(axis=0), "obs": np.einsum("tkm,ti->kmi", r, X), "c_n": scatter(a)}
    moved = model.emission_family(model).move_stats(stats, {"means": a})
    assert_allclose(moved["c_n"], scatter(b), rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="anchor"):
        model.emission_family(model).move_stats(stats, {"means": a[:1]})


@pytest.mark.parametrize("covariance_type", ["diag", "full", "tied"])
def test_gmm_running_scatter_is_about_the_last_e_step_means(covariance_type):
    """With decay=1, offset=1 (equal chunks) the running statistics are the mean of the
    chunks' statistics; each chunk's scatter, computed about the means of its own
    E-step, counts as moved to the last E-step's means (the stored anchor)."""
    chunks = [sequences("gmm", 3, 40, seed=s) for s in (90, 91, 92)]
    model = make("gmm", covariance_type=covariance_type)
    seen = []  # (the chunk's statistics, the means of its E-step)
    for X, lengths in chunks:
        probe = copy.deepcopy(model)
        em = type(probe).engine(probe)
        if "partial_fit_stats_" not in vars(model):  # the first call initialises
            em.initialize(*em.input(X, lengths))
        seen.append((em.estep(*em.input(X, lengths)).emission, probe.means_.copy()))
        model.partial_fit(X, lengths, decay=1.0, offset=1.0)
    last = seen[-1][1]
    assert_array_equal(model.partial_fit_stats_["anchor:means"], last)
    probe.means_ = last
    family = probe.emission_family(probe)
    moved = [family.move_stats(st, {"means": m}) for st, m in seen]
    for key in ("post_mix", "obs", "c_n"):
        expected = np.mean([st[key] for st in moved], axis=0)
        assert_allclose(model.partial_fit_stats_[f"emission:{key}"], expected, rtol=1e-9,
                        err_msg=key)  # fmt: skip
    # unmoved, the scatters would not match: the test sees the move
    plain = np.mean([st["c_n"] for st, _ in seen], axis=0)
    assert not np.allclose(model.partial_fit_stats_["emission:c_n"], plain, rtol=1e-6)


@pytest.mark.parametrize("name", ["gaussian", "categorical"])
def test_weights_and_labels_update_as_repeated_sequences(name):
    """partial_fit's sample_weight: an integer sequence weight updates as repeated copies
    of the sequence in the chunk, over several chunks (the chunk size counts frames by
    weight); the first call equals fit(n_iter=1) with the same weights and labels."""
    rng = np.random.default_rng(5)
    if name == "gaussian":
        make = lambda: GaussianHMM(3, init_params="", n_iter=1)  # noqa: E731
        chunks = [rng.normal(size=(90, 2)) + 3 * rng.integers(0, 2, (90, 1)) for _ in range(3)]
        params = dict(startprob_=np.full(3, 1 / 3), transmat_=np.full((3, 3), 1 / 3),
                      means_=np.array([[0.0, 0.0], [3.0, 3.0], [1.5, 0.0]]),
                      covars_=np.ones((3, 2)))  # fmt: skip
    else:
        make = lambda: CategoricalHMM(3, init_params="", n_iter=1, n_features=4)  # noqa: E731
        chunks = [rng.integers(0, 4, size=(90, 1)) for _ in range(3)]
        params = dict(startprob_=np.full(3, 1 / 3), transmat_=np.full((3, 3), 1 / 3),
                      emissionprob_=rng.dirichlet(np.ones(4), size=3))  # fmt: skip
    weights = [np.array([2, 1, 3]), np.array([1, 1, 2]), np.array([3, 1, 1])]

    def fresh():
        m = make()
        for k, v in params.items():
            setattr(m, k, v.copy())
        return m

    weighted, repeated = fresh(), fresh()
    for X, w in zip(chunks, weights, strict=True):
        weighted.partial_fit(X, [30, 30, 30], sample_weight=w)
        seqs = [X[30 * i : 30 * (i + 1)] for i in range(3) for _ in range(w[i])]
        repeated.partial_fit(np.concatenate(seqs), [30] * int(w.sum()))
        for attr in params:
            np.testing.assert_allclose(getattr(weighted, attr), getattr(repeated, attr),
                                       rtol=1e-10, atol=1e-12)  # fmt: skip
    assert weighted.partial_fit_frames_ == repeated.partial_fit_frames_ == 180
    labels = np.full(90, -1)
    labels[:10] = 1
    online = fresh().partial_fit(chunks[0], [30, 30, 30], sample_weight=weights[0], states=labels)
    batch = fresh().fit(chunks[0], [30, 30, 30], sample_weight=weights[0], states=labels)
    for attr in params:
        np.testing.assert_array_equal(getattr(online, attr), getattr(batch, attr))


def test_fractional_weights_keep_a_float_size_through_model_files(tmp_path):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(60, 2))
    model = GaussianHMM(2, random_state=0).partial_fit(X, [30, 30], sample_weight=[0.5, 1.25])
    assert model.partial_fit_frames_ == 52.5
    fastgen.save(model, tmp_path / "m.fgm")
    loaded = fastgen.load(tmp_path / "m.fgm")
    assert loaded.partial_fit_frames_ == 52.5
    model.partial_fit(X[::-1], [30, 30])
    loaded.partial_fit(X[::-1], [30, 30])
    assert_array_equal(model.means_, loaded.means_)
