"""Emission log-likelihoods of the HMM kernels: per-frame densities against SciPy, the
vectorised ``exp``, and the block emissions of the fused passes against the per-frame
densities (seen through the public entry points)."""

import numpy as np
import pytest
from hmm_problems import bounds, frames
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import multivariate_normal

from fastgen._kernels import hmm as k


def _spd(rng, nc, nf, ridge=1.0):
    a = rng.randn(nc, nf, nf)
    return a @ a.transpose(0, 2, 1) + ridge * np.eye(nf)


def test_densities_match_scipy():
    rng = np.random.RandomState(0)
    X = rng.randn(7, 3)
    means = rng.randn(2, 3)
    cv = rng.rand(2, 3) + 0.1
    out = k.log_density_diag(X, means, cv)
    assert out.shape == (7, 2) and out.dtype == np.float64
    for c in range(2):
        assert_allclose(out[:, c], multivariate_normal(means[c], np.diag(cv[c])).logpdf(X))
    full = _spd(rng, 2, 3)
    out = k.log_density_full(X, means, np.linalg.cholesky(full))
    for c in range(2):
        assert_allclose(out[:, c], multivariate_normal(means[c], full[c]).logpdf(X))


def test_densities_take_lists_and_other_dtypes():
    X = [[0.0, 1.0], [2.0, -1.0]]
    means = np.zeros((1, 2), dtype=np.float32)
    ref = multivariate_normal(np.zeros(2), np.eye(2)).logpdf(np.array(X))
    assert_allclose(k.log_density_diag(X, means, [[1, 1]])[:, 0], ref)
    assert_allclose(k.log_density_full(X, means, [np.eye(2)])[:, 0], ref)


def test_missing_values_marginalised_against_scipy():
    """NaN features are skipped: the density of the observed features; an all-NaN row
    has log-density 0; without NaN the same as log_density_diag."""
    rng = np.random.RandomState(1)
    nc, nf = 3, 4
    X = rng.randn(40, nf)
    X[rng.rand(40, nf) < 0.3] = np.nan
    X[5] = np.nan
    means = rng.randn(nc, nf)
    cv = rng.rand(nc, nf) + 0.2
    out = k.log_density_diag_missing(X, means, cv)
    for t in range(len(X)):
        seen = ~np.isnan(X[t])
        for c in range(nc):
            if not seen.any():
                assert out[t, c] == 0.0
                continue
            ref = multivariate_normal(means[c, seen], np.diag(cv[c, seen])).logpdf(X[t, seen])
            assert_allclose(out[t, c], ref, rtol=1e-12)
    Xc = np.nan_to_num(X)
    assert_allclose(
        k.log_density_diag_missing(Xc, means, cv), k.log_density_diag(Xc, means, cv), rtol=1e-13
    )


def test_density_of_empty_input():
    assert k.log_density_diag(np.zeros((0, 2)), np.zeros((3, 2)), np.ones((3, 2))).shape == (0, 3)
    assert k.log_density_diag_missing(
        np.zeros((0, 2)), np.zeros((3, 2)), np.ones((3, 2))
    ).shape == (0, 3)
    chol = np.tile(np.eye(2), (3, 1, 1))
    assert k.log_density_full(np.zeros((0, 2)), np.zeros((3, 2)), chol).shape == (0, 3)


def test_large_density_calls_are_split_into_blocks_exactly():
    """Enough rows for the threaded row blocks: the same values as row by row."""
    rng = np.random.RandomState(2)
    X = rng.randn(20_011, 3)
    means = rng.randn(4, 3)
    cv = rng.rand(4, 3) + 0.2
    chol = np.linalg.cholesky(_spd(rng, 4, 3))
    big = k.log_density_diag(X, means, cv)
    full = k.log_density_full(X, means, chol)
    for t in (0, 1, 255, 256, 10_000, 20_010):
        assert_array_equal(big[t], k.log_density_diag(X[t : t + 1], means, cv)[0])
        assert_array_equal(full[t], k.log_density_full(X[t : t + 1], means, chol)[0])


# --------------------------------------------------------------------------- vectorised exp


def _vexp(x):
    x = np.array(x, dtype=np.float64)
    k.vexp(x)
    return x


def test_vexp_within_one_ulp_of_numpy():
    rng = np.random.RandomState(11)
    x = np.concatenate(
        [
            np.linspace(-708.0, 708.0, 200_003),
            rng.uniform(-1.0, 1.0, 10_001),
            np.log(2.0) * np.arange(-1021, 1022) + rng.uniform(-1e-9, 1e-9, 2043),
            [0.0, -0.0, 1e-300, -1e-300, 708.0, -708.0, np.log(2.0) / 2, -np.log(2.0) / 2],
        ]
    )
    got, ref = _vexp(x), np.exp(x)
    assert np.all(np.abs(got - ref) <= np.spacing(ref))


