"""What a model file stores for each fastgen estimator class, and how it is checked.

:data:`SPECS` is the whitelist of kinds (``"fastgen.MultinomialNB"``, ...,
``"sklearn.Pipeline"``) that :func:`fastgen.load` may instantiate.  Each :class:`Spec`
lists the fitted attributes saved, the consistency check run on a restored model
and the kind-specific summary shown by :func:`fastgen.info`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

import numpy as np

__all__ = [
    "NEURAL_KINDS", "NEURAL_KIND_NAMES", "SPECS", "Spec", "jsonable", "spec_for",
    "validate_params",
]  # fmt: skip

#: kinds written by ``Autoencoder.export``/``VAE.export``/``nn.export_keras``
NEURAL_KINDS = ("autoencoder", "vae", "keras")
#: how ``info`` names them: as every other kind, the class ``load`` returns
NEURAL_KIND_NAMES = {
    "autoencoder": "fastgen.OnnxAutoencoder",
    "vae": "fastgen.OnnxVAE",
    "keras": "fastgen.OnnxKerasModel",
}

#: classes listed by ``info`` summaries (``n_classes`` gives the full count)
_SUMMARY_CLASSES = 50
#: rounding allowed above 0 in a stored log-probability
_LOG_TOL = 1e-9


@dataclass(frozen=True)
class Spec:
    """How one estimator class is stored.

    ``module``/``name`` locate the class (imported only when needed); ``required``
    fitted attributes are stored and restored all together or not at all,
    ``optional`` ones when present; ``transient`` private attributes are caches
    rebuilt on demand.  ``check(est)`` validates a restored fitted state (raises
    ``ValueError``/``TypeError``); ``summary(est)`` gives the facts shown by ``info``;
    ``fitted(est)`` tells whether the estimator is fitted; ``host_access(est)``
    lists the parameters that would let a model file act on the host (read files,
    run its own patterns), refused by :func:`fastgen.load` unless ``trusted=True``.
    """

    module: str
    name: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    transient: tuple[str, ...] = ()
    check: Callable[[Any], None] | None = None
    summary: Callable[[Any], dict] | None = None
    fitted: Callable[[Any], bool] | None = None
    coerce: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    host_access: Callable[[Any], list[str]] | None = None

    @property
    def state(self) -> tuple[str, ...]:
        return self.required + self.optional

    def load_class(self) -> type:
        return getattr(import_module(self.module), self.name)


# ---- parameters


def validate_params(est: Any) -> None:
    """Run the estimator's own parameter validation (what ``fit`` runs first).

    Raises ``ValueError``/``TypeError`` (or ``LookupError``, ``re.error``) for a value
    the constructor would accept but ``fit`` refuses (``alpha=inf``, an unknown
    ``analyzer``, a vocabulary of non-str terms, a codec that does not exist, ...).
    """
    validate = getattr(est, "_validate_params", None)
    if callable(validate):
        validate()
    vocabulary = getattr(est, "_checked_vocabulary", None)  # a given vocabulary (vectorizers)
    if callable(vocabulary):
        vocabulary()


#: n-grams longer than this let a file make tokenizing cost grow without bound
MAX_UNTRUSTED_NGRAM = 16


def _vectorizer_host_access(est: Any) -> list[str]:
    from .text._analysis import _FAST_TOKEN_PATTERNS

    reasons = []
    if est.input != "content":
        reasons.append(f"input={est.input!r} makes transform open every document as a path "
                       "on this host")
    analyzer = est.analyzer
    if analyzer not in ("word", "char", "char_wb"):
        reasons.append(f"analyzer={analyzer!r} is not one of 'word', 'char', 'char_wb'")
    for name in ("preprocessor", "tokenizer"):
        if getattr(est, name) is not None:
            reasons.append(f"{name}={getattr(est, name)!r} is custom code")
    if analyzer == "word" and est.token_pattern not in _FAST_TOKEN_PATTERNS:
        reasons.append(f"token_pattern={est.token_pattern!r} is a custom regular expression "
                       "run on every document (some patterns take exponential time)")
    ngram = est.ngram_range
    if (isinstance(ngram, tuple) and len(ngram) == 2 and isinstance(ngram[1], int)
            and ngram[1] > MAX_UNTRUSTED_NGRAM):
        reasons.append(f"ngram_range={ngram!r} asks for n-grams longer than "
                       f"{MAX_UNTRUSTED_NGRAM} (tokenizing cost grows with n)")
    return reasons


def _pipeline_host_access(est: Any) -> list[str]:
    if est.memory is not None:
        return [f"memory={est.memory!r} makes fit cache transformers in a host directory"]
    return []


# ---- state checks (raise ValueError; turned into ModelFileError by load)


def _array(est: Any, name: str, kinds: str, shape: tuple, *, allow_nan: bool = True,
           finite: bool = False) -> np.ndarray:
    """``vars(est)[name]`` as an ndarray of dtype kind in ``kinds`` and ``shape``.

    ``shape`` entries that are None match any length.
    """
    a = vars(est)[name]
    if type(a) is not np.ndarray:
        raise ValueError(f"{name} must be an array, got {type(a).__name__}")
    if a.dtype.kind not in kinds:
        raise ValueError(f"{name} has dtype {a.dtype}, expected kind {kinds!r}")
    if a.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, a.shape,
                                                                          strict=True)):
        want = tuple("*" if s is None else s for s in shape)
        raise ValueError(f"{name} has shape {a.shape}, expected {want}")
    if a.dtype.kind in "fc":
        if finite and not np.isfinite(a).all():
            raise ValueError(f"{name} must be finite")
        if not allow_nan and np.isnan(a).any():
            raise ValueError(f"{name} contains NaN")
    return a


def _count(est: Any, name: str) -> int:
    n = vars(est)[name]
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {n!r}")
    return int(n)


def _check_labels(est: Any) -> int:
    classes = vars(est)["classes_"]
    if type(classes) is not np.ndarray or classes.ndim != 1 or classes.size == 0:
        raise ValueError("classes_ must be a non-empty 1-D array")
    if classes.dtype.kind in "fc" and np.isnan(classes).any():
        raise ValueError("classes_ contains NaN")
    try:
        ordered = np.array_equal(np.unique(classes), classes)
    except TypeError:
        ordered = False
    if not ordered:
        raise ValueError("classes_ must be sorted and unique")
    return classes.size


def _check_feature_names(est: Any, n_features: int) -> None:
    if "feature_names_in_" in vars(est):
        names = _array(est, "feature_names_in_", "OU", (n_features,))
        if names.dtype.kind == "O" and not all(type(x) is str for x in names):
            raise ValueError("feature_names_in_ must hold strings")


def _check_log_probs(name: str, logp: np.ndarray, *, normalised: bool) -> None:
    """Log-probabilities: no NaN or +inf, <= 0; each row's probabilities sum to 1."""
    if np.isnan(logp).any() or np.any(logp > _LOG_TOL):
        raise ValueError(f"{name} must hold log-probabilities (<= 0, no NaN)")
    if normalised and logp.size:
        with np.errstate(divide="ignore"):
            total = np.log(np.exp(logp).sum(axis=-1))
        if not np.all(np.abs(total) <= 1e-6):
            raise ValueError(f"{name}: probabilities must sum to 1 (row log-sums {total})")


