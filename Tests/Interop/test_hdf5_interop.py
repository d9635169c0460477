"""HDF5 both ways against h5py and transformers (issue 4):

* the plain layout: what bertkit writes, h5py reads under the same names with identical bits (and the
  bytes equal h5py's own file for the same calls); what h5py writes, bertkit reads exactly;
* Keras tf_model.h5: bertkit's file for a BERT has, as h5py sees it, the genuine file's datasets,
  attributes and attribute types; for every TF BERT class it is byte-identical to the file Keras'
  call sequence writes through h5py, and it maps back (documented rules) to the PyTorch state dict;
  attribute chunking above Keras' 64512-byte limit matches too."""
import os
import sys

import h5py
import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import ROOT, fixture_path, random_state as shared_random_state

sys.path.insert(0, os.path.join(ROOT, "Tools", "fixtures"))
import make_hdf5_fixtures as ref  # noqa: E402  (the reference helpers: rules, Keras' h5py calls, plain layout)

DTYPES = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.uint16, torch.int32, torch.uint32, torch.int64,
          torch.uint64, torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64,
          torch.float8_e4m3fn, torch.float8_e5m2]
TAGS = {"BF16": torch.bfloat16, "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2}


def random_state(seed, count=16):
    names = ["layer.{}.weight", "layer.{}", "ünï.{}.wéight", "block.{}.sub.bias"]
    return shared_random_state(seed, DTYPES, count, name=lambda i: names[i % 4].format(i))


def same_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    return a.numel() == 0 or a.reshape(-1).contiguous().view(torch.uint8).equal(b.reshape(-1).contiguous().view(torch.uint8))


def h5py_state(path):
    """Every dataset as a tensor, named by its path with '/' → '.', raw-bits tensors re-typed by their tag."""
    state = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            tensor = torch.from_numpy(np.array(obj[()], order="C"))   # (ascontiguousarray would make scalars 1-D)
            if "dtype" in obj.attrs:
                tensor = tensor.view(TAGS[obj.attrs["dtype"]])
            state[name.replace("/", ".")] = tensor

    with h5py.File(path, "r") as f:
        f.visititems(visit)
        metadata = {k: f.attrs[k] for k in f.attrs}
    return state, metadata


@pytest.mark.parametrize("seed", range(4))
def test_plain_layout_reads_in_h5py_with_the_same_names_and_bits(tmp_path, bertkit, seed):
    state = random_state(seed)
    source, out = tmp_path / "a.safetensors", tmp_path / "a.h5"
    save_file(state, source, metadata={"format": "pt"})
    bertkit("convert", source, out, "--layout", "plain")
    back, metadata = h5py_state(out)
    assert set(back) == set(state)
    for name, tensor in state.items():
        assert same_bits(back[name], tensor), name
    assert metadata == {"format": "pt"}
    # The same h5py calls in the same order write the same bytes.
    ref.write_plain(tmp_path / "h5py.h5", state, ref.safetensors_order(source), {"format": "pt"})
    assert out.read_bytes() == (tmp_path / "h5py.h5").read_bytes()


@pytest.mark.parametrize("seed", range(4))
def test_plain_layout_written_by_h5py_reads_exactly_in_bertkit(tmp_path, bertkit, seed):
    state = random_state(100 + seed)
    state["a.b"], state["a.b.c"], state["x..y"] = torch.ones(2), torch.zeros(3), torch.arange(4)
    path = tmp_path / "h5py.h5"
    ref.write_plain(path, state, sorted(state), {"format": "pt", "note": "ünïcödé"})
    bertkit("convert", path, tmp_path / "b.safetensors")
    back = load_file(tmp_path / "b.safetensors")
    assert set(back) == set(state)
    for name, tensor in state.items():
        assert same_bits(back[name], tensor), name
    report = bertkit("inspect", "--json", path).stdout
    assert '"format": "hdf5"' in report and '"note": "ünïcödé"' in report


def describe(path):
    """What h5py sees: every object with its kind, shape, dtype, layout, and each attribute's name,
    HDF5 type (string storage or class/size) and shape; values of string attributes."""
    seen = {}

    def attributes(obj):
        out = {}
        for key in obj.attrs:
            attribute = h5py.h5a.open(obj.id, key.encode())
            t, space = attribute.get_type(), attribute.get_space()
            if isinstance(t, h5py.h5t.TypeStringID):
                kind = ("string", t.is_variable_str(), t.get_cset(), t.get_strpad(), None if t.is_variable_str() else t.get_size())
            else:
                kind = (type(t).__name__, t.get_size())
            value = obj.attrs[key]
            out[key] = (kind, space.shape, [str(v) for v in np.atleast_1d(value)])
        return out

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            layout = obj.id.get_create_plist().get_layout()
            seen[name] = ("dataset", obj.shape, obj.dtype.str, layout, obj.compression, attributes(obj))
        else:
            seen[name] = ("group", attributes(obj))

    with h5py.File(path, "r") as f:
        seen["/"] = ("group", attributes(f))
        f.visititems(visit)
    return seen


@pytest.mark.parametrize("folder", ["tf_bert_model", "tf_bert_for_sequence_classification", "tf_bert_for_sequence_classification_12l"])
def test_tf_model_h5_looks_like_the_genuine_file_to_h5py(tmp_path, bertkit, folder):
    out = tmp_path / "tf_model.h5"
    bertkit("convert", fixture_path("hdf5", "mapped", f"{folder}.safetensors"), out)
    genuine = fixture_path("hdf5", "tf-h5", folder, "tf_model.h5")
    mine, theirs = describe(out), describe(genuine)
    assert list(mine) == list(theirs)
    for name in theirs:
        assert mine[name] == theirs[name], name
    with h5py.File(out, "r") as a, h5py.File(genuine, "r") as b:
        for layer in ref.load_attributes(b, "layer_names"):
            for weight in ref.load_attributes(b[layer], "weight_names"):
                assert np.array_equal(a[layer][weight][()], b[layer][weight][()]), weight


def seeded(cls, config, seed):
    torch.manual_seed(seed)
    return ref.patterned(cls(config), seed).eval()


CLASSES = ["BertModel", "BertForPreTraining", "BertForMaskedLM", "BertForSequenceClassification",
           "BertForTokenClassification", "BertForQuestionAnswering"]


@pytest.mark.parametrize("name", CLASSES)
def test_every_tf_class_is_written_as_keras_writes_it_and_maps_back(tmp_path, bertkit, name):
    import transformers
    config = transformers.BertConfig(vocab_size=40, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=12, max_position_embeddings=16, num_labels=3)
    model = seeded(getattr(transformers, name), config, seed=CLASSES.index(name))
    model.save_pretrained(tmp_path / "pt")
    (tmp_path / "tf").mkdir()
    bertkit("convert", tmp_path / "pt", tmp_path / "tf", "--to", "hdf5")
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    ref.save_keras_weights(tmp_path / "keras.h5", ref.keras_layers("TF" + name, state, 2))
    assert (tmp_path / "tf" / "tf_model.h5").read_bytes() == (tmp_path / "keras.h5").read_bytes()
    # Read back by the documented rules (as transformers 4.x from_tf did), it is the PyTorch model.
    mapped = ref.mapped_state(tmp_path / "tf" / "tf_model.h5", model)
    ref.check_against_model(mapped, model, name)
    for key, tensor in mapped.items():
        assert torch.equal(tensor, state[key]), key
    # And bertkit reads the h5py-written file back to the same state dict.
    bertkit("convert", tmp_path / "keras.h5", tmp_path / "back.safetensors")
    back = load_file(tmp_path / "back.safetensors")
    assert set(back) == set(mapped)
    assert all(torch.equal(back[k], mapped[k]) for k in back)


def test_weight_names_over_the_header_limit_are_chunked_like_keras(tmp_path, bertkit):
    from transformers import BertConfig, BertModel
    config = BertConfig(vocab_size=8, hidden_size=4, num_hidden_layers=60, num_attention_heads=1, intermediate_size=4,
                        max_position_embeddings=8)
    model = seeded(BertModel, config, seed=7)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, tmp_path / "big.safetensors", metadata={"format": "pt"})
    bertkit("convert", tmp_path / "big.safetensors", tmp_path / "tf_model.h5")
    ref.save_keras_weights(tmp_path / "keras.h5", ref.keras_layers("TFBertModel", state, 60))
    with h5py.File(tmp_path / "keras.h5", "r") as f:
        assert "weight_names0" in f["bert"].attrs and "weight_names" not in f["bert"].attrs
    assert (tmp_path / "tf_model.h5").read_bytes() == (tmp_path / "keras.h5").read_bytes()