def test_vexp_hands_extreme_and_special_arguments_to_numpy():
    x = [-1e308, -746.0, -745.0, -720.5, -708.5, 709.5, 710.0, -np.inf, np.inf, np.nan, 0.5]
    with np.errstate(over="ignore"):
        ref = np.exp(np.array(x))
    assert_array_equal(_vexp(x), ref)  # subnormals, zeros, inf and NaN exactly as np.exp
    assert_array_equal(_vexp([]), [])


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 63, 64, 65])  # around the vector widths
def test_vexp_in_place_on_short_and_odd_lengths(n):
    x = np.linspace(-3.0, 3.0, n)
    y = x.copy()
    k.vexp(y)
    assert np.all(np.abs(y - np.exp(x)) <= np.spacing(np.exp(x)))


# --------------------------------------------------------------- mixture log-sum-exp


def _mixture_reference(dens, nm):
    """GMMHMM's former NumPy reduction: per state, the best component (0 where not
    finite), the exponentials relative to it, their sum and ``log(sum) + best``."""
    d = np.array(dens, dtype=np.float64)
    d = d.reshape(d.shape[0], d.shape[1] // nm, nm)
    best = d[:, :, 0].copy()
    for j in range(1, nm):
        np.maximum(best, d[:, :, j], out=best)
    best[~np.isfinite(best)] = 0.0
    d -= best[:, :, None]
    with np.errstate(divide="ignore", under="ignore"):
        e = np.exp(d)
        s = e.sum(axis=2)
        ll = np.log(s) + best
    return ll, e.reshape(d.shape[0], d.shape[1] * nm), s


@pytest.mark.parametrize("nm", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("n", [0, 1, 5, 130, 3001])
def test_mixture_reduce_matches_numpy(n, nm):
    rng = np.random.RandomState(nm * 100 + n)
    nc = 3
    dens = rng.randn(n, nc * nm) * 200.0 - 50.0
    dens[rng.rand(n, nc * nm) < 0.3] = -np.inf  # impossible components
    if n > 2:
        dens[1] = -np.inf  # every state impossible
        dens[2, :nm] = -np.inf  # one state impossible, the others not
        dens[2, nm:] = rng.randn(nc * nm - nm)
    ll_ref, e_ref, s_ref = _mixture_reference(dens, nm)
    e = dens.copy()
    ll, s = k.mixture_reduce(e, nm)
    assert ll.shape == s.shape == (n, nc) and ll.dtype == s.dtype == np.float64
    # vexp is within one ulp of np.exp; the sums and logs follow
    assert_allclose(e, e_ref, rtol=1e-15, atol=0)
    assert_allclose(s, s_ref, rtol=1e-14, atol=0)
    assert_allclose(ll, ll_ref, rtol=1e-14, atol=0)
    assert_array_equal(np.isneginf(ll), np.isneginf(ll_ref))
    if n > 2:
        assert np.all(ll[1] == -np.inf) and np.all(s[1] == 0) and np.all(e[1] == 0)
        assert ll[2, 0] == -np.inf and s[2, 0] == 0 and np.all(e[2, :nm] == 0)
        assert np.all(np.isfinite(ll[2, 1:]))


def test_mixture_reduce_single_component_is_the_identity_on_ll():
    dens = np.array([[0.5, -3.0, -np.inf], [-1e3, 2.0, 7.5]])
    e = dens.copy()
    ll, s = k.mixture_reduce(e, 1)
    assert_array_equal(ll, dens)
    assert_array_equal(s, np.where(np.isneginf(dens), 0.0, 1.0))
    assert_array_equal(e, s)


def test_mixture_reduce_does_not_depend_on_threads():
    import fastgen

    rng = np.random.RandomState(5)
    dens = rng.randn(40_003, 8 * 4) * 30.0
    out = []
    try:
        for n_threads in (1, 2, 4):
            fastgen.set_num_threads(n_threads)
            e = dens.copy()
            out.append((e, *k.mixture_reduce(e, 4)))
    finally:
        fastgen.set_num_threads(None)
    for other in out[1:]:
        for a, b in zip(out[0], other, strict=True):
            assert_array_equal(a, b)
    e, ll, s = out[0]
    for t in (0, 255, 256, 20_000, 40_002):  # the threaded row blocks, row by row
        row = dens[t : t + 1].copy()
        ll1, s1 = k.mixture_reduce(row, 4)
        assert_array_equal(row[0], e[t])
        assert_array_equal(ll1[0], ll[t])
        assert_array_equal(s1[0], s[t])


@pytest.mark.parametrize(
    "dens, nm",
    [
        (np.zeros((4, 6), dtype=np.float32), 2),  # dtype
        (np.zeros((4, 6)), 4),  # 6 not a multiple of 4
        (np.zeros((4, 6)), 0),
        (np.zeros((4, 6)), -2),
        (np.zeros((4, 6)), 1.5),
        (np.zeros(6), 2),  # 1-d
        (np.zeros((2, 4, 6)), 2),  # 3-d
        (np.zeros((6, 4)).T, 2),  # not C-contiguous
        ([[0.0, 1.0]], 1),  # not an array
    ],
)
def test_mixture_reduce_rejects_bad_input(dens, nm):
    with pytest.raises(ValueError):
        k.mixture_reduce(dens, nm)


def test_mixture_reduce_rejects_read_only_input():
    dens = np.zeros((3, 4))
    dens.flags.writeable = False
    with pytest.raises(ValueError):
        k.mixture_reduce(dens, 2)


# ------------------------------------------------------- block emissions of the fused passes


def _per_frame_loglik(em, nc):
    """Emission log-likelihoods as the fused kernels compute them, one state at a time:
    Viterbi of length-1 sequences in a one-state chain is exactly the frame's value
    (log 1 = 0 added).  ``em(c)`` is the one-state bundle of state ``c``."""
    cols = []
    for c in range(nc):
        e = em(c)
        lp, states = k.viterbi_batch(np.arange(e.n_samples + 1), np.ones(1), np.ones((1, 1)), e)
        assert_array_equal(states, 0)
        cols.append(lp)
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("n", [1, 127, 128, 129, 300, 5000])  # block size; time blocks
def test_block_emissions_match_per_frame_densities(n):
    rng = np.random.RandomState(14)
    nc, nf = 4, 3
    X = rng.randn(n, nf) * 2
    means = rng.randn(nc, nf)
    cv = rng.rand(nc, nf) + 0.2
    chol = np.linalg.cholesky(_spd(rng, nc, nf))
    cases = (
        (k.EMIT_DIAG, "covars", cv, k.log_density_diag(X, means, cv)),
        (k.EMIT_FULL, "chol", chol, k.log_density_full(X, means, chol)),
    )
    start, trans = np.full(nc, 1 / nc), rng.dirichlet(np.ones(nc), size=nc)
    for kind, name, cov, ref in cases:
        got = _per_frame_loglik(
            lambda c, kind=kind, name=name, cov=cov: k.emissions(
                kind, X=X, means=means[c : c + 1], **{name: cov[c : c + 1]}
            ),
            nc,
        )
        assert_allclose(got, ref, rtol=1e-13, atol=1e-13)
        # the fused passes over whole sequences: as if the densities were given as frames
        em = k.emissions(kind, X=X, means=means, **{name: cov})
        startidx = bounds([n]) if n < 100 else bounds([100, n - 100])  # 5000: the long path
        for log_space in (True, False):
            r = k.forward_backward(startidx, start, trans, em, log_space)
            r_ref = k.forward_backward(startidx, start, trans, frames(ref), log_space)
            assert_allclose(r.log_prob, r_ref.log_prob, rtol=1e-12)
            assert_allclose(r.gamma, r_ref.gamma, rtol=1e-11, atol=1e-14)
            assert_allclose(r.trans, r_ref.trans, rtol=1e-11, atol=1e-13)
        lp, states = k.viterbi_batch(startidx, start, trans, em)
        lp_ref, states_ref = k.viterbi_batch(startidx, start, trans, ref)
        assert_array_equal(states, states_ref)
        assert_allclose(lp, lp_ref, rtol=1e-12)


def test_categorical_emissions_are_table_lookups():
    rng = np.random.RandomState(15)
    nc, ns = 3, 6
    sym = rng.randint(ns, size=50)
    log_em = np.log(rng.dirichlet(np.ones(ns), size=nc))
    got = _per_frame_loglik(
        lambda c: k.emissions(k.EMIT_CATEGORICAL, sym=sym, log_emissionprob=log_em[c : c + 1]),
        nc,
    )
    assert_array_equal(got, log_em.T[sym])


@pytest.mark.parametrize("nf", [1, 2, 7])
def test_full_covariance_emissions_via_cholesky_match_scipy(nf):
    """EMIT_FULL takes lower Cholesky factors (inverted once per call): the emission
    log-likelihoods equal SciPy's densities, also for badly conditioned covariances."""
    rng = np.random.RandomState(23 + nf)
    nc = 4
    covars = _spd(rng, nc, nf, ridge=0.1)
    covars[0] *= 1e-4  # a narrow state
    chol = np.linalg.cholesky(covars)
    means = rng.randn(nc, nf)
    X = means[rng.randint(nc, size=60)] + 0.1 * rng.randn(60, nf)
    got = _per_frame_loglik(
        lambda c: k.emissions(k.EMIT_FULL, X=X, means=means[c : c + 1], chol=chol[c : c + 1]),
        nc,
    )
    for c in range(nc):
        ref = multivariate_normal(means[c], covars[c]).logpdf(X)
        assert_allclose(got[:, c], ref, rtol=1e-10, atol=1e-9)
    assert_allclose(got, k.log_density_full(X, means, chol), rtol=1e-12, atol=1e-10)


def test_emission_bundle_records_its_shape():
    em = k.emissions(k.EMIT_CATEGORICAL, sym=[0, 2, 1], log_emissionprob=np.zeros((4, 3)))
    assert (em.kind, em.n_samples, em.n_components, em.n_symbols) == (k.EMIT_CATEGORICAL, 3, 4, 3)
    em = frames(np.zeros((5, 2)))
    assert (em.kind, em.n_samples, em.n_components) == (k.EMIT_LOG_FRAMES, 5, 2)
    assert isinstance(em, k.EmissionArrays)