def _check_counts(name: str, counts: np.ndarray) -> None:
    if not np.isfinite(counts).all() or np.any(counts < 0):
        raise ValueError(f"{name} must hold finite, non-negative counts")


def _check_discrete_nb(est: Any) -> None:
    n_classes = _check_labels(est)
    n_features = _count(est, "n_features_in_")
    _check_counts("class_count_", _array(est, "class_count_", "f", (n_classes,)))
    prior = _array(est, "class_log_prior_", "f", (n_classes,), allow_nan=False)
    # a user's class_prior need not sum to 1 (scikit-learn takes it as given)
    if np.any(prior == np.inf) or not np.isfinite(prior).any():
        raise ValueError("class_log_prior_ must be log-priors (no +inf, one finite at least)")
    state = vars(est)
    if "category_count_" in state:  # CategoricalNB
        counts, logs = state["category_count_"], state["feature_log_prob_"]
        if not (type(counts) is list and type(logs) is list
                and len(counts) == len(logs) == n_features):
            raise ValueError("category_count_ and feature_log_prob_ must be lists of "
                             "n_features_in_ arrays")
        for j, (c, lp) in enumerate(zip(counts, logs, strict=True)):
            for what, a in (("category_count_", c), ("feature_log_prob_", lp)):
                if type(a) is not np.ndarray or a.dtype.kind != "f" or a.ndim != 2:
                    raise ValueError(f"{what}[{j}] must be a 2-D float array")
                if a.shape != (n_classes, c.shape[1]):
                    raise ValueError(f"{what}[{j}] has shape {a.shape}, expected "
                                     f"({n_classes}, n_categories)")
            _check_counts(f"category_count_[{j}]", c)
            if not np.isfinite(lp).all():
                raise ValueError(f"feature_log_prob_[{j}] must be finite")
            _check_log_probs(f"feature_log_prob_[{j}]", lp, normalised=True)
        n_cat = _array(est, "n_categories_", "iu", (n_features,))
        widths = np.array([c.shape[1] for c in counts], dtype=np.int64)
        if np.any(n_cat < 0) or np.any(n_cat > widths):
            raise ValueError("n_categories_ does not match category_count_")
    else:
        name = type(est).__name__
        _check_counts("feature_count_",
                      _array(est, "feature_count_", "f", (n_classes, n_features)))
        logp = _array(est, "feature_log_prob_", "f", (n_classes, n_features), finite=True)
        if name == "ComplementNB":  # negated (and optionally normalised) complement logs
            _check_counts("feature_all_", _array(est, "feature_all_", "f", (n_features,)))
        else:
            _check_log_probs("feature_log_prob_", logp, normalised=name == "MultinomialNB")
            if name == "BernoulliNB" and np.any(logp >= 0):
                raise ValueError("feature_log_prob_ must be < 0 (probabilities below 1)")
    _check_feature_names(est, n_features)


