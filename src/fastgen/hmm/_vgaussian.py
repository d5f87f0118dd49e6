"""Gaussian emissions under Normal-Wishart posteriors: :class:`VariationalGaussianHMM`."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from fastgen._docstrings import fill
from fastgen._kernels import hmm as _k
from fastgen.hmm._docs import SHARED
from fastgen.hmm._gaussian import GaussianEmissions, GaussianHMM, kmeans
from fastgen.hmm._missing import impute_column_means
from fastgen.hmm._util import check_random_state, digamma, gammaln, stored_array, stored_count
from fastgen.hmm._variational import (
    CHAIN_STATE,
    VariationalEmissions,
    VariationalHMM,
    positive_array,
    prior_value,
    stored_positive,
)

__all__ = ["VariationalGaussianEmissions", "VariationalGaussianHMM"]

_LOG_4PI = np.log(4.0 * np.pi)


def _as_matrices(a: np.ndarray, covariance_type: str, nc: int, nf: int) -> np.ndarray:
    """Scale parameters of any ``covariance_type`` as (n_components, nf, nf) matrices."""
    if covariance_type == "full":
        return a
    if covariance_type == "tied":
        return np.broadcast_to(a, (nc, nf, nf))
    diag = np.broadcast_to(a[:, None] if covariance_type == "spherical" else a, (nc, nf))
    out = np.zeros((nc, nf, nf))
    out[:, np.arange(nf), np.arange(nf)] = diag
    return out


class VariationalGaussianEmissions(VariationalEmissions, GaussianEmissions):
    """Normal-Wishart posteriors (hmmlearn's parametrisation): ``means_posterior_`` with
    precision scale ``beta_posterior_``, Wishart ``dof_posterior_`` and inverse scale
    ``scale_posterior_`` (diagonal / spherical: their diagonal).

    ``E[log N(x | state)]`` is a Gaussian density of covariance
    ``scale_posterior_ / dof_posterior_`` (the point estimate ``covars_``) plus a
    per-state constant, so the E-step runs on the kernels' Gaussian emissions (with
    ``log_offset``) and accumulates their statistics there.

    Missing values (``allow_nan``) are latent variables of the mean field: in each
    state the missing entries ``m`` of a frame get their optimal factor
    ``q(x_m | state)``, the normal of mean ``E[mu_m] + C_mo C_oo^-1 (x_o - E[mu_o])``
    and covariance ``C_mm - C_mo C_oo^-1 C_om`` (``C = covars_``: the conditional of
    the point estimate).  The E-step's term of the frame, ``E[log p(x)]`` plus the
    entropy of that factor, is then the same constant plus the density of the
    observed entries alone under ``N(means_, covars_)``; the M-step takes the
    statistics of the completed frames (the conditional moments).  Coordinate ascent
    on ``q(z, x_m)`` and the posteriors, so the lower bound still never decreases.

    Parameters
    ----------
    model : BaseHMM
        The estimator the family is bound to: it reads the estimator's
        hyperparameters and reads and writes its fitted emission attributes.
    """

    state_attributes = (
        *CHAIN_STATE, "means_prior_", "means_posterior_", "beta_prior_", "beta_posterior_",
        "dof_prior_", "dof_posterior_", "scale_prior_", "scale_posterior_", "_covars_",
        "n_features",
    )  # fmt: skip
    variational_attributes: ClassVar[dict[str, tuple[str, ...]]] = {
        "m": ("means_prior_", "means_posterior_", "beta_prior_", "beta_posterior_"),
        "c": ("dof_prior_", "dof_posterior_", "scale_prior_", "scale_posterior_"),
    }
    derived_attributes = ("_covars_",)

    # ------------------------------------------------------------ shapes

    def _scale_shape(self) -> tuple:
        m = self.model
        nc, nf = m.n_components, m.n_features
        return {
            "full": (nc, nf, nf), "tied": (nf, nf), "diag": (nc, nf), "spherical": (nc,),
        }[m.covariance_type]  # fmt: skip

    def _dof_shape(self) -> tuple:
        return () if self.model.covariance_type == "tied" else (self.model.n_components,)

    # ------------------------------------------------------------ parameters

    def needs_data(self) -> bool:
        return self.needs_init_any("m") or self.needs_init_any("c")

    def initialize(self, X: np.ndarray, lengths: np.ndarray, random_state: Any) -> None:
        """hmmlearn's start: k-means centres as ``means_posterior_``, cluster sizes as
        ``beta_posterior_`` and ``dof_posterior_``, the data covariance (plus 1e-3 on
        its diagonal) times ``dof_posterior_`` as ``scale_posterior_``; the priors from
        the constructor (defaults: the data mean, 1, ``n_features``, 1e-3 identity)."""
        m = self.model
        nc, nf = m.n_components, X.shape[1]
        if not self.needs_init_any("m") and np.shape(m.means_posterior_)[-1] != nf:
            raise ValueError(
                f"X has {nf} features, but means_posterior_ has {np.shape(m.means_posterior_)[-1]}"
            )
        m.n_features = nf
        init_m, init_c = self.needs_init_any("m"), self.needs_init_any("c")
        if not (init_m or init_c):
            return
        X = impute_column_means(X)  # missing values: start from the column means
        centers = kmeans(X, nc, check_random_state(m.random_state))
        sq = np.einsum("ij,ij->i", centers, centers)
        labels = (sq - 2 * X @ centers.T).argmin(axis=1)
        counts = np.bincount(labels, minlength=nc).astype(np.float64)
        if init_m:
            m.means_prior_ = prior_value(m.means_prior, X.mean(axis=0), "means_prior", (nc, nf))
            m.means_posterior_ = centers
            m.beta_prior_ = prior_value(m.beta_prior, 1.0, "beta_prior", (nc,))
            m.beta_posterior_ = counts.copy()
        if init_c:
            ct = m.covariance_type
            dof = counts.sum() if ct == "tied" else counts
            m.dof_prior_ = prior_value(m.dof_prior, float(nf), "dof_prior", self._dof_shape())
            if ct == "tied":
                m.dof_prior_ = float(m.dof_prior_)
            cv = np.atleast_2d(np.cov(X.T)) + 1e-3 * np.eye(nf)
            default = {
                "full": 1e-3 * np.eye(nf), "tied": 1e-3 * np.eye(nf),
                "diag": 1e-3, "spherical": 1e-3,
            }[ct]  # fmt: skip
            m.scale_prior_ = prior_value(m.scale_prior, default, "scale_prior", self._scale_shape())
            if ct == "full":
                scale = cv[None] * dof[:, None, None]
            elif ct == "tied":
                scale = cv * dof
            elif ct == "diag":
                scale = np.diag(cv)[None, :] * dof[:, None]
            else:
                scale = cv.mean() * dof
            m.dof_posterior_ = dof
            m.scale_posterior_ = scale

    def check_posteriors(self) -> None:
        m = self.model
        for letter, names in self.variational_attributes.items():
            for name in names:
                if not hasattr(m, name):
                    raise ValueError(
                        f"{name} must be set before fitting without {letter!r} in init_params"
                    )
        means = np.asarray(m.means_posterior_, dtype=np.float64)
        if means.ndim != 2 or means.shape[0] != m.n_components:
            raise ValueError(f"means_posterior_ must have shape (n_components, n_features), "
                             f"got {means.shape}")  # fmt: skip
        m.n_features = nf = means.shape[1]
        shape = (m.n_components, nf)
        for name in ("means_prior_", "means_posterior_"):
            a = np.asarray(getattr(m, name), dtype=np.float64)
            if a.shape != shape or not np.isfinite(a).all():
                raise ValueError(f"{name} must be finite with shape {shape}, got {a.shape}")
            setattr(m, name, a)
        for name in ("beta_prior_", "beta_posterior_"):
            setattr(m, name, positive_array(getattr(m, name), name, (m.n_components,)))
        for name in ("dof_prior_", "dof_posterior_"):
            dof = positive_array(getattr(m, name), name, self._dof_shape())
            if (dof <= nf - 1).any():
                raise ValueError(f"{name} must exceed n_features - 1 = {nf - 1}")
            setattr(m, name, float(dof) if dof.ndim == 0 else dof)
        for name in ("scale_prior_", "scale_posterior_"):
            setattr(m, name, self._checked_scale(getattr(m, name), name))

    def _checked_scale(self, value: Any, name: str) -> np.ndarray:
        """A scale parameter as float64 of the ``covariance_type``'s shape: positive
        (definite); raises ``ValueError``."""
        ct = self.model.covariance_type
        shape = self._scale_shape()
        if ct in ("diag", "spherical"):
            return positive_array(value, name, shape)
        a = np.array(value, dtype=np.float64)
        if a.shape != shape or not np.isfinite(a).all():
            raise ValueError(f"{name} must be finite with shape {shape}, got {a.shape}")
        mats = a[None] if ct == "tied" else a
        try:
            np.linalg.cholesky(mats)
        except np.linalg.LinAlgError:
            raise ValueError(f"{name} must be symmetric, positive-definite") from None
        if not np.allclose(mats, mats.transpose(0, 2, 1)):
            raise ValueError(f"{name} must be symmetric, positive-definite")
        return a

    def check(self) -> None:
        """The point estimates: ``means_`` (the posterior means) and ``covars_``."""
        m = self.model
        if not hasattr(m, "_covars_"):
            raise ValueError("covars_ must be set")
        self.validate_covars(m._covars_)
        nf = m.means_posterior_.shape[1]
        if m.covariance_type in ("diag", "full", "tied") and m._covars_.shape[-1] != nf:
            raise ValueError(f"covars_ do not match n_features={nf}")

    def check_state(self, state: dict) -> None:
        m = self.model
        nc = m.n_components
        nf = None
        if "means_posterior_" in state:
            nf = stored_array(state, "means_posterior_", (nc, None), finite=True).shape[1]
            if "n_features" in state and stored_count(state, "n_features") != nf:
                raise ValueError("n_features does not match means_posterior_")
        if "means_prior_" in state:
            stored_array(state, "means_prior_", (nc, nf), finite=True)
        for name in ("beta_prior_", "beta_posterior_"):
            if name in state:
                stored_positive(state, name, (nc,))
        for name in ("dof_prior_", "dof_posterior_"):
            if name in state:
                dof = state[name]
                if m.covariance_type == "tied":
                    if type(dof) is not float or not (np.isfinite(dof) and dof > 0):
                        raise ValueError(f"{name} must be a positive float")
                else:
                    stored_positive(state, name, (nc,))
        if nf is not None:
            m.n_features = nf
            for name in ("scale_prior_", "scale_posterior_"):
                if name in state:
                    stored_array(state, name, self._scale_shape(), finite=True)
                    self._checked_scale(state[name], name)
        if "_covars_" in state:
            cv = state["_covars_"]
            if type(cv) is not np.ndarray or cv.dtype != np.float64:
                raise ValueError("covars_ must be a float64 array")
            self.validate_covars(cv)

    def is_fitted(self) -> bool:
        return all(name in vars(self.model) for name in self.state_attributes)

    def n_fit_scalars(self) -> dict[str, int]:
        """hmmlearn's counts (the posteriors' scalars included)."""
        m = self.model
        nc, nf = m.n_components, m.n_features
        return {
            "m": nc * nf + nc,
            "c": {
                "full": nc + nc * nf * (nf + 1) // 2,
                "tied": 1 + nf * (nf + 1) // 2,
                "diag": nc + nc * nf,
                "spherical": nc + nc,
            }[m.covariance_type],
        }

    def posterior_covars(self) -> np.ndarray:
        """``scale_posterior_ / dof_posterior_`` in hmmlearn's shapes of ``covars_``."""
        m = self.model
        scale, dof = m.scale_posterior_, np.asarray(m.dof_posterior_)
        if m.covariance_type == "full":
            return scale / dof[:, None, None]
        if m.covariance_type == "diag":
            return scale / dof[:, None]
        return scale / dof

    def derive(self, only_missing: bool = False) -> None:
        m = self.model
        if not (only_missing and "_covars_" in vars(m)):
            m._covars_ = self.posterior_covars()

    # ------------------------------------------------------------ E-step, M-step, bound

    def expected_emission_model(self, X: np.ndarray) -> _k.EmissionArrays:
        """``E[log N(x)] = log N(x; means_posterior_, scale / dof) + c_k`` with
        ``c_k = (sum_i digamma((dof - i) / 2) + nf log(4 pi / dof) - nf / beta) / 2``."""
        m = self.model
        nc, nf = m.n_components, m.n_features
        self._checked_scale(m.scale_posterior_, "scale_posterior_")  # an M-step may break it
        dof = np.broadcast_to(np.asarray(m.dof_posterior_, dtype=np.float64), (nc,))
        psi = digamma(0.5 * (dof[:, None] - np.arange(nf)[None, :])).sum(axis=1)
        offset = 0.5 * (psi + nf * (_LOG_4PI - np.log(dof)) - nf / m.beta_posterior_)
        if not np.isfinite(offset).all():
            raise ValueError("the posteriors give non-finite expected log-likelihoods")
        if self._missing(X):  # the observed entries' density, the same constants
            frames = self.log_likelihood(X) + offset
            return _k.emissions(_k.EMIT_LOG_FRAMES, log_frame=frames)
        cv = self.posterior_covars()
        means = m.means_posterior_
        if m.covariance_type in ("diag", "spherical"):
            covars = np.broadcast_to(cv[:, None] if cv.ndim == 1 else cv, (nc, nf))
            return _k.emissions(_k.EMIT_DIAG, X=X, means=means, covars=covars, log_offset=offset)
        chol = np.linalg.cholesky(np.broadcast_to(cv, (nc, nf, nf)))
        return _k.emissions(_k.EMIT_FULL, X=X, means=means, chol=chol, log_offset=offset)

    def _with_post_f(self, stats: dict) -> dict:
        return stats  # the posteriors take the completed frames' statistics

    def posterior_stats(self, X: Any, gamma: np.ndarray) -> dict:
        """The Gaussian family's statistics; with missing entries under diagonal
        covariances, those of the frames completed by ``q(x_m | state)`` (mean
        ``means_``, variance ``covars_``) rather than per-feature sums."""
        stats = super().posterior_stats(X, gamma)
        seen = stats.pop("post_f", None)
        if seen is not None:
            m = self.model
            unseen = stats["post"][:, None] - seen  # posterior mass of missing entries
            stats["obs"] = stats["obs"] + unseen * m.means_posterior_
            if "obs**2" in stats:
                second = m.means_posterior_**2 + self.diag_covars()
                stats["obs**2"] = stats["obs**2"] + unseen * second
        return stats

    def mstep(self, stats: dict) -> None:
        """Normal-Wishart posteriors from the statistics (hmmlearn's update)."""
        m = self.model
        if "post" not in stats:
            return
        b0, m0 = m.beta_prior_, m.means_prior_
        if self.fits("m"):
            m.beta_posterior_ = b0 + stats["post"]
            m.means_posterior_ = (b0[:, None] * m0 + stats["obs"]) / m.beta_posterior_[:, None]
        if not self.fits("c"):
            return
        bn, mn = m.beta_posterior_, m.means_posterior_
        ct = m.covariance_type
        if ct in ("full", "tied"):
            spread = (
                stats["obs*obs.T"]
                + np.einsum("c,ci,cj->cij", b0, m0, m0)
                - np.einsum("c,ci,cj->cij", bn, mn, mn)
            )
            if ct == "full":
                m.dof_posterior_ = m.dof_prior_ + stats["post"]
                m.scale_posterior_ = m.scale_prior_ + spread
            else:
                m.dof_posterior_ = float(m.dof_prior_ + stats["post"].sum())
                m.scale_posterior_ = m.scale_prior_ + spread.sum(axis=0)
        else:
            spread = stats["obs**2"] + b0[:, None] * m0**2 - bn[:, None] * mn**2
            m.dof_posterior_ = m.dof_prior_ + stats["post"]
            m.scale_posterior_ = m.scale_prior_ + (
                spread.mean(axis=1) if ct == "spherical" else spread
            )
        m._covars_ = self.posterior_covars()

    def kl_divergence(self) -> float:
        """Per state, ``KL`` of the Normal over the mean (given the precision's
        expectation) and of the Wishart over the precision (once when tied)."""
        m = self.model
        nc, nf, ct = m.n_components, m.n_features, m.covariance_type
        scale_q = _as_matrices(m.scale_posterior_, ct, nc, nf)
        scale_p = _as_matrices(m.scale_prior_, ct, nc, nf)
        dof_q = np.broadcast_to(np.asarray(m.dof_posterior_, dtype=np.float64), (nc,))
        bq, bp = m.beta_posterior_, m.beta_prior_
        delta = m.means_posterior_ - m.means_prior_
        # Normal: covariances (beta * dof * W)^-1 with W = scale^-1
        mahal = np.einsum("ci,ci->c", delta, np.linalg.solve(scale_q, delta[..., None])[..., 0])
        kl = 0.5 * (nf * np.log(bq / bp) + nf * bp / bq + bp * dof_q * mahal - nf).sum()
        # Wishart (hmmlearn's parametrisation: inverse scale matrices)
        if ct == "tied":
            dq, dp = np.array([m.dof_posterior_]), np.array([m.dof_prior_])
            sq, sp = scale_q[:1], scale_p[:1]
        else:
            dq, dp, sq, sp = dof_q, np.asarray(m.dof_prior_), scale_q, scale_p
        i = np.arange(nf)
        logdet_q = np.linalg.slogdet(sq / 2)[1]
        logdet_p = np.linalg.slogdet(sp / 2)[1]
        half_q, half_p = 0.5 * (dq[:, None] - i), 0.5 * (dp[:, None] - i)
        e_logdet = -logdet_q + digamma(half_q).sum(axis=1)
        trace = np.einsum("cii->c", np.linalg.solve(sq, sp))  # tr(S_p S_q^-1)
        log_z_p = -0.5 * dp * logdet_p + gammaln(half_p).sum(axis=1)
        log_z_q = -0.5 * dq * logdet_q + gammaln(half_q).sum(axis=1)
        kl_w = 0.5 * (dq - dp) * e_logdet - 0.5 * nf * dq + 0.5 * dq * trace + log_z_p - log_z_q
        return float(kl + kl_w.sum())


