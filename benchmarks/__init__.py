"""pytest-benchmark suite comparing fastgen's text Naive Bayes with scikit-learn."""