def _check_gaussian_nb(est: Any) -> None:
    n_classes = _check_labels(est)
    n_features = _count(est, "n_features_in_")
    _check_counts("class_count_", _array(est, "class_count_", "f", (n_classes,)))
    prior = _array(est, "class_prior_", "f", (n_classes,), finite=True)
    if np.any(prior < 0) or abs(prior.sum() - 1.0) > 1e-6:
        raise ValueError("class_prior_ must be probabilities summing to 1")
    _array(est, "theta_", "f", (n_classes, n_features), finite=True)
    var = _array(est, "var_", "f", (n_classes, n_features), finite=True)
    if np.any(var <= 0):
        raise ValueError("var_ must be positive")
    eps = vars(est)["epsilon_"]
    if not isinstance(eps, (float, np.floating)) or not math.isfinite(eps) or eps < 0:
        raise ValueError(f"epsilon_ must be a finite float >= 0, got {eps!r}")
    _check_feature_names(est, n_features)


def _check_count_vectorizer(est: Any) -> None:
    from .text._count import _Vocabulary

    state = vars(est)
    if "fixed_vocabulary_" in state and type(state["fixed_vocabulary_"]) is not bool:
        raise ValueError("fixed_vocabulary_ must be a bool")
    if "vocabulary_" in state:
        vocab = state["vocabulary_"]
        if type(vocab) is not _Vocabulary or not vocab:
            raise ValueError("vocabulary_ must be a non-empty term -> column mapping")
        if not all(type(term) is str for term in vocab):
            raise ValueError("vocabulary_ terms must be str")
        idx = np.fromiter(vocab.values(), dtype=np.int64, count=len(vocab))
        n = idx.size
        if idx.min() < 0 or idx.max() >= n or np.bincount(idx, minlength=n).max() != 1:
            raise ValueError("vocabulary_ indices must be a permutation of 0 .. n_terms - 1")
    if "stop_words_" in state and (type(state["stop_words_"]) not in (set, frozenset)
                                   or not all(type(w) is str for w in state["stop_words_"])):
        raise ValueError("stop_words_ must be a set of str")


#: the largest idf a fit can give: ``1 + log((n + 1) / 1)`` for fewer than 2**63
#: documents (float32 rounding included).  Bounding idf keeps every tf-idf weight
#: finite (no ``inf / inf = NaN`` in the row norm).
MAX_IDF = 1.0 + 64 * math.log(2.0)
#: columns a tf-idf matrix can have: the weighing kernel's column indices are int32
_MAX_COLUMNS = 2**31 - 1


