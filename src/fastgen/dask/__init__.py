"""Scale-out on Dask: batch inference and distributed fitting (the ``dask`` extra).

Import it explicitly (``import fastgen.dask``); ``import fastgen`` never imports Dask.

* :func:`predict` maps a fitted model over a Dask array, bag or dataframe and returns
  a collection of the same family.  Each worker receives (and deserialises) the model
  once: with a distributed client it is scattered to all workers under a key derived
  from its content and kept there, so later calls with the same model send nothing
  and reuse the workers' caches (:func:`release_models` drops the kept models); under
  a local scheduler it is one graph key every chunk depends on.
  Neural models hold onnxruntime sessions, which cannot travel: wrap the model file in
  :class:`OnnxModelFile`, which ships its bytes and loads once per worker process.
  ``output="array"`` returns a ``dask.array`` with one block per partition, each
  computed by one call on the whole partition: the cheap way to get predictions or
  probabilities for a bag of documents (the default bag holds one array per document).
* :func:`fit_naive_bayes` and :func:`fit_text_classifier` fit ``MultinomialNB``,
  ``ComplementNB`` and ``BernoulliNB`` in one pass from class and feature counts
  summed over the partitions; a ``CountVectorizer`` tokenises each partition once,
  over its own terms, and learns its vocabulary from the merged document frequencies.
  A ``TfidfVectorizer`` learns its vocabulary and ``idf_`` the same way in a first
  pass (identical to a local fit), then a second pass counts the weighted features.
  The result equals the local fit exactly when the feature values and sample weights
  are integers (counts), to rounding otherwise.
* :func:`fit_hmm` runs Baum-Welch with the E-step on every partition of whole
  sequences, the sufficient statistics reduced on the cluster and the M-step on the
  client: the same model as ``model.fit`` to about 1e-10 relative.

Every function runs on whatever scheduler is active: the synchronous or threaded
scheduler locally, or a cluster through ``distributed.Client("tcp://scheduler:8786")``.
"""

from __future__ import annotations

from fastgen._extras import require

require("dask", "fastgen.dask")  # before the modules that import Dask

from fastgen.dask._common import OnnxModelFile, release_models  # noqa: E402
from fastgen.dask._hmm import fit_hmm  # noqa: E402
from fastgen.dask._naive_bayes import fit_naive_bayes, fit_text_classifier  # noqa: E402
from fastgen.dask._predict import predict  # noqa: E402

__all__ = [
    "OnnxModelFile",
    "fit_hmm",
    "fit_naive_bayes",
    "fit_text_classifier",
    "predict",
    "release_models",
]
