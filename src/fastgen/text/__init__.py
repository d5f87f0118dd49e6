"""Text vectorizers: drop-in replacements for scikit-learn's, with compiled kernels.

``CountVectorizer`` and ``HashingVectorizer`` accept scikit-learn's
parameters and return identical matrices; ``n_jobs`` spreads the work over
threads.
"""

from ._analysis import strip_accents_ascii, strip_accents_unicode
from ._count import CountVectorizer
from ._hashing import HashingVectorizer

__all__ = [
    "CountVectorizer",
    "HashingVectorizer",
    "strip_accents_ascii",
    "strip_accents_unicode",
]