def _idf_problem(idf: np.ndarray) -> str | None:
    """Why ``idf`` cannot be a fitted tf-idf weighting in a model file (None: it can).

    A fit gives ``idf = log((n + s) / (df + s)) + 1`` (``s = 1`` with ``smooth_idf``),
    with ``0 <= df <= n``: values in ``[1, MAX_IDF]``, float32 or float64, 1-D.  The
    only other values a real fit gives are ``inf`` (``smooth_idf=False`` and a term of
    a given ``vocabulary`` in no training document) and NaN (``smooth_idf=False`` and
    no documents at all); both make ``transform`` answer NaN for a document holding
    such a term, so model files hold neither: :func:`fastgen.save` refuses them (refit
    with ``smooth_idf=True``) and :func:`fastgen.load` refuses a file carrying them.
    """
    if type(idf) is not np.ndarray or idf.dtype not in (np.float32, np.float64):
        return (f"idf_ must be a float32 or float64 array, got "
                f"{getattr(idf, 'dtype', type(idf).__name__)}")
    if idf.ndim != 1:
        return f"idf_ must be 1-D, got shape {idf.shape}"
    if not np.isfinite(idf).all():
        return ("idf_ must be finite (inf/NaN come from smooth_idf=False with a term of the "
                "vocabulary in no training document, or no documents; tf-idf would be NaN)")
    if idf.size and (idf.min() < 1.0 or idf.max() > MAX_IDF):
        return f"idf_ must lie in [1, {MAX_IDF:.4g}] (log((n + s) / (df + s)) + 1)"
    return None


def _idf_for_file(idf: Any) -> np.ndarray:
    """``idf_`` as saved: float32/float64 arrays as they are, any other numbers (set by
    hand) as the float64 array the weighing kernel reads; ``ValueError`` for values a
    fit cannot give (see :func:`_idf_problem`), so that ``save`` never writes a file
    ``load`` refuses."""
    if type(idf) is not np.ndarray or idf.dtype not in (np.float32, np.float64):
        try:
            idf = np.asarray(idf, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"cannot save idf_: not numbers ({exc})") from exc
    problem = _idf_problem(idf)
    if problem is not None:
        raise ValueError(f"cannot save idf_: {problem}")
    return idf


def _check_tfidf_transformer(est: Any) -> None:
    """``n_features_in_`` (a column count), ``feature_names_in_`` and ``idf_`` as a fit
    leaves them.  ``use_idf=True`` without ``idf_`` is accepted (``set_params`` after a
    fit without idf: ``transform`` then asks for a fit, as it would before saving)."""
    state = vars(est)
    n = None
    if "n_features_in_" in state:
        n = _count(est, "n_features_in_")
        if n > _MAX_COLUMNS:
            raise ValueError(f"n_features_in_ must be at most {_MAX_COLUMNS}, got {n}")
        _check_feature_names(est, n)
    elif "feature_names_in_" in state:
        raise ValueError("feature_names_in_ without n_features_in_")
    if "idf_" in state:
        problem = _idf_problem(state["idf_"])
        if problem is not None:
            raise ValueError(problem)
        _array(est, "idf_", "f", (n,))  # one weight per input column


def _check_tfidf_vectorizer(est: Any) -> None:
    """CountVectorizer's checks, plus the fitted weighting ``_tfidf``: a TfidfTransformer
    (its own parameters and state checked when it was read) with one idf per term of
    ``vocabulary_``.

    Its parameters may differ from the vectorizer's: ``transform`` uses the weighting
    of the fit (as scikit-learn does), and ``set_params`` after a fit changes only the
    vectorizer's; both are restored as saved.  Likewise ``idf_`` may be float32 or
    float64 whatever ``dtype`` is now (the weighing kernel reads it in float64 either
    way, so outputs are unchanged).
    """
    _check_count_vectorizer(est)
    state = vars(est)
    if "_tfidf" not in state:
        return
    tfidf = state["_tfidf"]
    if spec_for(tfidf)[0] != "fastgen.TfidfTransformer":
        raise ValueError(f"_tfidf must be a TfidfTransformer, got {type(tfidf).__name__}")
    if "vocabulary_" in state:
        n = len(state["vocabulary_"])
        inner = vars(tfidf)
        if "n_features_in_" in inner and inner["n_features_in_"] != n:
            raise ValueError(f"the weighting was fitted on {inner['n_features_in_']} "
                             f"columns, the vocabulary has {n} terms")
        if "idf_" in inner and inner["idf_"].shape != (n,):
            raise ValueError(f"idf_ has shape {inner['idf_'].shape}, the vocabulary has "
                             f"{n} terms")


