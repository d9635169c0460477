"""PyTorch checkpoints both ways against torch 2.15 and transformers 5.24: what bertkit writes loads in
`torch.load(weights_only=True)` (and with `mmap=True`) with identical bits and storage shared where the
source shared it, byte-identical to `torch.save`; what torch writes (zip and legacy) bertkit reads bit
for bit; conversions keep Hugging Face's conventions."""
import json
import os
import zlib

import pytest
import torch
from safetensors.torch import _TYPES, load_file, save_file

from conftest import random_state as shared_random_state

DTYPES = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.uint16, torch.int32, torch.uint32, torch.int64,
          torch.uint64, torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64,
          torch.float8_e4m3fn, torch.float8_e5m2, torch.float8_e4m3fnuz, torch.float8_e5m2fnuz, torch.float8_e8m0fnu]
# torch cannot load the v3 dtypes (UntypedStorage) back from a legacy file, so those are zip only.
LEGACY_DTYPES = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16, torch.bfloat16,
                 torch.float32, torch.float64, torch.complex64]
NAMES = {dtype: name for name, dtype in _TYPES.items()} | {torch.float8_e8m0fnu: "F8_E8M0"}


def random_state(seed, dtypes=DTYPES, count=14, ties=True):
    return shared_random_state(seed, dtypes, count, ties=ties)


def with_views(state):
    """Adds views of one matrix: a row (storage offset), a transpose and a step slice (non-contiguous)."""
    m = torch.arange(20, dtype=torch.float32).reshape(4, 5)
    state.update({"m": m, "m.row": m[2], "m.t": m.t(), "m.step": m[:, ::2], "m.flat": m.view(20)})
    return state


def bits(t):
    t = t.resolve_conj().resolve_neg().contiguous()
    return t.reshape(-1).view(torch.uint8) if t.numel() else torch.empty(0, dtype=torch.uint8)


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(bits(a), bits(b))


@pytest.mark.parametrize("seed", range(6))
def test_rewrite_is_byte_identical_to_torch_save(tmp_path, bertkit, seed):
    state = random_state(seed)
    source = tmp_path / "a" / "pytorch_model.bin"
    out = tmp_path / "b" / "pytorch_model.bin"
    source.parent.mkdir()
    out.parent.mkdir()
    torch.save(state, source)
    bertkit("convert", source, out)
    assert out.read_bytes() == source.read_bytes()


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("mmap", [False, True])
def test_torch_loads_what_bertkit_writes(tmp_path, bertkit, seed, mmap):
    state = random_state(seed + 100, ties=False)
    source, out = tmp_path / "s.safetensors", tmp_path / "m.bin"
    save_file(state, source)
    bertkit("convert", source, out)
    loaded = torch.load(out, weights_only=True, mmap=mmap)
    expected = load_file(source)
    assert set(loaded) == set(expected)
    for name, tensor in expected.items():
        assert same_bits(loaded[name], tensor), name


@pytest.mark.parametrize("mmap", [False, True])
def test_shared_storage_survives_a_bertkit_rewrite(tmp_path, bertkit, mmap):
    state = with_views(random_state(7))
    source, out = tmp_path / "src.pt", tmp_path / "out.pt"
    torch.save(state, source)
    bertkit("convert", source, out)
    loaded = torch.load(out, weights_only=True, mmap=mmap)
    for name, tensor in state.items():
        assert same_bits(loaded[name], tensor), name
    for name in state:
        if name.endswith(".tied"):
            base = name[: -len(".tied")]
            assert loaded[name].data_ptr() == loaded[base].data_ptr(), name
    # Contiguous views of one storage stay views of one storage (non-contiguous ones become copies).
    storage = loaded["m"].untyped_storage().data_ptr()
    for name in ["m.row", "m.flat"]:
        assert loaded[name].untyped_storage().data_ptr() == storage, name
    assert loaded["m.row"].storage_offset() == 10


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_bertkit_reads_torch_files_bit_for_bit(tmp_path, bertkit, legacy, seed):
    state = with_views(random_state(seed + 200, dtypes=LEGACY_DTYPES if legacy else DTYPES))
    state["scalar"] = torch.tensor(2.5, dtype=torch.float64)
    state["conj"] = torch.randn(3, dtype=torch.complex64).conj()
    path = tmp_path / "m.pt"
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    report = json.loads(bertkit("inspect", "--json", "--checksum", path).stdout)
    assert report["format"] == ("pytorch-legacy" if legacy else "pytorch-zip")
    loaded = torch.load(path, weights_only=True)
    expected = [{"name": k, "dtype": NAMES[v.dtype], "shape": list(v.shape),
                 "crc32": f"{zlib.crc32(bits(v).numpy().tobytes()):08x}"} for k, v in sorted(loaded.items())]
    assert report["tensors"] == expected
    assert report["metadata"] is None


