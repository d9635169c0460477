"""ONNX export against the reference stack: `bertkit convert DIR model.onnx` passes onnx.checker, and ONNX Runtime
running it gives transformers' outputs (within 1e-4) for every head on batches of different sizes and lengths, for
tiny models and all-MiniLM-L6-v2; a LoRA adapter is merged first; safetensors → ONNX → safetensors is bit-identical;
external data works; damaged ONNX files are refused with one error line."""
import json
import os
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from safetensors.torch import load_file
from transformers import (AutoTokenizer, BertConfig, BertForMaskedLM, BertForQuestionAnswering, BertForSequenceClassification,
                          BertForTokenClassification, BertModel, BertTokenizer)

CACHE = os.environ.get("BERTKIT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "bertkit"))
MINILM = os.path.join(CACHE, "models", "all-MiniLM-L6-v2")
TEXTS = ["The movie was a pleasant surprise.", "Paris is the capital of France!", "an honest, affecting film",
         "Ünïcödé and 中文 text, ok? " * 3, "short"]
HEADS = {
    "base": (BertModel, ["last_hidden_state", "pooler_output"]),
    "sequence-classification": (BertForSequenceClassification, ["logits"]),
    "token-classification": (BertForTokenClassification, ["logits"]),
    "question-answering": (BertForQuestionAnswering, ["start_logits", "end_logits"]),
    "masked-lm": (BertForMaskedLM, ["logits"]),
}


def save_tiny(folder, model_class, hidden_act="gelu"):
    torch.manual_seed(11)
    config = BertConfig(vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96,
                        max_position_embeddings=64, hidden_act=hidden_act,
                        num_labels=2 if model_class is BertForQuestionAnswering else 3)
    model = model_class(config).eval()
    with torch.no_grad():   # biases and norms away from 0 / 1, so that a mix-up shows
        for parameter in model.parameters():
            if parameter.dim() == 1:
                parameter.add_(torch.randn_like(parameter) * 0.1)
    model.save_pretrained(folder)
    BertTokenizer(os.path.join(MINILM, "vocab.txt")).save_pretrained(folder)
    return model


def reference(model, encoded, names):
    with torch.no_grad():
        output = model(**{k: torch.tensor(v) for k, v in encoded.items()})
    return {name: getattr(output, name).numpy() for name in names}


def run_onnx(path, encoded):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {k: np.asarray(v, dtype=np.int64) for k, v in encoded.items()})))


def batches(folder):
    tokenizer = AutoTokenizer.from_pretrained(folder)
    for texts in (TEXTS[:1], TEXTS[:3], TEXTS):   # batch 1, 3, 5; lengths differ, so padding differs
        yield dict(tokenizer(texts, padding=True, return_tensors="np"))