def _n_features_out(vectorizer: Any) -> int | None:
    if "vocabulary_" in vars(vectorizer):
        return len(vectorizer.vocabulary_)
    if type(vectorizer).__name__ == "HashingVectorizer":
        return int(vectorizer.n_features)
    return None


def _check_text_classifier(est: Any) -> None:
    vec, clf = est.vectorizer_, est.classifier_
    if spec_for(vec)[1] is None or not hasattr(vec, "build_analyzer"):
        raise ValueError("vectorizer_ must be a fastgen vectorizer")
    if not hasattr(clf, "predict_joint_log_proba") or "classes_" not in vars(clf):
        raise ValueError("classifier_ must be a fitted fastgen classifier")
    if not np.array_equal(est.classes_, clf.classes_) or est.classes_.dtype != clf.classes_.dtype:
        raise ValueError("classes_ differs from classifier_.classes_")
    est.classes_ = clf.classes_  # one array, as after fit
    n_out, n_in = _n_features_out(vec), getattr(clf, "n_features_in_", None)
    if n_out is not None and n_in is not None and n_out != n_in:
        raise ValueError(f"the vectorizer makes {n_out} features, the classifier expects {n_in}")


def _check_pipeline(est: Any) -> None:
    steps = est.steps
    if type(steps) is not list or not steps:
        raise ValueError("steps must be a non-empty list")
    for step in steps:
        if type(step) is not tuple or len(step) != 2 or type(step[0]) is not str:
            raise ValueError("every step must be a (name, estimator) tuple")
    est._validate_steps()


def _hmm(name: str) -> Callable[[Any], Any]:
    """A model-file hook of the HMM package (``fastgen.hmm._modelfile``), imported on
    first call: only an HMM being saved or loaded needs it."""

    def hook(est: Any) -> Any:
        return getattr(import_module("fastgen.hmm._modelfile"), name)(est)

    return hook


_check_hmm, _hmm_fitted = _hmm("check_restored"), _hmm("is_fitted")
_check_hmm_stream = _hmm("check_stream")


def _float64(value: Any) -> Any:
    """HMM probabilities set by hand as lists: stored as the float64 array ``_check`` makes."""
    return np.asarray(value, dtype=np.float64) if type(value) is not np.ndarray else value


# ---- summaries (JSON data only)


def jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _classes_summary(classes: np.ndarray) -> dict:
    return {"n_classes": int(classes.size),
            "classes": jsonable(classes[:_SUMMARY_CLASSES])}


def _summary_count_vectorizer(est: Any) -> dict:
    out: dict = {"fitted": "vocabulary_" in vars(est)}
    if out["fitted"]:
        out["vocabulary_size"] = out["n_features"] = len(est.vocabulary_)
        out["fixed_vocabulary"] = bool(vars(est).get("fixed_vocabulary_", False))
    return out


def _weighting_summary(tfidf: Any) -> dict:
    """The fitted tf-idf weighting: its parameters and the range of ``idf_``."""
    out = {name: getattr(tfidf, name, None) for name in ("norm", "use_idf", "smooth_idf",
                                                    "sublinear_tf")}
    idf = np.asarray(vars(tfidf).get("idf_", ()), dtype=np.float64)
    if idf.size:
        out["idf_range"] = [float(idf.min()), float(idf.max())]
    return out


def _summary_tfidf_transformer(est: Any) -> dict:
    out: dict = {"fitted": "n_features_in_" in vars(est) or "idf_" in vars(est)}
    if "n_features_in_" in vars(est):
        out["n_features"] = int(est.n_features_in_)
    if out["fitted"]:
        out.update(_weighting_summary(est))
    return out


def _summary_tfidf_vectorizer(est: Any) -> dict:
    out = _summary_count_vectorizer(est)
    out["fitted"] = "_tfidf" in vars(est)
    if out["fitted"]:
        out["weighting"] = _weighting_summary(vars(est)["_tfidf"])
    return out


def _summary_hashing(est: Any) -> dict:
    return {"fitted": True, "n_features": jsonable(est.n_features)}


def _summary_nb(est: Any) -> dict:
    out: dict = {"fitted": "classes_" in vars(est) and "n_features_in_" in vars(est)}
    if out["fitted"]:
        out["n_features"] = int(est.n_features_in_)
        out.update(_classes_summary(est.classes_))
    return out


