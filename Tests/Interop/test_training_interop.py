"""Fine-tuning against the reference stack (issues 7 and 8):

* a directory exported by `bertkit finetune` loads with AutoModelForSequenceClassification.from_pretrained
  and gives bertkit's logits (1e-4); its pytorch_model.bin (torch.load, weights_only) and tf_model.h5
  (Keras layout, mapped back by transformers 4.x's from_tf rules) hold the same tensors as model.safetensors;
* LoRA both ways with PEFT 0.21.2: a bertkit adapter loads with PeftModel.from_pretrained (trained classifier
  restored) with bertkit's logits (1e-5); an adapter PEFT trains here runs in `bertkit predict --adapter` with
  PEFT's logits; `bertkit merge` equals merge_and_unload() in tensors and logits;
* end to end on the real data (Tools/fetch): all-MiniLM-L6-v2 fine-tuned on 2,000 sampled movie-review
  sentences for one epoch (lr 5e-5, batch 16, max length 64) by bertkit and by transformers' Trainer
  (Tools/reference_finetune.py, same recipe), test-split accuracies compared; LoRA (r 8) beside them.
Tiny runs use sentences from the tiny fixtures' vocabulary, so they take a second."""
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from conftest import ROOT, fixture_path

sys.path.insert(0, os.path.join(ROOT, "Tools", "fixtures"))
import make_hdf5_fixtures as keras_rules  # noqa: E402  (transformers 4.x's from_tf mapping of tf_model.h5)

