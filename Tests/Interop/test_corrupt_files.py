"""A smoke run of Tools/corrupt_check.py (the long run's figures are in Formats/HDF5/SPEC.md): damaged
safetensors, PyTorch and tf_model.h5 files given to `bertkit inspect` and `bertkit convert` each end with exit 0 or
1, one error line, no signal, no hang, no libhdf5 printout and no partial output."""
import os
import subprocess
import sys

from conftest import ROOT


def test_corrupted_checkpoints_end_cleanly():
    binary = os.environ.get("BERTKIT_BIN", os.path.join(ROOT, ".build", "release", "bertkit"))
    result = subprocess.run([sys.executable, os.path.join(ROOT, "Tools", "corrupt_check.py"), "--count", "30", "--seed", "3",
                             "--bertkit", binary, "--jobs", "2"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"corrupted": 120' in result.stdout
