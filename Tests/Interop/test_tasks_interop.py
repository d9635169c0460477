"""Token classification and question answering both ways: what `bertkit finetune --task token-classification|
question-answering` exports loads in transformers (AutoModelForTokenClassification / AutoModelForQuestionAnswering)
with bertkit's outputs, and its LoRA adapters (PEFT TOKEN_CLS / QUESTION_ANS) load in PEFT with bertkit's outputs.
Data: sentences over the tiny fixture's vocabulary; every check runs `bertkit parity` against a reference file that
transformers (or PEFT) wrote for the same inputs."""
import json
import os
import sys

import pytest
import torch

from conftest import ROOT, fixture_path

sys.path.insert(0, os.path.join(ROOT, "Tools"))
from make_reference import reference_outputs, save_reference  # noqa: E402

TINY = fixture_path("bert", "tiny-base")
SENTENCES = ["alice visited paris .", "bob went to london", "the movie in rome was good"]
QUESTIONS = [("where does alice live ?", "the movie was good . alice lives in london . it was a very good film"),
             ("who lives in paris ?", "bob lives in paris .")]


def conll(count, seed):
    g = torch.Generator().manual_seed(seed)
    people, places = ["alice", "bob", "carol"], ["paris", "london", "rome"]
    lines = []
    for _ in range(count):
        person, place = people[int(torch.randint(0, 3, (1,), generator=g))], places[int(torch.randint(0, 3, (1,), generator=g))]
        lines.append(f"{person} B-PER\nvisited O\n{place} B-LOC\n. O\n")
    return "\n".join(lines)


def squad(count, seed):
    g = torch.Generator().manual_seed(seed)
    data = []
    for i in range(count):
        person = ["alice", "bob"][int(torch.randint(0, 2, (1,), generator=g))]
        city = ["paris", "london"][int(torch.randint(0, 2, (1,), generator=g))]
        context = f"the movie was good . {person} lives in {city} . it was a very good film"
        question, answer = (f"where does {person} live ?", city) if i % 2 == 0 else (f"who lives in {city} ?", person)
        data.append({"id": f"q{i}", "question": question, "context": context,
                     "answers": {"text": [answer], "answer_start": [context.index(answer)]}})
    return json.dumps({"data": data})


@pytest.fixture(scope="module")
def trained(tmp_path_factory, bertkit):
    """Full and LoRA runs of both tasks."""
    folder = tmp_path_factory.mktemp("tasks")
    (folder / "train.conll").write_text(conll(40, 1))
    (folder / "train.json").write_text(squad(40, 2))
    common = ["--model", TINY, "--epochs", "3", "--batch-size", "8", "--lr", "5e-3", "--save-every", "never", "--threads", "1"]
    out = {}
    for task, data, extra in [("token-classification", "train.conll", []),
                              ("question-answering", "train.json", ["--max-length", "24", "--doc-stride", "4"])]:
        for kind, lora in [("full", []), ("lora", ["--lora-r", "4", "--lora-alpha", "8"])]:
            target = folder / f"{task}-{kind}"
            bertkit("finetune", "--task", task, "--train", folder / data, "--output", target, *common, *extra, *lora)
            out[(task, kind)] = target
    return out


def inputs(tokenizer, task):
    if task == "question-answering":
        questions, contexts = zip(*QUESTIONS)
        return tokenizer(list(questions), list(contexts), padding=True, return_tensors="pt")
    return tokenizer(SENTENCES, padding=True, return_tensors="pt")


def check_parity(bertkit, model, head, task, tmp_path, *extra):
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(TINY)
    enc = inputs(tokenizer, task)
    outputs = reference_outputs(model, head, enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
    path = tmp_path / "reference.safetensors"
    save_reference(path, {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")}, outputs, {"head": head})
    result = bertkit("parity", "--reference", path, "--atol", "1e-5", "--json", *extra, check=False)
    report = json.loads(result.stdout) if result.stdout else {}
    assert result.returncode == 0 and report.get("ok"), (result.stdout, result.stderr)
    return outputs


@pytest.mark.parametrize("task", ["token-classification", "question-answering"])
def test_export_loads_in_transformers_with_bertkit_outputs(trained, bertkit, task, tmp_path):
    from transformers import AutoModelForQuestionAnswering, AutoModelForTokenClassification
    export = trained[(task, "full")]
    config = json.loads((export / "config.json").read_text())
    auto = AutoModelForTokenClassification if task == "token-classification" else AutoModelForQuestionAnswering
    model = auto.from_pretrained(export).eval()
    assert type(model).__name__ == config["architectures"][0]
    if task == "token-classification":
        assert model.config.id2label == {0: "B-LOC", 1: "B-PER", 2: "O"}
    check_parity(bertkit, model, task, task, tmp_path, "--model", export)


@pytest.mark.parametrize("task", ["token-classification", "question-answering"])
def test_lora_adapter_loads_in_peft_with_bertkit_outputs(trained, bertkit, task, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForQuestionAnswering, AutoModelForTokenClassification
    adapter = trained[(task, "lora")]
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["task_type"] == {"token-classification": "TOKEN_CLS", "question-answering": "QUESTION_ANS"}[task]
    if task == "token-classification":
        base = AutoModelForTokenClassification.from_pretrained(TINY, num_labels=3)
    else:
        base = AutoModelForQuestionAnswering.from_pretrained(TINY)
    peft_model = PeftModel.from_pretrained(base, adapter).eval()
    outputs = check_parity(bertkit, peft_model.base_model.model, task, task, tmp_path, "--model", TINY, "--adapter", adapter)
    # The adapter was trained: its B matrices left zero, and its outputs are not the base encoder's with its classifier.
    from safetensors.torch import load_file
    saved = load_file(adapter / "adapter_model.safetensors")
    assert any(saved[k].abs().max() > 0 for k in saved if "lora_B" in k), "LoRA B still zero: nothing trained"
    with peft_model.disable_adapter():
        enc = inputs(__import__("transformers").AutoTokenizer.from_pretrained(TINY), task)
        with torch.no_grad():
            without = peft_model(**enc)
    key = "logits" if task == "token-classification" else "start_logits"
    assert (getattr(without, key) - outputs[key]).abs().max() > 1e-4
