"""fastgen's training path keeps TensorFlow's native logs off the terminal
(``fastgen.nn._stack``), and passes anything else written meanwhile through."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from fastgen.nn._stack import native_stderr_filtered

_TRAIN = textwrap.dedent(
    """
    import numpy as np
    from fastgen.nn import VAE, Autoencoder

    X = np.random.default_rng(0).random((128, 12), dtype=np.float32)
    Autoencoder(12, hidden=(8,), latent_dim=2).fit(X, epochs=1, batch_size=64).save(
        {ae!r})
    VAE(12, hidden=(8,), latent_dim=2).fit(X, epochs=1, batch_size=64).save({vae!r})
    print("trained")
    """
)


def test_banners_are_dropped_other_lines_kept(capfd):
    with native_stderr_filtered():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are "
                    b"written to STDERR\n")  # fmt: skip
        os.write(2, b"I0000 00:00:1 2 port.cc:153] oneDNN custom operations are on.\n")
        os.write(2, b"a real problem\n")
        print("from Python", file=sys.stderr)
    err = capfd.readouterr().err  # (pytest's own sys.stderr bypasses descriptor 2)
    assert sorted(err.splitlines()) == ["a real problem", "from Python"]


def test_training_and_export_print_no_tensorflow_logs(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = _TRAIN.format(ae=str(tmp_path / "ae.fgm"), vae=str(tmp_path / "vae.fgm"))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
        check=False, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "trained"
    assert proc.stderr == "", f"training printed to stderr:\n{proc.stderr[:3000]}"