def tiny_mlm(seed=0):
    from transformers import BertConfig, BertForMaskedLM
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=120, hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=50,
                        max_position_embeddings=40)
    return BertForMaskedLM(config).eval()


def test_convert_to_safetensors_matches_save_pretrained(tmp_path, bertkit):
    model = tiny_mlm()
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    model.save_pretrained(tmp_path / "reference")
    bertkit("convert", tmp_path / "pytorch_model.bin", tmp_path / "model.safetensors")
    assert (tmp_path / "model.safetensors").read_bytes() == (tmp_path / "reference" / "model.safetensors").read_bytes()


def test_transformers_loads_bertkit_pytorch_model_bin(tmp_path, bertkit):
    from transformers import BertForMaskedLM
    model = tiny_mlm(1)
    model.save_pretrained(tmp_path / "src")
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text((tmp_path / "src" / "config.json").read_text())
    bertkit("convert", tmp_path / "src" / "model.safetensors", out, "--to", "pytorch")
    assert sorted(os.listdir(out)) == ["config.json", "pytorch_model.bin"]
    reloaded = BertForMaskedLM.from_pretrained(out).eval()
    ids = torch.tensor([[2, 7, 11, 5, 3]])
    with torch.no_grad():
        assert torch.equal(reloaded(ids).logits, model(ids).logits)


def test_hf_names_match_transformers_legacy_renamings(tmp_path, bertkit):
    from transformers.conversion_mapping import get_checkpoint_conversion_mapping
    from transformers.core_model_loading import apply_renamings
    keys = ["bert.embeddings.LayerNorm.gamma", "bert.embeddings.LayerNorm.beta", "a.LayerNorm.gammas", "LayerNorm_gamma.x",
            "x.LayerNorm.gammaX.LayerNorm.gamma", "enc.conv.weight_g", "enc.conv.weight_v", "enc.conv.weight_gx",
            "model.language_model.model.layers.0.w", "language_model.model.model.norm", "other.model.language_model.model",
            "LayerNorm.beta.LayerNorm.beta", "plain.weight", "é.LayerNorm.gamma"]
    state = {k: torch.full((2,), float(i)) for i, k in enumerate(keys)}
    torch.save(state, tmp_path / "old.bin")
    bertkit("convert", "--hf-names", tmp_path / "old.bin", tmp_path / "new.safetensors")
    renamings = get_checkpoint_conversion_mapping("legacy")
    loaded = load_file(tmp_path / "new.safetensors")
    expected = {apply_renamings(k, renamings): v for k, v in state.items()}
    assert set(loaded) == set(expected)
    for name, tensor in expected.items():
        assert torch.equal(loaded[name], tensor), name


def test_sharded_pytorch_checkpoint_loads_like_transformers_4x(tmp_path, bertkit):
    """bertkit's pytorch shards + index: every shard loads with weights_only=True and the index covers every key."""
    model = tiny_mlm(2)
    model.save_pretrained(tmp_path / "src")
    out = tmp_path / "out"
    out.mkdir()
    bertkit("convert", tmp_path / "src" / "model.safetensors", out, "--to", "pytorch", "--max-shard-size", "30KB")
    index = json.loads((out / "pytorch_model.bin.index.json").read_text())
    merged = {}
    for shard in sorted(set(index["weight_map"].values())):
        merged.update(torch.load(out / shard, weights_only=True, mmap=True))
    expected = load_file(tmp_path / "src" / "model.safetensors")
    assert set(merged) == set(expected) == set(index["weight_map"])
    for name, tensor in expected.items():
        assert torch.equal(merged[name], tensor), name
