"""Docstring entries that several Naive Bayes classes of :mod:`fastgen.naive_bayes`
share word for word, written once.

Each class's docstring holds ``{{name}}`` where a shared entry goes; the class is
decorated with ``fastgen._docstrings.fill(**SHARED)``.
"""

from __future__ import annotations

__all__ = ["SHARED"]


SHARED: dict[str, str] = {
    "alpha": """\
alpha : float or array-like of shape (n_features,), default=1.0
    Additive (Laplace/Lidstone) smoothing: the value added to every feature count
    of every class before the counts are turned into probabilities, so that a
    feature never seen with a class does not get probability 0.  1.0 is Laplace
    smoothing, values below 1 Lidstone smoothing, 0 none.  An array gives one
    value per feature.""",
    "force_alpha": """\
force_alpha : bool, default=True
    If True, ``alpha`` is used as given, even below 1e-10 (a zero ``alpha`` can
    then give ``-inf`` log probabilities).  If False, values below 1e-10 are
    raised to 1e-10 at fit time with a ``UserWarning``.""",
    "fit_prior": """\
fit_prior : bool, default=True
    If True, the class priors are the (weighted) class frequencies of the
    training data; if False, every class gets the same prior.  Ignored when
    ``class_prior`` is given.""",
    "class_prior": """\
class_prior : array-like of shape (n_classes,), default=None
    Prior probability of each class, in the order of ``classes_`` (the sorted
    labels), used as given instead of priors learnt from the data.  Its length
    must equal the number of classes.""",
    "attr_class_count_": """\
class_count_ : ndarray of shape (n_classes,)
    Number of training samples of each class (sum of their weights when
    ``sample_weight`` was given).""",
    "attr_class_log_prior_": """\
class_log_prior_ : ndarray of shape (n_classes,)
    Log prior probability of each class: from ``class_prior``, from the class
    frequencies (``fit_prior=True``) or uniform.""",
    "attr_classes_": """\
classes_ : ndarray of shape (n_classes,)
    Class labels seen in training (or given to ``partial_fit``), sorted.""",
    "attr_feature_count_": """\
feature_count_ : ndarray of shape (n_classes, n_features)
    Sum of each feature's values over the training samples of each class
    (weighted by ``sample_weight``), before smoothing.""",
    "attr_n_features_in_": """\
n_features_in_ : int
    Number of features seen during fit.""",
    "attr_feature_names_in_": """\
feature_names_in_ : ndarray of shape (n_features,)
    Names of the features seen during fit; set only when ``X`` had string
    column names (for example a pandas DataFrame).""",
}
