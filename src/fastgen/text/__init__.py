"""Text vectorizers: drop-in replacements for scikit-learn's, with compiled kernels.

``CountVectorizer``, ``HashingVectorizer``, ``TfidfTransformer`` and
``TfidfVectorizer`` accept scikit-learn's parameters and return the same
matrices; ``n_jobs`` spreads the work over threads.
"""

from ._analysis import strip_accents_ascii, strip_accents_unicode
from ._count import CountVectorizer
from ._hashing import HashingVectorizer
from ._tfidf import TfidfTransformer, TfidfVectorizer

__all__ = [
    "CountVectorizer",
    "HashingVectorizer",
    "TfidfTransformer",
    "TfidfVectorizer",
    "strip_accents_ascii",
    "strip_accents_unicode",
]