@pytest.mark.parametrize("head", list(HEADS))
def test_onnx_runtime_matches_transformers_for_every_head(tmp_path, bertkit, head):
    model_class, names = HEADS[head]
    folder = tmp_path / head
    model = save_tiny(folder, model_class)
    out = tmp_path / "model.onnx"
    bertkit("convert", folder, out)
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    graph = onnx.load(str(out)).graph
    assert [i.name for i in graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
    assert [o.name for o in graph.output] == names
    assert all(d.dim_param for i in graph.input for d in i.type.tensor_type.shape.dim)   # dynamic batch and sequence
    for encoded in batches(folder):
        expected, actual = reference(model, encoded, names), run_onnx(out, encoded)
        for name in names:
            assert actual[name].shape == expected[name].shape, name
            assert np.abs(actual[name] - expected[name]).max() < 1e-4, (name, np.abs(actual[name] - expected[name]).max())


@pytest.mark.parametrize("act", ["gelu_new", "relu"])
def test_other_activations(tmp_path, bertkit, act):
    folder = tmp_path / act
    model = save_tiny(folder, BertForSequenceClassification, hidden_act=act)
    bertkit("convert", folder, tmp_path / "m.onnx")
    for encoded in batches(folder):
        assert np.abs(run_onnx(tmp_path / "m.onnx", encoded)["logits"] - reference(model, encoded, ["logits"])["logits"]).max() < 1e-4


def test_all_minilm_l6_v2(tmp_path, bertkit):
    out = tmp_path / "minilm.onnx"
    bertkit("convert", MINILM, out)
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    model = BertModel.from_pretrained(MINILM).eval()
    for encoded in batches(MINILM):
        expected, actual = reference(model, encoded, ["last_hidden_state", "pooler_output"]), run_onnx(out, encoded)
        for name in expected:
            assert np.abs(actual[name] - expected[name]).max() < 1e-4, name


@pytest.mark.parametrize("head", ["base", "sequence-classification", "question-answering", "masked-lm"])
def test_safetensors_onnx_safetensors_is_bit_identical(tmp_path, bertkit, head):
    folder = tmp_path / head
    save_tiny(folder, HEADS[head][0])
    bertkit("convert", folder, tmp_path / "m.onnx")
    bertkit("convert", tmp_path / "m.onnx", tmp_path / "back.safetensors")
    original, back = load_file(folder / "model.safetensors"), load_file(tmp_path / "back.safetensors")
    original = {k: v for k, v in original.items() if k != "cls.predictions.decoder.weight"}   # tied: the embeddings
    assert set(back) == set(original)
    for name, tensor in original.items():
        assert torch.equal(back[name], tensor), name


def test_lora_adapter_is_merged(tmp_path, bertkit):
    from peft import LoraConfig, get_peft_model
    folder = tmp_path / "base"
    base = save_tiny(folder, BertForSequenceClassification)
    torch.manual_seed(5)
    peft_model = get_peft_model(base, LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=8, target_modules=["query", "value"]))
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.2)
    peft_model.save_pretrained(tmp_path / "adapter")
    merged = peft_model.merge_and_unload().eval()
    bertkit("convert", folder, tmp_path / "m.onnx", "--adapter", tmp_path / "adapter")
    for encoded in batches(folder):
        expected = reference(merged, encoded, ["logits"])["logits"]
        assert np.abs(run_onnx(tmp_path / "m.onnx", encoded)["logits"] - expected).max() < 1e-4


def test_external_data(tmp_path, bertkit):
    folder = tmp_path / "tiny"
    model = save_tiny(folder, BertModel)
    inline, external = tmp_path / "inline.onnx", tmp_path / "external.onnx"
    bertkit("convert", folder, inline)
    bertkit("convert", folder, external, "--external-data")
    assert not (tmp_path / "inline.onnx.data").exists() and (tmp_path / "external.onnx.data").exists()
    assert external.stat().st_size < inline.stat().st_size // 10
    onnx.checker.check_model(str(external), full_check=True)
    for encoded in batches(folder):
        expected = reference(model, encoded, ["last_hidden_state"])["last_hidden_state"]
        assert np.abs(run_onnx(external, encoded)["last_hidden_state"] - expected).max() < 1e-4
    bertkit("convert", external, tmp_path / "back.safetensors")
    original, back = load_file(folder / "model.safetensors"), load_file(tmp_path / "back.safetensors")
    assert set(back) == set(original) and all(torch.equal(back[k], v) for k, v in original.items())


def test_damaged_onnx_files_get_one_error_line(tmp_path, bertkit):
    folder = tmp_path / "tiny"
    save_tiny(folder, BertModel)
    good = tmp_path / "good.onnx"
    bertkit("convert", folder, good)
    data = good.read_bytes()
    # A length field made huge: the wire format is then wrong from that byte on, to the end of the file.
    cases = {"truncated.onnx": data[: len(data) // 2], "flipped.onnx": data[:30] + bytes([0xFF] * 9) + data[39:]}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        for args in (["inspect", tmp_path / name], ["convert", tmp_path / name, tmp_path / f"out-{name}.safetensors"]):
            result = bertkit(*args, check=False)
            assert result.returncode == 1, (name, args, result.stdout[-500:])
            lines = [l for l in result.stderr.splitlines() if l.strip()]
            assert len(lines) == 1 and lines[0].startswith("error: ") and name in lines[0], (name, result.stderr)
            assert not (tmp_path / f"out-{name}.safetensors").exists()
