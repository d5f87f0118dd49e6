"""Estimator conventions of fastgen._base without scikit-learn's base classes."""

import subprocess
import sys

import numpy as np
import pytest

from fastgen._base import BaseEstimator, NotFittedError, check_is_fitted, clone


class Toy(BaseEstimator):
    def __init__(self, alpha=1.0, inner=None, tags=("a",)):
        self.alpha = alpha
        self.inner = inner
        self.tags = tags


def test_get_set_params_nested():
    est = Toy(alpha=2.0, inner=Toy(alpha=3.0))
    params = est.get_params()
    assert params["alpha"] == 2.0 and params["inner__alpha"] == 3.0
    est.set_params(alpha=5.0, inner__alpha=7.0)
    assert est.alpha == 5.0 and est.inner.alpha == 7.0
    with pytest.raises(ValueError, match="Invalid parameter 'beta'"):
        est.set_params(beta=1)


def test_clone_copies_parameters_not_state():
    est = Toy(alpha=np.array([1.0, 2.0]), inner=Toy(alpha=3.0))
    est.fitted_ = True
    twin = clone(est)
    assert not hasattr(twin, "fitted_")
    assert twin.inner is not est.inner and twin.inner.alpha == 3.0
    assert twin.alpha is not est.alpha and np.array_equal(twin.alpha, est.alpha)


def test_repr_shows_changed_parameters_only():
    assert repr(Toy()) == "Toy()"
    assert repr(Toy(alpha=0.5)) == "Toy(alpha=0.5)"


def test_not_fitted_error_is_catchable_as_sklearn_when_sklearn_is_loaded():
    from sklearn.exceptions import NotFittedError as SkNotFittedError

    with pytest.raises(SkNotFittedError):
        check_is_fitted(Toy(), "coef_")
    with pytest.raises(NotFittedError, match="Toy instance is not fitted"):
        check_is_fitted(Toy(), "coef_")


def test_not_fitted_error_without_sklearn_loaded():
    code = (
        "import sys\n"
        "from fastgen._base import NotFittedError, check_is_fitted\n"
        "class E: pass\n"
        "try:\n"
        "    check_is_fitted(E(), 'x_')\n"
        "except NotFittedError as e:\n"
        "    assert type(e) is NotFittedError and isinstance(e, (ValueError, AttributeError))\n"
        "assert 'sklearn' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
