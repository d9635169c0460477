"""Shared fixtures for the interop tests: the bertkit binary under test and a scratch folder.
These tests run the real reference stack (Tools/requirements.txt) against bertkit's files both ways."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def bertkit():
    binary = os.environ.get("BERTKIT_BIN", os.path.join(ROOT, ".build", "release", "bertkit"))
    assert os.path.exists(binary), f"build bertkit first ({binary} is missing)"

    def run(*args, check=True):
        result = subprocess.run([binary, *map(str, args)], capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(f"bertkit {' '.join(map(str, args))} failed ({result.returncode}): {result.stderr}")
        return result

    return run


def fixture_path(*parts):
    return os.path.join(ROOT, "Fixtures", *parts)
