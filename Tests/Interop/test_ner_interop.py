"""Token classification (issue 12) against the reference stack, step for step: `bertkit finetune --task
token-classification` and transformers' Trainer with run_ner.py's tokenize_and_align_labels (Tools/reference_ner.py)
train all-MiniLM-L6-v2 with dropout off on the same 64 real CoNLL-2003 training sentences, from the same new head, in
the same order, and log the same loss and gradient norm at every step; the exported BertForTokenClassification
loads in transformers with the Trainer's logits, and `bertkit predict` gives the pipeline's tokens and scores.

CoNLL-2003 is read from the cache at run time (Tools/fetch puts it there; research licence, so nothing derived from
its text is committed); without it the test is skipped."""
import json
import os
import random
import sys

import pytest
import torch

from conftest import ROOT
from trainer_parity import ExactGradientNorm, assert_same_steps, bertkit_epoch_order, bertkit_steps, trainer_steps

sys.path.insert(0, os.path.join(ROOT, "Tools"))
import reference_ner as run_ner  # noqa: E402  (run_ner.py's alignment, copied verbatim)

CACHE = os.environ.get("BERTKIT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "bertkit"))
MINILM = os.path.join(CACHE, "models", "all-MiniLM-L6-v2")
CONLL = os.path.join(CACHE, "data", "conll2003")
SENTENCES, PROBES, BATCH, STEPS, SEED, MAX_LENGTH = 64, 8, 16, 5, 1, 128


def conll_or_skip():
    missing = [p for p in [os.path.join(MINILM, "model.safetensors"), os.path.join(CONLL, "train.txt")] if not os.path.exists(p)]
    if missing:
        pytest.skip(f"CoNLL-2003 / all-MiniLM-L6-v2 not in the cache ({', '.join(missing)}): run Tools/fetch")


def chosen_sentences(tokenizer):
    """SENTENCES + PROBES real training sentences drawn with Python's random, each short enough for one window
    (so bertkit makes exactly one example of each, as run_ner's truncation does)."""
    sentences = run_ner.read_conll(os.path.join(CONLL, "train.txt"))
    picked = []
    for i in random.Random(12).sample(range(len(sentences)), 4 * (SENTENCES + PROBES)):
        words = [row[0] for row in sentences[i]]
        if len(words) >= 4 and len(tokenizer(words, is_split_into_words=True)["input_ids"]) <= MAX_LENGTH:
            picked.append(sentences[i])
    return picked[:SENTENCES], picked[SENTENCES:SENTENCES + PROBES]


def token_logits(model, tokenizer, sentences):
    enc = tokenizer([[row[0] for row in rows] for rows in sentences], is_split_into_words=True, padding=True,
                    return_tensors="pt")
    with torch.no_grad():
        return model(**{k: enc[k] for k in ["input_ids", "attention_mask", "token_type_ids"]}).logits, enc["attention_mask"]


def test_token_classification_steps_on_minilm_equal_transformers_trainer(bertkit, tmp_path):
    """all-MiniLM-L6-v2 with a 9-way token classifier made once by transformers (the sorted CoNLL labels, so bertkit
    keeps that head), dropout off; 64 CoNLL sentences, batch 16, lr 5e-5 with the linear schedule over 5 steps, weight
    decay 0.01, clipping at 1.0. Steps 1-4 are bertkit's first epoch, step 5 the first batch of its second (reshuffled)
    epoch, so the order and the dynamic padding of every batch matter."""
    from transformers import (AutoModelForTokenClassification, AutoTokenizer, BertConfig, DataCollatorForTokenClassification,
                              Trainer, TrainingArguments, pipeline)
    conll_or_skip()
    tokenizer = AutoTokenizer.from_pretrained(MINILM)
    train, probes = chosen_sentences(tokenizer)
    assert len(train) == SENTENCES and len(probes) == PROBES
    labels = run_ner.get_label_list(run_ner.words_and_tags(train)["ner_tags"])
    assert labels == ["B-LOC", "B-MISC", "B-ORG", "B-PER", "I-LOC", "I-MISC", "I-ORG", "I-PER", "O"], labels
    label_to_id = {label: i for i, label in enumerate(labels)}

    torch.manual_seed(0)
    config = BertConfig.from_pretrained(MINILM, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label_to_id,
                                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    start = tmp_path / "start"
    AutoModelForTokenClassification.from_pretrained(MINILM, config=config).save_pretrained(start)
    tokenizer.save_pretrained(start)
    train_file = run_ner.write_conll(tmp_path / "train.conll", train)

    bertkit("finetune", "--task", "token-classification", "--model", start, "--train", train_file, "--output", tmp_path / "bertkit",
            "--max-steps", STEPS, "--batch-size", BATCH, "--lr", "5e-5", "--weight-decay", "0.01", "--seed", SEED,
            "--max-length", MAX_LENGTH, "--logging-steps", "1", "--save-every", "never", "--threads", "2")

    features = run_ner.as_features(run_ner.tokenize_and_align_labels(tokenizer, run_ner.words_and_tags(train), label_to_id, MAX_LENGTH))
    order = bertkit_epoch_order(SENTENCES, SEED, 0) + bertkit_epoch_order(SENTENCES, SEED, 1)[:BATCH]
    model = AutoModelForTokenClassification.from_pretrained(start)
    arguments = TrainingArguments(output_dir=str(tmp_path / "trainer"), max_steps=STEPS, learning_rate=5e-5,
                                  per_device_train_batch_size=BATCH, weight_decay=0.01, train_sampling_strategy="sequential",
                                  save_strategy="no", logging_steps=1, report_to=[], use_cpu=True, disable_tqdm=True, seed=SEED)
    exact = ExactGradientNorm(model)
    trainer = Trainer(model=model, args=arguments, train_dataset=[features[i] for i in order],
                      data_collator=DataCollatorForTokenClassification(tokenizer), callbacks=[exact])
    trainer.train()
    assert_same_steps(bertkit_steps(tmp_path / "bertkit"), trainer_steps(trainer), exact.norms, STEPS)

    # The export loads as a BertForTokenClassification with the Trainer's weights (logits of unseen sentences).
    model.eval()
    exported, info = AutoModelForTokenClassification.from_pretrained(tmp_path / "bertkit", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    assert exported.config.architectures == ["BertForTokenClassification"]
    assert exported.config.id2label == dict(enumerate(labels)) and exported.config.label2id == label_to_id
    ours, mask = token_logits(exported.eval(), tokenizer, probes)
    theirs, _ = token_logits(model, tokenizer, probes)
    worst = ((ours - theirs).abs() * mask[..., None]).max().item()
    assert worst <= 1e-5, worst
    assert ((theirs - token_logits(AutoModelForTokenClassification.from_pretrained(start).eval(), tokenizer, probes)[0]).abs()
            * mask[..., None]).max().item() > 1e-3, "five steps changed nothing"

    # bertkit's own inference on the export: the pipeline's tokens, offsets and scores from the Trainer's model.
    texts = [" ".join(row[0] for row in rows) for rows in probes]
    result = bertkit("predict", "--model", tmp_path / "bertkit", "--json", "--aggregation", "none", "--ignore-labels", "",
                     "--threads", "2", "--", *texts)
    predicted = [p["entities"] for p in json.loads(result.stdout)["predictions"]]
    tagger = pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="none", device="cpu")
    for text, ours, theirs in zip(texts, predicted, tagger(texts, ignore_labels=[])):
        assert [(e["entity"], e["index"], e["word"], e["start"], e["end"]) for e in ours] == \
               [(e["entity"], e["index"], e["word"], e["start"], e["end"]) for e in theirs], text
        assert max(abs(a["score"] - float(b["score"])) for a, b in zip(ours, theirs)) <= 1e-5, text
