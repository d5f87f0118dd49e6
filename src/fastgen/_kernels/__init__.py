"""Compiled kernels: plain arrays in, arrays out; no estimator logic."""