def _summary_text_classifier(est: Any) -> dict:
    out: dict = {"fitted": "classifier_" in vars(est)}
    if out["fitted"]:
        out["vectorizer"] = spec_for(est.vectorizer_)[0]
        out["classifier"] = spec_for(est.classifier_)[0]
        out["n_features"] = _n_features_out(est.vectorizer_)
        out.update(_classes_summary(est.classes_))
    return out


def _summary_pipeline(est: Any) -> dict:
    steps = []
    fitted = True
    for name, step in est.steps:
        kind, spec = spec_for(step)
        steps.append([name, kind if spec is not None else jsonable(step)])
        if spec is not None and spec.fitted is not None:
            fitted = fitted and spec.fitted(step)
    return {"fitted": fitted, "steps": steps}


def _summary_hmm(est: Any) -> dict:
    return jsonable(_hmm("summary")(est))


def _fitted_by(attr: str) -> Callable[[Any], bool]:
    return lambda est: attr in vars(est)


_NB = "fastgen.naive_bayes"
_NB_LINEAR = ("classes_", "class_count_", "class_log_prior_", "feature_count_",
              "feature_log_prob_", "n_features_in_")
_HMM = "fastgen.hmm"
_HMM_COMMON = ("startprob_", "transmat_")
#: the variational HMMs' Dirichlet priors and posteriors of the chain
_VARIATIONAL_CHAIN = ("startprob_prior_", "startprob_posterior_", "transmat_prior_",
                      "transmat_posterior_")


#: ``partial_fit``'s running statistics (``fastgen.hmm._engine.PARTIAL_FIT_STATE``)
_HMM_PARTIAL_FIT = ("partial_fit_steps_", "partial_fit_frames_", "partial_fit_stats_")


def _hmm_spec(name: str, family_state: tuple[str, ...], arrays: tuple[str, ...]) -> Spec:
    """An HMM's spec: the chain, its family's ``state_attributes``, the monitor, the
    restarts' objectives and ``partial_fit``'s running statistics."""
    return Spec(_HMM, name, optional=(*_HMM_COMMON, *family_state, "monitor_",
                                      "restart_objectives_", *_HMM_PARTIAL_FIT),
                check=_check_hmm, summary=_summary_hmm, fitted=_hmm_fitted,
                coerce=dict.fromkeys(("startprob_", "transmat_", "restart_objectives_", *arrays),
                                     _float64))


def _nb_spec(name: str, required: tuple[str, ...], check=_check_discrete_nb,
             fitted_attr: str = "class_log_prior_") -> Spec:
    return Spec(_NB, name, required=required, optional=("feature_names_in_",), check=check,
                 summary=_summary_nb, fitted=_fitted_by(fitted_attr))