TINY = fixture_path("bert", "tiny-seqcls")
CACHE = os.environ.get("BERTKIT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "bertkit"))
MINILM = os.path.join(CACHE, "models", "all-MiniLM-L6-v2")
REVIEWS = os.path.join(CACHE, "data", "movie-reviews")
TEXTS = ["the movie was very good !", "i hated this boring film", "alice visited paris and loved it", "bad",
         "the plot was awful but the actors were great", "it was fun"]
POSITIVE, NEGATIVE = ["good", "great", "fun", "loved", "liked", "best"], ["bad", "awful", "boring", "hated", "worst"]
SUBJECTS = ["the movie", "this film", "the plot", "the story", "the actors", "it"]


def tiny_rows(count, seed, labels=("pos", "neg")):
    r = random.Random(seed)
    rows = []
    for _ in range(count):
        good = r.random() < 0.5
        rows.append((f"{r.choice(SUBJECTS)} was very {r.choice(POSITIVE if good else NEGATIVE)}", labels[0] if good else labels[1]))
    return rows


def write_csv(path, rows):
    path.write_text("text,label\n" + "".join(f"{text},{label}\n" for text, label in rows))
    return path


def bertkit_logits(bertkit, model, texts, *extra):
    result = bertkit("predict", "--model", model, "--json", *extra, *texts)
    predictions = json.loads(result.stdout)["predictions"]
    assert [p["text"] for p in predictions] == list(texts)
    return torch.tensor([p["logits"] for p in predictions]), [p["label"] for p in predictions]


def torch_logits(model, folder, texts):
    from transformers import AutoTokenizer
    enc = AutoTokenizer.from_pretrained(folder)(list(texts), padding=True, return_tensors="pt")
    with torch.no_grad():
        return model(**{k: enc[k] for k in ["input_ids", "attention_mask", "token_type_ids"]}).logits


def load_classifier(folder, **kwargs):
    from transformers import AutoModelForSequenceClassification
    loaded = AutoModelForSequenceClassification.from_pretrained(folder, attn_implementation="eager", **kwargs)
    if isinstance(loaded, tuple):
        return loaded[0].eval(), loaded[1]
    return loaded.eval()


def worst(a, b):
    return (a - b).abs().max().item()


# --- full fine-tuning: the exported directory in transformers -------------------------------------------------

@pytest.fixture(scope="module")
def exported(tmp_path_factory, bertkit):
    """A tiny full fine-tune with labels the base model does not have (new 2-way head), all three formats."""
    folder = tmp_path_factory.mktemp("full")
    train = write_csv(folder / "train.csv", tiny_rows(64, 1, ("positive", "negative")))
    bertkit("finetune", "--model", TINY, "--train", train, "--output", folder / "out", "--epochs", "6", "--batch-size", "4",
            "--lr", "5e-3", "--save-every", "never", "--save-format", "pytorch", "--save-format", "hdf5", "--threads", "1")
    return folder / "out"


def test_export_loads_in_transformers_with_bertkit_logits(exported, bertkit):
    model, info = load_classifier(exported, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    assert model.config.id2label == {0: "negative", 1: "positive"} and model.config.label2id == {"negative": 0, "positive": 1}
    assert model.config.problem_type == "single_label_classification"
    assert model.config.architectures == ["BertForSequenceClassification"]
    expected = torch_logits(model, exported, TEXTS)
    actual, labels = bertkit_logits(bertkit, exported, TEXTS)
    assert worst(actual, expected) <= 1e-4, (actual, expected)
    assert labels == [model.config.id2label[i] for i in expected.argmax(-1).tolist()]
    # Trained: the export is not the base encoder with a random head, and it has learnt the task.
    base = load_classifier(TINY)
    assert any(not torch.equal(p, base.state_dict()["bert." + k]) for k, p in model.bert.state_dict().items())
    # Judged on held-out sentences of the training template (an untrained head gets about half right); a
    # single free-form sentence such as "i hated this boring film" flips with the random head's draw.
    held_out = tiny_rows(32, 2, ("positive", "negative"))
    _, held_out_labels = bertkit_logits(bertkit, exported, [text for text, _ in held_out])
    accuracy = sum(p == label for p, (_, label) in zip(held_out_labels, held_out)) / len(held_out)
    assert accuracy >= 0.9, (accuracy, held_out_labels)


def test_pytorch_and_hdf5_files_hold_the_safetensors_tensors(exported, bertkit, tmp_path):
    safetensors = load_file(exported / "model.safetensors")
    state = torch.load(exported / "pytorch_model.bin", weights_only=True)
    assert set(state) == set(safetensors)
    for key, tensor in safetensors.items():
        assert state[key].dtype == tensor.dtype and torch.equal(state[key], tensor), key
    model = load_classifier(exported)
    mapped = keras_rules.mapped_state(exported / "tf_model.h5", model)
    keras_rules.check_against_model(mapped, model, "tf_model.h5")
    for key, tensor in mapped.items():
        assert torch.equal(tensor, safetensors[key]), key
    # transformers loads the PyTorch file alone to the same logits.
    alone = tmp_path / "pytorch-only"
    alone.mkdir()
    for name in os.listdir(exported):
        if name not in ("model.safetensors", "tf_model.h5"):
            shutil.copy(exported / name, alone / name)
    assert worst(torch_logits(load_classifier(alone), alone, TEXTS), torch_logits(model, exported, TEXTS)) == 0


# --- LoRA both ways with PEFT ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bertkit_adapter(tmp_path_factory, bertkit):
    folder = tmp_path_factory.mktemp("lora")
    train = write_csv(folder / "train.csv", tiny_rows(64, 2))
    bertkit("finetune", "--model", TINY, "--train", train, "--output", folder / "adapter", "--epochs", "3", "--batch-size", "8",
            "--lr", "1e-2", "--lora-r", "8", "--lora-alpha", "16", "--save-every", "never", "--threads", "1")
    return folder / "adapter"


def test_bertkit_adapter_loads_in_peft_with_its_trained_classifier(bertkit_adapter, bertkit):
    from peft import PeftModel
    config = json.loads((bertkit_adapter / "adapter_config.json").read_text())
    assert config["r"] == 8 and config["target_modules"] == ["query", "value"]
    peft_model = PeftModel.from_pretrained(load_classifier(TINY), bertkit_adapter).eval()
    saved = load_file(bertkit_adapter / "adapter_model.safetensors")
    classifier = peft_model.base_model.model.classifier
    assert torch.equal(classifier.modules_to_save["default"].weight, saved["base_model.model.classifier.weight"])
    assert torch.equal(classifier.modules_to_save["default"].bias, saved["base_model.model.classifier.bias"])
    assert not torch.equal(classifier.original_module.weight, saved["base_model.model.classifier.weight"]), "classifier not trained"
    assert any(saved[k].abs().max() > 0 for k in saved if "lora_B" in k), "LoRA B still zero: nothing trained"
    expected = torch_logits(peft_model, TINY, TEXTS)
    actual, labels = bertkit_logits(bertkit, TINY, TEXTS, "--adapter", bertkit_adapter)
    assert worst(actual, expected) <= 1e-5, (actual, expected)
    assert worst(expected, torch_logits(load_classifier(TINY), TINY, TEXTS)) > 1e-3, "the adapter changes nothing"
    assert labels == [peft_model.config.id2label[i] for i in expected.argmax(-1).tolist()]


@pytest.fixture(scope="module")
def peft_adapter(tmp_path_factory):
    """An adapter PEFT trains here: rsLoRA r 4 alpha 16 on `key` and every `dense` (attention output,
    intermediate, output, pooler), a few AdamW steps on random batches so that B is far from zero."""
    from peft import LoraConfig, TaskType, get_peft_model
    folder = tmp_path_factory.mktemp("peft") / "adapter"
    torch.manual_seed(3)
    model = get_peft_model(load_classifier(TINY), LoraConfig(task_type=TaskType.SEQ_CLS, r=4, lora_alpha=16, lora_dropout=0.0,
                                                             target_modules=["key", "dense"], use_rslora=True))
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-2)
    g = torch.Generator().manual_seed(4)
    for _ in range(5):
        ids = torch.randint(7, 124, (8, 9), generator=g)
        loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=torch.randint(0, 3, (8,), generator=g)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    model.save_pretrained(folder)
    return folder


def test_peft_adapter_runs_in_bertkit_with_peft_logits(peft_adapter, bertkit):
    from peft import PeftModel
    peft_model = PeftModel.from_pretrained(load_classifier(TINY), peft_adapter).eval()
    expected = torch_logits(peft_model, TINY, TEXTS)
    actual, _ = bertkit_logits(bertkit, TINY, TEXTS, "--adapter", peft_adapter)
    assert worst(actual, expected) <= 1e-5, (actual, expected)
    assert worst(expected, torch_logits(load_classifier(TINY), TINY, TEXTS)) > 1e-2


@pytest.mark.parametrize("which", ["peft", "bertkit"])
def test_merge_equals_merge_and_unload(which, peft_adapter, bertkit_adapter, bertkit, tmp_path):
    from peft import PeftModel
    adapter = peft_adapter if which == "peft" else bertkit_adapter
    merged = PeftModel.from_pretrained(load_classifier(TINY), adapter).eval().merge_and_unload()
    bertkit("merge", "--model", TINY, "--adapter", adapter, "--output", tmp_path / "merged")
    ours = load_file(tmp_path / "merged" / "model.safetensors")
    theirs = {k: v for k, v in merged.state_dict().items()}
    assert set(ours) == set(theirs)
    for key, tensor in theirs.items():
        assert worst(ours[key], tensor) <= 1e-5, key
    reloaded = load_classifier(tmp_path / "merged")
    assert worst(torch_logits(reloaded, tmp_path / "merged", TEXTS), torch_logits(merged, TINY, TEXTS)) <= 1e-5
    assert worst(bertkit_logits(bertkit, tmp_path / "merged", TEXTS)[0], torch_logits(merged, TINY, TEXTS)) <= 1e-5


# --- the whole training loop at real scale, against transformers' Trainer ------------------------------------------

def test_trainer_steps_on_minilm_equal_transformers_trainer(bertkit, tmp_path):
    """all-MiniLM-L6-v2 with a classifier made once by transformers, dropout off, 16 real movie-review sentences (one
    padded batch, so the data order cannot differ), 5 epochs at lr 5e-5 with the linear schedule, weight decay and
    clipping: bertkit finetune and transformers' Trainer end at the same weights — their logits on other real sentences
    agree within 1e-5, and so do the logged loss and gradient norm of every step."""
    from transformers import (AutoTokenizer, BertConfig, BertForSequenceClassification, DataCollatorWithPadding, Trainer,
                              TrainingArguments)
    real_data()
    torch.manual_seed(0)
    config = BertConfig.from_pretrained(MINILM, num_labels=2, id2label={0: "negative", 1: "positive"},
                                        label2id={"negative": 0, "positive": 1}, hidden_dropout_prob=0.0,
                                        attention_probs_dropout_prob=0.0)
    start = tmp_path / "start"
    BertForSequenceClassification.from_pretrained(MINILM, config=config).save_pretrained(start)
    tokenizer = AutoTokenizer.from_pretrained(MINILM)
    tokenizer.save_pretrained(start)
    with open(os.path.join(REVIEWS, "train.csv"), encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    random.Random(7).shuffle(rows)
    train, probe = rows[:16], [row["text"] for row in rows[16:32]]
    with open(tmp_path / "train.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(train)

    bertkit("finetune", "--model", start, "--train", tmp_path / "train.csv", "--output", tmp_path / "bertkit", "--epochs", "5",
            "--lr", "5e-5", "--batch-size", "16", "--max-length", "64", "--logging-steps", "1", "--save-every", "never")

    encoded = tokenizer([row["text"] for row in train], truncation=True, max_length=64)
    dataset = [{"input_ids": encoded["input_ids"][i], "attention_mask": encoded["attention_mask"][i],
                "token_type_ids": encoded["token_type_ids"][i], "labels": config.label2id[row["label"]]}
               for i, row in enumerate(train)]
    model = BertForSequenceClassification.from_pretrained(start)
    arguments = TrainingArguments(output_dir=str(tmp_path / "trainer"), num_train_epochs=5, learning_rate=5e-5,
                                  per_device_train_batch_size=16, weight_decay=0.01, save_strategy="no", logging_steps=1,
                                  report_to=[], use_cpu=True, disable_tqdm=True)
    trainer = Trainer(model=model, args=arguments, train_dataset=dataset, data_collator=DataCollatorWithPadding(tokenizer))
    trainer.train()
    expected_log = [(h["loss"], h["grad_norm"]) for h in trainer.state.log_history if "loss" in h]
    with open(tmp_path / "bertkit" / "training_log.jsonl", encoding="utf-8") as f:
        log = [json.loads(line) for line in f]
    steps = [(entry["loss"], entry["grad_norm"]) for entry in log if entry.get("loss") is not None]
    assert len(steps) == len(expected_log) == 5
    for (loss, norm), (expected_loss, expected_norm) in zip(steps, expected_log):
        assert abs(loss - expected_loss) <= 1e-5 and abs(norm - expected_norm) <= 1e-5 * max(1.0, expected_norm), (steps, expected_log)
    model.eval()
    actual, _ = bertkit_logits(bertkit, tmp_path / "bertkit", probe, "--max-length", "64", "--")
    assert worst(actual, torch_logits(model, start, probe)) <= 1e-5


# --- end to end on the real data ----------------------------------------------------------------------------------

# The recipe of issue 7: 2,000 sampled training sentences, one epoch, lr 5e-5, batch 16, max length 64, weight decay
# 0.01, no warmup, clipping at 1.0, seed 42. Both stacks train on the same 2,000 sentences (sampled here as
# reference_finetune.py samples them), but draw the order, the new head and the dropout masks from different random
# streams, so the two accuracies differ by the luck of the draw: over seeds 1, 2, 3 and 42 (Tools/compare_finetune.py,
# 2026-12-01) bertkit scored 0.775-0.793 (mean 0.784) and transformers 0.781-0.792 (mean 0.785). Given the same draws
# the two trainers are identical (test_trainer_steps_on_minilm_equal_transformers_trainer). bertkit must reach
# transformers' accuracy within 0.02 (about 21 of the 1,057 test sentences).
RECIPE = ["--epochs", "1", "--lr", "5e-5", "--batch-size", "16", "--max-length", "64", "--seed", "42"]
SAMPLE, SEED = 2000, 42
MARGIN = 0.02
LORA_LR, LORA_TARGETS = "1e-3", "query,value,dense"


def real_data():
    missing = [p for p in [os.path.join(MINILM, "model.safetensors")] + [os.path.join(REVIEWS, s + ".csv") for s in
               ("train", "validation", "test")] if not os.path.exists(p)]
    if missing:
        pytest.fail(f"the real model and data are not fetched ({', '.join(missing)}): run Tools/fetch")


def sampled_training_file(folder):
    """SAMPLE training rows drawn with Python's random from SEED, in file order: the rows both stacks train on."""
    with open(os.path.join(REVIEWS, "train.csv"), encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows, fields = list(reader), reader.fieldnames
    chosen = [rows[i] for i in sorted(random.Random(SEED).sample(range(len(rows)), SAMPLE))]
    path = folder / "train-sample.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(chosen)
    return path


def bertkit_test_accuracy(bertkit, model, *extra):
    result = bertkit("evaluate", "--model", model, *extra, "--data", os.path.join(REVIEWS, "test.csv"), "--max-length", "64", "--json")
    return json.loads(result.stdout)


def test_movie_reviews_end_to_end_against_transformers(bertkit, tmp_path):
    real_data()
    report = {"recipe": " ".join(RECIPE), "training_sentences": SAMPLE, "margin": MARGIN}
    train = sampled_training_file(tmp_path)
    start = time.time()
    bertkit("finetune", "--model", MINILM, "--train", train, "--output", tmp_path / "full",
            "--save-every", "never", *RECIPE)
    full = bertkit_test_accuracy(bertkit, tmp_path / "full")
    report["bertkit"] = {"test_accuracy": full["accuracy"], "test_loss": full["loss"], "test_f1": full["f1"], "n": full["n"],
                         "seconds": round(time.time() - start, 1)}

    start = time.time()
    reference = subprocess.run([sys.executable, os.path.join(ROOT, "Tools", "reference_finetune.py"), "--model", MINILM,
                                "--train", str(train), "--eval", os.path.join(REVIEWS, "validation.csv"),
                                "--test", os.path.join(REVIEWS, "test.csv"), "--epochs", "1",
                                "--lr", "5e-5", "--batch-size", "16", "--max-length", "64", "--weight-decay", "0.01", "--seed", "42",
                                "--threads", "2", "--output", str(tmp_path / "reference")], capture_output=True, text=True)
    assert reference.returncode == 0, reference.stderr[-3000:]
    transformers_result = json.loads(reference.stdout.strip().splitlines()[-1])
    assert transformers_result["train_examples"] == SAMPLE
    report["transformers"] = {"test_accuracy": transformers_result["test_accuracy"], "test_loss": transformers_result["test_loss"],
                              "seconds": round(time.time() - start, 1)}

    # LoRA on the same data and schedule (r 8, alpha 16, the classifier trained in full) at lr 1e-3 — twenty times
    # full fine-tuning's. On query/value only, 125 steps barely move all-MiniLM-L6-v2 (test accuracy 0.59 here, and
    # PEFT 0.21.2 reaches 0.51 with that recipe), so the adapters also go on every dense layer. Reported beside full
    # fine-tuning; it must beat the majority class clearly.
    start = time.time()
    lora_recipe = [a if a != "5e-5" else LORA_LR for a in RECIPE]
    bertkit("finetune", "--model", MINILM, "--train", train, "--output", tmp_path / "lora",
            "--save-every", "never", "--lora-r", "8", "--lora-alpha", "16", "--lora-targets", LORA_TARGETS, *lora_recipe)
    lora = bertkit_test_accuracy(bertkit, MINILM, "--adapter", tmp_path / "lora")
    report["bertkit_lora"] = {"test_accuracy": lora["accuracy"], "test_loss": lora["loss"], "lr": float(LORA_LR), "r": 8, "alpha": 16, "targets": LORA_TARGETS,
                              "seconds": round(time.time() - start, 1)}
    with open(os.path.join(REVIEWS, "test.csv"), encoding="utf-8", newline="") as f:
        labels = [row["label"] for row in csv.DictReader(f)]
    assert len(labels) == full["n"] == lora["n"]
    majority = max(labels.count(name) for name in set(labels)) / len(labels)
    report["majority_class_accuracy"] = majority

    print("\nmovie reviews:", json.dumps(report, indent=2))
    (tmp_path / "accuracies.json").write_text(json.dumps(report, indent=2))
    assert full["accuracy"] >= transformers_result["test_accuracy"] - MARGIN, report
    assert lora["accuracy"] >= majority + 0.1, report