@fill(**SHARED)
class VariationalGaussianHMM(VariationalHMM):
    """Gaussian HMM fitted by variational inference (hmmlearn's
    ``VariationalGaussianHMM``).

    Dirichlet posteriors over ``startprob_`` and the rows of ``transmat_``,
    Normal-Wishart posteriors over each state's mean and precision; ``fit`` maximises
    the evidence lower bound, which ``monitor_`` records.  Every method of the
    estimator API is documented on :class:`BaseHMM`; ``score``, ``decode`` and the
    others use the point estimates.

    Parameters
    ----------
    {{n_components}}
    covariance_type : {"full", "diag", "spherical", "tied"}, default="full"
        Form of the covariances: "full" a full matrix per state, "diag" a diagonal
        one, "spherical" one variance per state, "tied" one full matrix shared by
        all states.
    {{startprob_prior_variational}}
    {{transmat_prior_variational}}
    means_prior : array of shape (n_components, n_features), optional
        Centre of the normal prior over the means.  None (default): the mean of
        ``X``.
    beta_prior : array of shape (n_components,), optional
        Precision scale of the normal prior over the means, in frames (the prior
        mean counts as ``beta_prior`` observations).  None (default): 1.
    dof_prior : float or array of shape (n_components,), optional
        Degrees of freedom of the Wishart prior over the precisions (a number when
        "tied"); must exceed ``n_features - 1``.  None (default): ``n_features``.
    scale_prior : float or array, optional
        Inverse scale of the Wishart prior, in the shape of ``covars_`` for the
        ``covariance_type`` (see ``scale_prior_``).  None (default): 1e-3 times the
        identity.
    {{algorithm}}
    random_state : int, numpy.random.RandomState or None, default=None
        Source of the random draws of ``fit``'s initialisation (k-means of the means,
        Dirichlet draws of the chain's posteriors) and of ``sample`` when it is given no
        generator.  An int makes fits reproducible; None uses NumPy's global generator.
    {{n_iter_variational}}
    {{tol_variational}}
    {{verbose_variational}}
    params : str, default="stmc"
        Letters of the parameters that EM updates: "s" the start distribution, "t" the
        transitions, "m" the means (with ``beta``), "c" the covariances (``dof`` and
        ``scale``).  Parameters whose letter is missing keep their values.
    init_params : str, default="stmc"
        Letters of the parameters that ``fit`` initialises before EM (same letters as
        ``params``).  A parameter whose letter is missing starts from the value set on
        the model; one that is not set is initialised anyway.  A letter initialises the
        prior and the posterior of its parameter together.
    {{implementation}}
    {{n_init_variational}}
    allow_nan : bool, default=False
        fastgen only.  NaN entries of ``X`` are missing values (at random).  ``score``,
        ``predict`` and the other point-estimate methods marginalise them out, as
        :class:`GaussianHMM` does; ``fit`` treats them as latent variables of the
        mean field (each missing entry gets its conditional normal given the frame's
        observed entries, in each state), so the lower bound stays a bound and never
        decreases.  The initialisation sets them to their column's observed mean.
        ``inf`` is refused.

    Attributes
    ----------
    {{attr_n_features}}
    startprob_prior_, startprob_posterior_ : ndarray of shape (n_components,)
        Dirichlet prior and posterior on ``startprob_``.
    transmat_prior_, transmat_posterior_ : ndarray of shape (n_components, n_components)
        Dirichlet priors and posteriors on the rows of ``transmat_``.
    means_prior_, means_posterior_ : ndarray of shape (n_components, n_features)
        Centres of the normal prior and posterior over the means.
    beta_prior_, beta_posterior_ : ndarray of shape (n_components,)
        Their precision scales.
    dof_prior_, dof_posterior_ : ndarray of shape (n_components,), or float when tied
        Degrees of freedom of the Wishart prior and posterior over the precisions.
    scale_prior_, scale_posterior_ : ndarray
        Their inverse scales: (n_components,) spherical, (n_components, n_features)
        diag, (n_components, n_features, n_features) full, (n_features, n_features)
        tied.
    {{attr_startprob_variational}}
    {{attr_transmat_variational}}
    means_ : ndarray of shape (n_components, n_features)
        ``means_posterior_``.
    covars_ : ndarray of shape (n_components, n_features, n_features)
        ``scale_posterior_ / dof_posterior_`` as full matrices (``_covars_`` in
        hmmlearn's shapes).  These four point estimates are what ``score``,
        ``decode``, ``predict`` and ``sample`` use.
    {{attr_fit_record_variational}}

    See Also
    --------
    GaussianHMM : The same emissions fitted by maximum likelihood (EM).
    VariationalCategoricalHMM : Categorical emissions fitted by variational inference.
    fastgen.hmm.select_n_components : Choose ``n_components`` by BIC or AIC.
    fastgen.hmm.HMMStream : Filter sequences chunk by chunk with a fitted model.
    fastgen.dask.fit_hmm : Fit the model by EM over a Dask DataFrame.

    Notes
    -----
    The starting means come from fastgen's k-means (as :class:`GaussianHMM`), not
    scikit-learn's: with ``"m"`` or ``"c"`` in ``init_params`` a fit starts elsewhere
    than hmmlearn's.  The degrees of freedom must exceed ``n_features - 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.hmm import VariationalGaussianHMM
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.normal(-3, 1, (150, 2)), rng.normal(3, 1, (150, 2))])
    >>> model = VariationalGaussianHMM(3, covariance_type="diag", n_iter=50,
    ...                                random_state=0).fit(X)
    >>> model.means_posterior_.shape, model.covars_.shape
    ((3, 2), (3, 2, 2))
    >>> bool(np.diff(model.monitor_.history).min() > -1e-6)
    True
    """

    emission_family = VariationalGaussianEmissions

    def __init__(
        self,
        n_components: int = 1,
        covariance_type: str = "full",
        startprob_prior: Any = None,
        transmat_prior: Any = None,
        means_prior: Any = None,
        beta_prior: Any = None,
        dof_prior: Any = None,
        scale_prior: Any = None,
        algorithm: str = "viterbi",
        random_state: Any = None,
        n_iter: int = 100,
        tol: float = 1e-6,
        verbose: bool = False,
        params: str = "stmc",
        init_params: str = "stmc",
        implementation: str = "log",
        n_init: int = 1,
        allow_nan: bool = False,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.means_prior = means_prior
        self.beta_prior = beta_prior
        self.dof_prior = dof_prior
        self.scale_prior = scale_prior
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.params = params
        self.init_params = init_params
        self.implementation = implementation
        self.n_init = n_init
        self.allow_nan = allow_nan

    @property
    def means_(self) -> np.ndarray:
        """The state means: ``means_posterior_``."""
        return self.means_posterior_

    covars_ = GaussianHMM.covars_


VariationalGaussianHMM.__module__ = "fastgen.hmm"