#: the whitelist: kind -> spec.  ``load`` instantiates nothing else.
SPECS: dict[str, Spec] = {
    "fastgen.CountVectorizer": Spec(
        "fastgen.text._count", "CountVectorizer",
        optional=("vocabulary_", "fixed_vocabulary_", "stop_words_"),
        transient=("_table", "_stop_words_id"),
        check=_check_count_vectorizer, summary=_summary_count_vectorizer,
        fitted=_fitted_by("vocabulary_"), host_access=_vectorizer_host_access,
    ),
    "fastgen.HashingVectorizer": Spec(
        "fastgen.text._hashing", "HashingVectorizer", transient=("_stop_words_id",),
        summary=_summary_hashing, fitted=lambda est: True,
        host_access=_vectorizer_host_access,
    ),
    "fastgen.TfidfTransformer": Spec(
        "fastgen.text._tfidf", "TfidfTransformer",
        optional=("idf_", "n_features_in_", "feature_names_in_"),
        check=_check_tfidf_transformer, summary=_summary_tfidf_transformer,
        fitted=lambda est: "n_features_in_" in vars(est) or "idf_" in vars(est),
        coerce={"idf_": _idf_for_file},
    ),
    "fastgen.TfidfVectorizer": Spec(
        "fastgen.text._tfidf", "TfidfVectorizer",
        # _tfidf: the fitted weighting, stored as a nested TfidfTransformer
        optional=("vocabulary_", "fixed_vocabulary_", "stop_words_", "_tfidf"),
        transient=("_table", "_stop_words_id"),
        check=_check_tfidf_vectorizer, summary=_summary_tfidf_vectorizer,
        fitted=_fitted_by("_tfidf"), host_access=_vectorizer_host_access,
    ),
    "fastgen.MultinomialNB": _nb_spec("MultinomialNB", _NB_LINEAR),
    "fastgen.ComplementNB": _nb_spec("ComplementNB", (*_NB_LINEAR, "feature_all_")),
    "fastgen.BernoulliNB": _nb_spec("BernoulliNB", _NB_LINEAR),
    "fastgen.CategoricalNB": _nb_spec(
        "CategoricalNB",
        ("classes_", "class_count_", "class_log_prior_", "category_count_",
         "feature_log_prob_", "n_categories_", "n_features_in_"),
    ),
    "fastgen.GaussianNB": _nb_spec(
        "GaussianNB",
        ("classes_", "class_count_", "class_prior_", "epsilon_", "theta_", "var_",
         "n_features_in_"),
        check=_check_gaussian_nb, fitted_attr="class_prior_",
    ),
    "fastgen.TextClassifier": Spec(
        "fastgen.pipeline", "TextClassifier",
        required=("vectorizer_", "classifier_", "classes_"),
        check=_check_text_classifier, summary=_summary_text_classifier,
        fitted=_fitted_by("classifier_"),
    ),
    # each family's state_attributes (fastgen.hmm._gaussian.GaussianEmissions, ...)
    "fastgen.GaussianHMM": _hmm_spec(
        "GaussianHMM", ("means_", "_covars_", "n_features"), arrays=("means_",)),
    "fastgen.CategoricalHMM": _hmm_spec(
        "CategoricalHMM", ("emissionprob_",), arrays=("emissionprob_",)),
    "fastgen.PoissonHMM": _hmm_spec(
        "PoissonHMM", ("lambdas_", "n_features"), arrays=("lambdas_",)),
    "fastgen.VariationalCategoricalHMM": _hmm_spec(
        "VariationalCategoricalHMM",
        (*_VARIATIONAL_CHAIN, "emissionprob_", "emissionprob_prior_", "emissionprob_posterior_"),
        arrays=(*_VARIATIONAL_CHAIN, "emissionprob_", "emissionprob_prior_",
                "emissionprob_posterior_")),
    "fastgen.VariationalGaussianHMM": _hmm_spec(
        "VariationalGaussianHMM",
        (*_VARIATIONAL_CHAIN, "means_prior_", "means_posterior_", "beta_prior_",
         "beta_posterior_", "dof_prior_", "dof_posterior_", "scale_prior_", "scale_posterior_",
         "_covars_", "n_features"),
        arrays=(*_VARIATIONAL_CHAIN, "means_prior_", "means_posterior_", "beta_prior_",
                "beta_posterior_", "scale_prior_", "scale_posterior_")),
    "fastgen.MultinomialHMM": _hmm_spec(
        "MultinomialHMM", ("emissionprob_", "n_features"), arrays=("emissionprob_",)),
    "fastgen.GMMHMM": _hmm_spec(
        "GMMHMM", ("weights_", "means_", "covars_", "n_features"),
        arrays=("weights_", "means_", "covars_")),
    # a stream's position in its sequences (fastgen.hmm._stream.STATE); its model is a
    # parameter (a nested HMM)
    "fastgen.HMMStream": Spec(
        "fastgen.hmm._stream", "HMMStream",
        required=("n_frames_", "log_likelihood_", "filtered_", "held_", "held_log_frames_",
                  "held_filtered_"),
        check=_check_hmm_stream, summary=lambda est: jsonable(_hmm("stream_summary")(est)),
        fitted=_fitted_by("n_frames_"), host_access=_hmm("stream_host_access"),
    ),
    "sklearn.Pipeline": Spec(
        "sklearn.pipeline", "Pipeline", check=_check_pipeline, summary=_summary_pipeline,
        host_access=_pipeline_host_access,
    ),
}


def spec_for(obj: Any) -> tuple[str | None, Spec | None]:
    """``(kind, spec)`` of an instance of exactly a whitelisted class, else ``(None, None)``.

    Only modules already imported are consulted: an object cannot be an instance of a
    class whose module was never loaded.
    """
    cls = type(obj)
    for kind, spec in SPECS.items():
        if cls.__name__ == spec.name and cls.__module__ == spec.module:
            module = sys.modules.get(spec.module)
            if module is not None and getattr(module, spec.name, None) is cls:
                return kind, spec
    return None, None


