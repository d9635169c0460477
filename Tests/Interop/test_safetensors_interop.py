"""safetensors both ways: what bertkit writes loads in the Python library with identical bits (and
identical bytes to the reference writer), and what the reference writes bertkit reads exactly."""
import json
import os

import pytest
import torch
from huggingface_hub import split_torch_state_dict_into_shards
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from conftest import random_state as shared_random_state

DTYPES = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.uint16, torch.int32, torch.uint32, torch.int64,
          torch.uint64, torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64,
          torch.float8_e4m3fn, torch.float8_e5m2]


def random_state(seed, count=12):
    return shared_random_state(seed, DTYPES, count)


def same_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    return a.reshape(-1).contiguous().view(torch.uint8).equal(b.reshape(-1).contiguous().view(torch.uint8)) if a.numel() else True


@pytest.mark.parametrize("seed", range(6))
def test_bertkit_rewrite_loads_in_safetensors_with_identical_bits_and_bytes(tmp_path, bertkit, seed):
    state = random_state(seed)
    source, out = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_file(state, source, metadata={"format": "pt"})
    bertkit("convert", source, out)
    loaded = load_file(out)
    assert set(loaded) == set(state)
    for name, tensor in state.items():
        assert same_bits(loaded[name], tensor), name
    with safe_open(out, "pt") as f:
        assert f.metadata() == {"format": "pt"}
    assert out.read_bytes() == source.read_bytes()


@pytest.mark.parametrize("dtype,flag", [(torch.bfloat16, "bf16"), (torch.float16, "f16")])
def test_convert_dtype_is_byte_identical_to_reference(tmp_path, bertkit, dtype, flag):
    from transformers import BertConfig, BertModel
    torch.manual_seed(3)
    model = BertModel(BertConfig(vocab_size=120, hidden_size=48, num_hidden_layers=1, num_attention_heads=4,
                                 intermediate_size=50, max_position_embeddings=40))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    state["weird.nan"] = torch.tensor([float("nan"), -float("nan"), float("inf"), 1e-30, 70000.0])
    a, b, expected = tmp_path / "a.safetensors", tmp_path / "b.safetensors", tmp_path / "expected.safetensors"
    save_file(state, a, metadata={"format": "pt"})
    save_file({k: v.to(dtype) for k, v in state.items()}, expected, metadata={"format": "pt"})
    bertkit("convert", a, b, "--dtype", flag)
    assert b.read_bytes() == expected.read_bytes()


@pytest.mark.parametrize("dtype,flag", [(torch.float32, "f32"), (torch.float16, "f16"), (torch.bfloat16, "bf16")])
def test_float8_and_float64_tensors_cast_as_torch_casts_them(tmp_path, bertkit, dtype, flag):
    """Every float8 value of each float8 type safetensors stores, and float64 edge values, cast with --dtype
    bit for bit as `.to(dtype)` casts them; integer tensors are left as they are (as nn.Module.to leaves them)."""
    every_byte = torch.arange(256, dtype=torch.uint8)
    state = {f"f8.{name}": every_byte.clone().view(getattr(torch, name)) for name in
             ["float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz"]
             if hasattr(torch, name)}
    state["f64"] = torch.tensor([1.0 + 2.0 ** -8 + 2.0 ** -30, -3.0e-41, 6.1e-5, 65520.0, 1e300, -0.0, float("inf")],
                                dtype=torch.float64)
    state["ids"] = torch.arange(7, dtype=torch.int64)
    a, b, expected = tmp_path / "a.safetensors", tmp_path / "b.safetensors", tmp_path / "expected.safetensors"
    save_file(state, a, metadata={"format": "pt"})
    save_file({k: v if not v.is_floating_point() else v.to(dtype) for k, v in state.items()}, expected, metadata={"format": "pt"})
    bertkit("convert", a, b, "--dtype", flag)
    mine, theirs = load_file(b), load_file(expected)
    assert set(mine) == set(theirs)
    for name, tensor in theirs.items():
        assert mine[name].dtype == tensor.dtype, name
        nan = tensor.isnan() if tensor.is_floating_point() else torch.zeros_like(tensor, dtype=torch.bool)
        assert torch.equal(mine[name].isnan() if tensor.is_floating_point() else nan, nan), name
        bits = {torch.float32: torch.int32, torch.float16: torch.int16, torch.bfloat16: torch.int16}.get(tensor.dtype)
        if bits is None:
            assert torch.equal(mine[name], tensor), name
        else:   # NaN payloads aside (torch's own vector and scalar paths disagree on them), the very same bits
            assert torch.equal(mine[name][~nan].view(bits), tensor[~nan].view(bits)), name


def test_inspect_json_matches_safe_open(tmp_path, bertkit):
    state = random_state(42, count=20)
    path = tmp_path / "m.safetensors"
    save_file(state, path, metadata={"format": "pt", "note": "ünïcödé ☃", "empty": ""})
    report = json.loads(bertkit("inspect", "--json", path).stdout)
    with safe_open(path, "pt") as f:
        expected = [{"name": k, "dtype": f.get_slice(k).get_dtype(), "shape": list(f.get_slice(k).get_shape())} for k in f.keys()]
        assert report["metadata"] == f.metadata()
    assert report["tensors"] == expected
    assert report["format"] == "safetensors"


def test_bertkit_reads_what_reference_writes(tmp_path, bertkit):
    """Round trip through bertkit's writer in sharded form; every tensor comes back bit-identical."""
    state = random_state(9, count=30)
    source = tmp_path / "src.safetensors"
    save_file(state, source)
    out = tmp_path / "sharded"
    out.mkdir()
    bertkit("convert", source, out, "--max-shard-size", "40")
    index = json.loads((out / "model.safetensors.index.json").read_text())
    back = {}
    for shard in sorted(set(index["weight_map"].values())):
        back.update(load_file(out / shard))
    assert set(back) == set(state)
    for name, tensor in state.items():
        assert same_bits(back[name], tensor), name


@pytest.mark.parametrize("limit", ["300", "1KB", "2KB"])
def test_sharding_matches_huggingface_hub(tmp_path, bertkit, limit):
    g = torch.Generator().manual_seed(5)
    sizes = torch.randint(1, 200, (25,), generator=g).tolist()
    state = {f"t{i:02d}": torch.zeros(n) for i, n in enumerate(sizes)}   # names sort in data order
    source = tmp_path / "src.safetensors"
    save_file(state, source)
    out = tmp_path / "out"
    out.mkdir()
    bertkit("convert", source, out, "--max-shard-size", limit)
    split = split_torch_state_dict_into_shards(state, max_shard_size=limit if not limit.isdigit() else int(limit))
    if split.is_sharded:
        index = json.loads((out / "model.safetensors.index.json").read_text())
        assert index["weight_map"] == split.tensor_to_filename
        assert index["metadata"]["total_size"] == split.metadata["total_size"]
    else:
        assert os.listdir(out) == ["model.safetensors"]
