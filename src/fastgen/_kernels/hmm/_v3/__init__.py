"""The x86-64-v3 (AVX2) build of the HMM kernels.

setup.py compiles the modules of :mod:`fastgen._kernels.hmm` a second time into this
package, from copies whose cimports name ``fastgen._kernels.hmm._v3``; there are no
sources here.  :mod:`fastgen._kernels.hmm._select` imports this build when the CPU
supports it.  Its results are bit-identical to the baseline build's (no multiply-add
contraction, the same operation order), only faster.
"""
