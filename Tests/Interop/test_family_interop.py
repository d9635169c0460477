"""DistilBERT and RoBERTa (issue 22) against transformers, on tiny models of every head made here by the reference
stack: `bertkit parity` within 1e-5 of transformers from safetensors and from PyTorch zip and legacy checkpoints, f32
and bf16; a DistilBERT with fixed sinusoidal positions; and `convert` writing files transformers loads unchanged.
DistilBERT carries the bert-base-uncased WordPiece vocabulary (all-MiniLM-L6-v2's), RoBERTa GPT-2's byte-level BPE
(Tools/fixtures/fetch_bpe_reference.py) laid out as roberta-base's (<s> <pad> </s> <unk> first, so that the padding id is
1 and positions start at 2, <mask> last), so the inputs are real tokenizations of real text."""
import json
import os
import shutil
import sys

import pytest
import torch
import transformers
from transformers import AutoTokenizer, DistilBertConfig, RobertaConfig

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "Tools"))
from make_reference import FAMILIES, HEADS, reference_outputs, save_reference  # noqa: E402

CACHE = os.environ.get("BERTKIT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "bertkit"))
MINILM = os.path.join(CACHE, "models", "all-MiniLM-L6-v2")
GPT2_VOCAB = os.path.join(CACHE, "bpe-reference", "gpt2_vocab")
TEXTS = ["The movie was a <mask> surprise, honestly.", "Paris is the capital of France.", "an honest, affecting film",
         "ok"]


def config(family, **extra):
    if family == "distilbert":
        return DistilBertConfig(vocab_size=30522, dim=48, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64, **extra)
    return RobertaConfig(vocab_size=50262, hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                         max_position_embeddings=66, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2, **extra)


def roberta_tokenizer(folder):
    """vocab.json + merges.txt in roberta-base's layout, with RobertaTokenizer's tokenizer_config.json."""
    vocab = json.load(open(os.path.join(GPT2_VOCAB, "vocab.json"), encoding="utf-8"))
    shifted = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    shifted.update({token: index + 4 for token, index in vocab.items()})
    shifted["<mask>"] = len(shifted)
    json.dump(shifted, open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8"), ensure_ascii=False)
    shutil.copy(os.path.join(GPT2_VOCAB, "merges.txt"), folder)
    json.dump({"tokenizer_class": "RobertaTokenizer", "model_max_length": 64, "bos_token": "<s>", "eos_token": "</s>",
               "sep_token": "</s>", "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>",
               "mask_token": {"content": "<mask>", "lstrip": True, "rstrip": False, "normalized": False, "single_word": False,
                              "special": True, "__type": "AddedToken"}},
              open(os.path.join(folder, "tokenizer_config.json"), "w"))


def make_model(folder, family, head, seed=0, weights="safetensors", dtype=torch.float32, **extra):
    torch.manual_seed(seed)
    cls = getattr(transformers, FAMILIES[family] + HEADS[head])
    labels = 2 if head == "question-answering" else 3   # DistilBertForQuestionAnswering insists on num_labels 2
    model = cls(config(family, initializer_range=0.2, num_labels=labels, **extra)).eval().to(dtype)
    if weights == "safetensors":
        model.save_pretrained(folder)
    else:
        model.config.architectures = [cls.__name__]
        model.config.save_pretrained(folder)
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        torch.save(state, os.path.join(folder, "pytorch_model.bin"), _use_new_zipfile_serialization=(weights == "zip"))
    if family == "distilbert":
        for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy(os.path.join(MINILM, name), folder)
    else:
        roberta_tokenizer(folder)
    return model


def reference(folder, model, head, path):
    tokenizer = AutoTokenizer.from_pretrained(folder)
    texts = [t.replace("<mask>", tokenizer.mask_token) for t in TEXTS]
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    inputs = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
              "token_type_ids": enc.get("token_type_ids", torch.zeros_like(enc["input_ids"]))}
    # Computed in float64 from the float32 (or bf16) weights, exactly converted: the reference is the exact value, so the
    # tolerance measures bertkit's float32 error alone, not the sum of two float32 summation orders.
    save_reference(path, inputs, reference_outputs(model.double(), head, **inputs), {"head": head, "computed_in": "float64"})


def parity(bertkit, folder, path, atol="1e-5"):
    result = bertkit("parity", "--model", folder, "--reference", path, "--atol", atol, "--json")
    report = json.loads(result.stdout)
    assert report["ok"], report
    assert "newly initialized" not in result.stderr and "not used" not in result.stderr, result.stderr
    return report


@pytest.mark.parametrize("family", ["distilbert", "roberta"])
@pytest.mark.parametrize("head", list(HEADS))
@pytest.mark.parametrize("weights", ["safetensors", "zip"])
def test_parity_every_head(bertkit, tmp_path, family, head, weights):
    model = make_model(tmp_path, family, head, weights=weights)
    reference(tmp_path, model, head, tmp_path / "reference.safetensors")
    report = parity(bertkit, tmp_path, tmp_path / "reference.safetensors")
    expected = {"base": {"last_hidden_state"} | ({"pooler_output"} if family == "roberta" else set()),
                "question-answering": {"start_logits", "end_logits", "last_hidden_state"}}.get(head, {"logits", "last_hidden_state"})
    assert set(report["outputs"]) == expected, report


@pytest.mark.parametrize("family", ["distilbert", "roberta"])
def test_legacy_pickle_and_bf16(bertkit, tmp_path, family):
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    model = make_model(legacy, family, "sequence-classification", seed=1, weights="legacy")
    reference(legacy, model, "sequence-classification", legacy / "reference.safetensors")
    parity(bertkit, legacy, legacy / "reference.safetensors")
    half = tmp_path / "bf16"
    half.mkdir()
    model = make_model(half, family, "masked-lm", seed=2, dtype=torch.bfloat16)
    reference(half, model, "masked-lm", half / "reference.safetensors")   # the bf16 weights, computed in float64
    parity(bertkit, half, half / "reference.safetensors")


def test_distilbert_with_sinusoidal_positions(bertkit, tmp_path):
    model = make_model(tmp_path, "distilbert", "token-classification", seed=3, sinusoidal_pos_embds=True)
    reference(tmp_path, model, "token-classification", tmp_path / "reference.safetensors")
    parity(bertkit, tmp_path, tmp_path / "reference.safetensors")


@pytest.mark.parametrize("family", ["distilbert", "roberta"])
@pytest.mark.parametrize("head", ["sequence-classification", "masked-lm"])
def test_convert_writes_what_transformers_loads(bertkit, tmp_path, family, head):
    source = tmp_path / "source"
    source.mkdir()
    model = make_model(source, family, head, seed=4, weights="zip")
    out = tmp_path / "converted"
    out.mkdir()
    shutil.copy(source / "config.json", out)
    result = bertkit("convert", source, out / "model.safetensors")
    assert "kept 'lm_head.decoder" not in result.stderr and "kept 'vocab_projector.weight'" not in result.stderr, result.stderr
    loaded = getattr(transformers, FAMILIES[family] + HEADS[head]).from_pretrained(out).eval()
    assert loaded.config.model_type == family
    state, original = loaded.state_dict(), model.state_dict()
    assert set(state) == set(original)
    for name, tensor in original.items():
        assert torch.equal(state[name], tensor), name


TRAIN = "text,label\na great movie,1\nterrible film,0\nloved it,1\nhated it,0\nwonderful acting,1\nboring plot,0\n" \
        "\"an honest, affecting film\",1\nnothing works here,0\n"


@pytest.mark.parametrize("family", ["distilbert", "roberta"])
@pytest.mark.parametrize("lora", [False, True])
def test_finetune_export_loads_with_bertkits_logits(bertkit, tmp_path, family, lora):
    """A classifier fine-tuned by bertkit (full, or LoRA on PEFT's default targets for the model type): transformers
    (or PEFT) loads the result and computes bertkit's logits for the same texts; RoBERTa's byte-level BPE files travel
    with the export."""
    from peft import PeftModel
    base = tmp_path / "base"
    base.mkdir()
    make_model(base, family, "base", seed=6)
    (tmp_path / "train.csv").write_text(TRAIN)
    out = tmp_path / "out"
    extra = ["--lora-r", "4"] if lora else []
    bertkit("finetune", "--model", base, "--train", tmp_path / "train.csv", "--output", out, "--epochs", "2",
            "--batch-size", "4", "--lr", "1e-3", "--labels", "0,1", "--threads", "2", *extra)
    texts = ["a great movie", "boring plot, really", "ok"]
    model_args = ["--model", base, "--adapter", out] if lora else ["--model", out]
    predicted = json.loads(bertkit("predict", *model_args, "--json", "--", *texts).stdout)["predictions"]
    cls = getattr(transformers, FAMILIES[family] + "ForSequenceClassification")
    if lora:
        config = json.loads((out / "adapter_config.json").read_text())
        targets = ["q_lin", "v_lin"] if family == "distilbert" else ["query", "value"]
        assert config["target_modules"] == targets and config["task_type"] == "SEQ_CLS", config
        model = PeftModel.from_pretrained(cls.from_pretrained(base, num_labels=2), out).eval()
        tokenizer = AutoTokenizer.from_pretrained(base)
    else:
        model = transformers.AutoModelForSequenceClassification.from_pretrained(out).eval()
        assert type(model) is cls
        tokenizer = AutoTokenizer.from_pretrained(out)
    with torch.no_grad():
        logits = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits
    mine = torch.tensor([p["logits"] for p in predicted])
    assert (mine - logits).abs().max() < 1e-4, (mine, logits)


@pytest.mark.parametrize("family", ["distilbert", "roberta"])
@pytest.mark.parametrize("head", list(HEADS))
def test_onnx_export_runs_in_onnx_runtime_with_transformers_outputs(bertkit, tmp_path, family, head):
    """`convert DIR model.onnx` for every head of both families: onnx.checker passes, the inputs are optimum's for the
    family (no token_type_ids), ONNX Runtime gives transformers' outputs within 1e-4 on batches of 1, 2 and 4 texts
    of different lengths (RoBERTa's padding-dependent positions included), and the weights read back bit for bit."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from safetensors.torch import load_file
    folder = tmp_path / "model"
    folder.mkdir()
    model = make_model(folder, family, head, seed=9)
    out = tmp_path / "model.onnx"
    bertkit("convert", folder, out)
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == ["input_ids", "attention_mask"]
    names = [o.name for o in proto.graph.output]
    expected_names = {"base": ["last_hidden_state"] + (["pooler_output"] if family == "roberta" else []),
                      "question-answering": ["start_logits", "end_logits"]}.get(head, ["logits"])
    assert names == expected_names
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    texts = [t.replace("<mask>", tokenizer.mask_token) for t in TEXTS]
    for batch in (texts[:1], texts[:2], texts):
        enc = tokenizer(batch, padding=True, return_tensors="np")
        feed = {"input_ids": enc["input_ids"].astype(np.int64), "attention_mask": enc["attention_mask"].astype(np.int64)}
        actual = dict(zip(names, session.run(None, feed)))
        with torch.no_grad():
            output = model(**{k: torch.tensor(v) for k, v in feed.items()})
        for name in names:
            reference_value = getattr(output, name).numpy()
            assert actual[name].shape == reference_value.shape, name
            worst = np.abs(actual[name] - reference_value).max()
            assert worst < 1e-4, (name, worst)
    bertkit("convert", out, tmp_path / "back.safetensors")
    original, back = load_file(folder / "model.safetensors"), load_file(tmp_path / "back.safetensors")
    tied = {"lm_head.decoder.weight", "lm_head.decoder.bias", "vocab_projector.weight"}
    assert set(back) == set(original) - tied
    assert all(torch.equal(back[name], original[name]) for name in back)


def test_gguf_export_refuses_roberta(bertkit, tmp_path):
    """llama.cpp's converter takes RoBERTa only with a vocabulary in its pre-tokenizer hash table (roberta-base's, not
    to be had offline), so bertkit refuses RoBERTa with one error line naming the class, and writes no file."""
    folder = tmp_path / "model"
    folder.mkdir()
    make_model(folder, "roberta", "sequence-classification", seed=9)
    result = bertkit("convert", folder, tmp_path / "model.gguf", check=False)
    assert result.returncode == 1 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "RobertaForSequenceClassification" in result.stderr and "config.json" in result.stderr, result.stderr
    assert not (tmp_path / "model.gguf").exists()
