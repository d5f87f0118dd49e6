"""Hidden Markov models with hmmlearn's API, computed by compiled kernels.

:class:`GaussianHMM`, :class:`GMMHMM`, :class:`CategoricalHMM`, :class:`PoissonHMM`,
:class:`MultinomialHMM` and the variational :class:`VariationalCategoricalHMM` and
:class:`VariationalGaussianHMM` (posteriors ``*_posterior_``, priors ``*_prior_``,
``monitor_`` recording the lower bound) take hmmlearn's constructor parameters,
expose its fitted attributes (``startprob_``, ``transmat_``, ``means_``, ``covars_``,
``weights_``, ``emissionprob_``, ``lambdas_``, ``n_trials``, ``monitor_``) and give the
same numbers: scores, posteriors and Viterbi paths agree with hmmlearn to rounding, and
so do the parameters after the same number of EM iterations from the same starting
point.  Every model also learns online: ``partial_fit(X, lengths)`` runs stepwise EM
over chunks of whole sequences (stochastic variational inference for the variational
models), keeping running statistics that model files store.

Threads: the E-step, scoring and Viterbi kernels (Cython, compiled when the package is
built: nothing compiles on a user's machine) run on :func:`fastgen.get_num_threads`
threads (set with :func:`fastgen.set_num_threads` or the ``FASTGEN_NUM_THREADS``
environment variable); work is split into a fixed number of chunks, so results do not
depend on the number of threads.

Random restarts: every model takes ``n_init`` (default 1, fastgen only): ``fit`` runs
that many EM fits from different seeds side by side and keeps the best
(``restart_objectives_`` records each); :func:`select_n_components` picks
``n_components`` by BIC or AIC over a range, all its fits in one batch (``_restarts``).

Layout: every model is :class:`BaseHMM` (``_base``: the estimator API) plus one
emission family (``_family``: the interface; ``_gaussian``, ``_gmm``, ``_categorical``,
``_poisson``, ``_multinomial``).  The EM loop, the start/transition M-step, the
convergence monitor and the sufficient statistics live once, in ``_engine`` (``BaumWelch``, which
:func:`fastgen.dask.fit_hmm` drives too); ``_variational`` overrides its named hooks
for variational EM (``VariationalBaumWelch``: sub-normalised E-step on the same
kernels, posterior updates, lower bound), with the families ``_vcategorical`` and
``_vgaussian``; ``_modelfile`` checks and describes a restored model for
:func:`fastgen.load`.

Differences from hmmlearn
-------------------------
* The k-means initialisation of ``GaussianHMM.means_`` is a small seeded k-means++
  / Lloyd implementation in NumPy, not scikit-learn's ``KMeans``; with
  ``"m"`` in ``init_params`` the starting means (hence the fit) differ from
  hmmlearn's.  Pass ``init_params=""`` with explicit parameters for identical fits.
* A state that receives no posterior mass keeps its previous mean / covariance /
  mixture weights / emission row / rates / transition row instead of becoming NaN (or
  a zero row); a ``GMMHMM`` mixture component with no mass, or whose covariance update
  is not positive-definite, keeps its mean and covariance.
* ``GMMHMM`` leaves its prior hyperparameters as given (hmmlearn broadcasts them to
  arrays in place).
* Spherical covariances are stored as ``(n_components,)`` after fitting (hmmlearn
  switches to a tiled ``(n_components, n_features)`` array); ``covars_`` is the same.
* Before the first ``fit``, ``monitor_`` is a new monitor that is not kept (an unfitted
  model has no fitted attributes); one assigned there is used by ``fit``, as hmmlearn's.
* ``X`` may also be a list of 2-D arrays (one per sequence) instead of ``lengths``.
* ``fit(X, lengths, sample_weight=None, states=None)``: per-sequence or per-frame
  weights of the EM statistics (an integer weight fits as repeated copies of the
  sequence), and semi-supervised EM with known states of some frames clamping the
  posteriors (all known: the supervised estimate); hmmlearn has neither.  See
  :meth:`BaseHMM.fit`; :func:`fastgen.dask.fit_hmm` takes frame weights as
  ``weight_column``.
* ``allow_nan=True`` (``GaussianHMM``, ``GMMHMM``, ``VariationalGaussianHMM``) treats
  NaN entries of ``X`` as missing values, marginalised out of the densities; ``fit``
  is the exact EM of missing data (the missing entries' conditional Gaussian moments,
  per state or mixture component; ``GaussianHMM`` diag / spherical: per-feature
  observed sums), or for the variational model the mean field with the missing
  entries as latents.  hmmlearn has no such option.
* A sequence of probability zero under the model gets all-zero posteriors (hmmlearn:
  NaN) and adds nothing to the EM statistics.
* Variational models derive their point estimates (``startprob_``, ``transmat_``,
  ``emissionprob_``, ``covars_``) from the posteriors when ``fit`` starts and when
  ``score`` & co. find them unset (hmmlearn: only in the M-step of the letters in
  ``params``); priors and posteriors must be positive (degrees of freedom above
  ``n_features - 1``), else ``ValueError`` (hmmlearn: NaN or infinite bounds).
"""

from __future__ import annotations

from fastgen.hmm._base import BaseHMM
from fastgen.hmm._categorical import CategoricalHMM
from fastgen.hmm._engine import ConvergenceMonitor
from fastgen.hmm._gaussian import GaussianHMM
from fastgen.hmm._gmm import GMMHMM
from fastgen.hmm._multinomial import MultinomialHMM
from fastgen.hmm._poisson import PoissonHMM
from fastgen.hmm._restarts import select_n_components
from fastgen.hmm._stream import HMMStream, StreamOutput
from fastgen.hmm._vcategorical import VariationalCategoricalHMM
from fastgen.hmm._vgaussian import VariationalGaussianHMM

__all__ = [
    "BaseHMM", "CategoricalHMM", "ConvergenceMonitor", "GMMHMM", "GaussianHMM", "HMMStream",
    "MultinomialHMM", "PoissonHMM", "StreamOutput", "VariationalCategoricalHMM",
    "VariationalGaussianHMM", "select_n_components",
]  # fmt: skip

_BaseHMM = BaseHMM  # the former private name
