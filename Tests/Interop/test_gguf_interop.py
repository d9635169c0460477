"""GGUF both ways against llama.cpp's own converter (convert_hf_to_gguf.py from llama-cpp-python 0.3.36's vendored
llama.cpp, fetched by Tools/fetch) and its gguf-py: for the same model directory, `bertkit convert DIR model.gguf`
writes the metadata and tensors the converter writes (names, order of keys, types, values; tensor bytes identical
for f32, f16 and q8_0); bertkit reads the converter's files; GGUF → Hugging Face directory → GGUF is identical and the
directory loads in transformers with the model's outputs; damaged files are refused with one error line."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from transformers import (AutoModel, AutoTokenizer, BertConfig, BertForMaskedLM, BertForSequenceClassification, BertModel, BertTokenizer,
                          DistilBertConfig, DistilBertForMaskedLM, DistilBertForSequenceClassification, DistilBertModel)

from conftest import ROOT

CACHE = os.environ.get("BERTKIT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "bertkit"))
MINILM = os.path.join(CACHE, "models", "all-MiniLM-L6-v2")
CONVERTER = os.path.join(CACHE, "llama-cpp-converter")
sys.path.insert(0, os.path.join(CONVERTER, "gguf-py"))
import gguf  # noqa: E402  (the converter's own gguf-py)

TEXTS = ["The movie was a pleasant surprise.", "Paris is the capital of France!", "an honest, affecting film",
         "Ünïcödé and 中文 text, ok?"]
# The keys the converter derives from a README model card or its name heuristics, which bertkit does not write.
MODEL_CARD_KEYS = ("general.organization", "general.license", "general.tags", "general.languages", "general.dataset",
                   "general.basename", "general.finetune", "general.base_model", "general.description", "general.datasets",
                   "general.quantized_by", "general.repo_url", "general.url", "general.version")


def convert_with_llama_cpp(folder, outtype, out):
    """llama.cpp's converter; general.name given as bertkit writes it (the folder's name), since the converter
    otherwise derives it from a model card or by title-casing."""
    env = dict(os.environ, PYTHONPATH=os.path.join(CONVERTER, "gguf-py"))
    result = subprocess.run([sys.executable, os.path.join(CONVERTER, "convert_hf_to_gguf.py"), str(folder), "--outtype", outtype,
                             "--outfile", str(out), "--model-name", os.path.basename(str(folder))],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]


def fields(path):
    reader = gguf.GGUFReader(str(path))
    kv = {}
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name.startswith(MODEL_CARD_KEYS):
            continue
        kv[name] = (tuple(int(t) for t in field.types), field.contents())
    tensors = {t.name: (t.tensor_type.name, tuple(int(n) for n in t.shape), bytes(t.data.tobytes())) for t in reader.tensors}
    return list(kv), kv, tensors, [t.name for t in reader.tensors]


def assert_same_gguf(ours, theirs):
    our_keys, our_kv, our_tensors, our_order = fields(ours)
    their_keys, their_kv, their_tensors, their_order = fields(theirs)
    assert our_keys == their_keys
    assert our_order == their_order
    for key in their_keys:
        assert our_kv[key] == their_kv[key], key
    assert set(our_tensors) == set(their_tensors)
    for name, (kind, shape, data) in their_tensors.items():
        assert our_tensors[name][:2] == (kind, shape), name
        assert our_tensors[name][2] == data, f"{name}: bytes differ"


def save_tiny(folder, model_class, pooling=None, **config):
    torch.manual_seed(7)
    model = model_class(BertConfig(vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                   intermediate_size=128, max_position_embeddings=40, **config)).eval()
    with torch.no_grad():   # biases and norms away from their 0 / 1 initial values, so a mix-up shows
        for name, parameter in model.named_parameters():
            if parameter.dim() == 1:
                parameter.add_(torch.randn_like(parameter) * 0.1)
    model.save_pretrained(folder)
    BertTokenizer(os.path.join(MINILM, "vocab.txt")).save_pretrained(folder)   # the bert-base-uncased vocabulary
    if pooling:
        (folder / "modules.json").write_text(json.dumps([
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
        (folder / "1_Pooling").mkdir()
        (folder / "1_Pooling" / "config.json").write_text(json.dumps({
            "word_embedding_dimension": 64, "pooling_mode_cls_token": pooling == "cls", "pooling_mode_mean_tokens": pooling == "mean",
            "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}))
    return model


def save_tiny_distilbert(folder, model_class, **config):
    """A tiny DistilBERT (the converter's DistilBertModel: architecture bert, no token types, `distilbert.` and
    `vocab_*` dropped, `pre_classifier` → cls) with the bert-base-uncased vocabulary."""
    torch.manual_seed(8)
    model = model_class(DistilBertConfig(vocab_size=30522, dim=64, n_layers=2, n_heads=4, hidden_dim=128,
                                         max_position_embeddings=40, **config)).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.dim() == 1:
                parameter.add_(torch.randn_like(parameter) * 0.1)
    model.save_pretrained(folder)
    BertTokenizer(os.path.join(MINILM, "vocab.txt")).save_pretrained(folder)
    return model


MODELS = {
    "distilbert": lambda folder: save_tiny_distilbert(folder, DistilBertModel),
    "distilbert-masked-lm": lambda folder: save_tiny_distilbert(folder, DistilBertForMaskedLM),
    "distilbert-classifier": lambda folder: save_tiny_distilbert(folder, DistilBertForSequenceClassification,
                                                                 id2label={0: "neg", 1: "neu", 2: "pos"},
                                                                 label2id={"neg": 0, "neu": 1, "pos": 2}),
    "base": lambda folder: save_tiny(folder, BertModel),
    "mean-pooling": lambda folder: save_tiny(folder, BertModel, pooling="mean"),
    "masked-lm": lambda folder: save_tiny(folder, BertForMaskedLM),
    "classifier": lambda folder: save_tiny(folder, BertForSequenceClassification, id2label={0: "neg", 1: "neu", 2: "pos"},
                                           label2id={"neg": 0, "neu": 1, "pos": 2}),
}


@pytest.mark.parametrize("kind", list(MODELS))
@pytest.mark.parametrize("outtype", ["f32", "f16", "q8_0"])
def test_bertkit_writes_what_llama_cpp_converter_writes(tmp_path, bertkit, kind, outtype):
    folder = tmp_path / f"tiny-{kind}"
    MODELS[kind](folder)
    ours, theirs = tmp_path / "ours.gguf", tmp_path / "theirs.gguf"
    convert_with_llama_cpp(folder, outtype, theirs)
    bertkit("convert", folder, ours, "--dtype", outtype)
    assert_same_gguf(ours, theirs)


def minilm_copy(tmp_path):
    """all-MiniLM-L6-v2 with the 1_Pooling/config.json the sentence-transformers release has (mean pooling); the
    packaged copy leaves it out, and the converter stops without it."""
    folder = tmp_path / "all-MiniLM-L6-v2"
    shutil.copytree(MINILM, folder)
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": 384, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}))
    return folder


def test_all_minilm_l6_v2_q8_0_matches_the_converter(tmp_path, bertkit):
    folder = minilm_copy(tmp_path)
    ours, theirs = tmp_path / "ours.gguf", tmp_path / "theirs.gguf"
    convert_with_llama_cpp(folder, "q8_0", theirs)
    bertkit("convert", folder, ours, "--dtype", "q8_0")
    assert_same_gguf(ours, theirs)
    reader = gguf.GGUFReader(str(ours))
    assert reader.fields["tokenizer.ggml.pre"].contents() == "jina-v2-en"
    assert reader.fields["bert.pooling_type"].contents() == 1


@pytest.mark.parametrize("outtype", ["f32", "f16", "q8_0"])
@pytest.mark.parametrize("family", ["bert", "distilbert"])
def test_gguf_to_directory_loads_in_transformers_and_back_to_identical_gguf(tmp_path, bertkit, outtype, family):
    folder = tmp_path / "tiny"
    model = save_tiny(folder, BertModel) if family == "bert" else save_tiny_distilbert(folder, DistilBertModel)
    # The folder's name is general.name, so the directory written back has the same one.
    first, second, back = tmp_path / "first.gguf", tmp_path / "second.gguf", tmp_path / "back" / "tiny"
    bertkit("convert", folder, first, "--dtype", outtype)
    bertkit("convert", first, str(back) + "/")
    bertkit("convert", back, second, "--dtype", outtype)
    assert_same_gguf(second, first)
    assert first.read_bytes() == second.read_bytes()

    loaded = AutoModel.from_pretrained(back).eval()
    assert type(loaded) is type(model)
    tokenizer, original_tokenizer = AutoTokenizer.from_pretrained(back), AutoTokenizer.from_pretrained(folder)
    encoded = tokenizer(TEXTS, padding=True, return_tensors="pt")
    assert encoded["input_ids"].tolist() == original_tokenizer(TEXTS, padding=True, return_tensors="pt")["input_ids"].tolist()
    if family == "distilbert":
        encoded.pop("token_type_ids", None)
    with torch.no_grad():
        ours = loaded(**encoded).last_hidden_state
        theirs = model(**encoded).last_hidden_state
    tolerance = {"f32": 1e-5, "f16": 2e-2, "q8_0": 1e-1}[outtype]
    assert (ours - theirs).abs().max().item() < tolerance
    if outtype == "f32":   # exact weights: the encoder is the original, bit for bit
        state = model.state_dict()
        for name, tensor in loaded.state_dict().items():
            if not name.startswith("pooler.") and name != "embeddings.position_ids":
                assert torch.equal(tensor, state[name]), name


@pytest.mark.parametrize("kind", ["classifier", "distilbert-classifier"])
def test_bertkit_reads_the_converters_file(tmp_path, bertkit, kind):
    folder = tmp_path / f"tiny-{kind}"
    model = MODELS[kind](folder)
    theirs = tmp_path / "theirs.gguf"
    convert_with_llama_cpp(folder, "f32", theirs)
    listing = json.loads(bertkit("inspect", theirs, "--json").stdout)
    assert listing["format"] == "gguf"
    names = {t["name"] for t in listing["tensors"]}
    expected = {k for k in model.state_dict() if not k.startswith("bert.pooler.") and k != "bert.embeddings.position_ids"}
    assert names == expected
    back = tmp_path / "back"
    bertkit("convert", theirs, str(back) + "/")
    config = json.loads((back / "config.json").read_text())
    assert config["architectures"] == [type(model).__name__]
    assert config["id2label"] == {"0": "neg", "1": "neu", "2": "pos"}
    loaded = type(model).from_pretrained(back).eval()
    state = model.state_dict()
    assert all(torch.equal(tensor, state[name]) for name, tensor in loaded.state_dict().items()
               if not name.startswith("bert.pooler.") and "position_ids" not in name)


def test_distilbert_classifier_without_labels_is_refused_as_the_converter_refuses_it(tmp_path, bertkit):
    """With the placeholder labels LABEL_0 / LABEL_1 the converter maps both pre_classifier and classifier to `cls` and
    stops (duplicated tensor name); bertkit says why in one error line and writes nothing."""
    folder = tmp_path / "tiny-distilbert-unlabelled"
    save_tiny_distilbert(folder, DistilBertForSequenceClassification)
    env = dict(os.environ, PYTHONPATH=os.path.join(CONVERTER, "gguf-py"))
    reference = subprocess.run([sys.executable, os.path.join(CONVERTER, "convert_hf_to_gguf.py"), str(folder), "--outtype", "f32",
                                "--outfile", str(tmp_path / "theirs.gguf")], capture_output=True, text=True, env=env)
    assert reference.returncode != 0 and "Duplicated tensor name 'cls.bias'" in reference.stderr, reference.stderr[-500:]
    result = bertkit("convert", folder, tmp_path / "ours.gguf", check=False)
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert result.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: ") and "id2label" in lines[0], result.stderr
    assert not (tmp_path / "ours.gguf").exists()


def test_damaged_and_foreign_gguf_files_get_one_error_line(tmp_path, bertkit):
    folder = tmp_path / "tiny"
    save_tiny(folder, BertModel)
    good = tmp_path / "good.gguf"
    bertkit("convert", folder, good, "--dtype", "f16")
    data = good.read_bytes()
    cases = {"truncated.gguf": data[: len(data) // 2], "header-only.gguf": data[:20]}
    llama = gguf.GGUFWriter(str(tmp_path / "llama.gguf"), "llama")
    llama.add_block_count(1)
    llama.add_tensor("token_embd.weight", np.zeros((4, 32), dtype=np.float32))
    llama.write_header_to_file(); llama.write_kv_data_to_file(); llama.write_tensors_to_file(); llama.close()
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    for name in [*cases, "llama.gguf"]:
        for args in (["inspect", tmp_path / name], ["convert", tmp_path / name, str(tmp_path / f"out-{name}") + "/"]):
            result = bertkit(*args, check=False)
            assert result.returncode == 1, (name, args, result.stderr)
            lines = [l for l in result.stderr.splitlines() if l.strip()]
            assert len(lines) == 1 and lines[0].startswith("error: ") and name in lines[0], (name, result.stderr)
            assert not (tmp_path / f"out-{name}").exists() or not any((tmp_path / f"out-{name}").iterdir())


def test_pooling_and_labels_survive_the_trip_back(tmp_path, bertkit):
    """bert.pooling_type comes back as sentence-transformers' modules.json + 1_Pooling/config.json, the labels as
    config.json's id2label: written again, the GGUF file is byte-identical."""
    for kind in ("mean-pooling", "classifier"):
        folder = tmp_path / kind / "tiny"
        MODELS[kind](folder)
        first, second, back = tmp_path / kind / "first.gguf", tmp_path / kind / "second.gguf", tmp_path / kind / "back" / "tiny"
        bertkit("convert", folder, first, "--dtype", "q8_0")
        bertkit("convert", first, str(back) + "/")
        bertkit("convert", back, second, "--dtype", "q8_0")
        assert first.read_bytes() == second.read_bytes(), kind
    assert json.loads((tmp_path / "mean-pooling" / "back" / "tiny" / "1_Pooling" / "config.json").read_text())["pooling_mode_mean_tokens"]
