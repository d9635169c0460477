"""Shared fixtures for the interop tests: the bertkit binary under test and a scratch folder.
These tests run the real reference stack (Tools/requirements.txt) against bertkit's files both ways."""
import os
import subprocess

import pytest
import torch

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


def random_tensor(dtype, shape, generator):
    """A tensor of `dtype` and `shape` whose bytes are random (NaNs and denormals included), bools as 0/1."""
    count = torch.Size(shape).numel()
    raw = torch.randint(0, 256, (max(1, count * dtype.itemsize),), dtype=torch.uint8, generator=generator)
    tensor = raw[: count * dtype.itemsize].view(dtype).reshape(shape).clone()
    return tensor & True if dtype == torch.bool else tensor


def random_state(seed, dtypes, count, name=lambda i: f"layer.{i}.{'é' if i % 5 == 0 else 'w'}", ties=False):
    """`count` tensors of random dtypes and shapes (rank 0 to 3, sizes 0 to 4, so 0-dim and empty ones too); with
    `ties`, tied aliases as well (distinct tensor objects over one storage, as `Module.state_dict()` returns them)."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for i in range(count):
        dtype = dtypes[int(torch.randint(0, len(dtypes), (1,), generator=g))]
        shape = [int(torch.randint(0, 5, (1,), generator=g)) for _ in range(int(torch.randint(0, 4, (1,), generator=g)))]
        state[name(i)] = random_tensor(dtype, shape, g)
        if ties and state[name(i)].numel() and i % 4 == 1:
            state[name(i) + ".tied"] = state[name(i)].detach()
    return state
