"""RoBERTa's entity tagging and question answering (issue 22) against the reference stack, step for step, on a tiny
RoBERTa made here by transformers with GPT-2's real byte-level BPE vocabulary (test_family_interop.py's layout):

* `bertkit finetune --task token-classification` and transformers' Trainer with run_ner.py's tokenize_and_align_labels
  (Tools/reference_ner.py) on the tokenizer loaded `add_prefix_space=True`, as run_ner.py loads it for RoBERTa, take the
  same steps (loss and gradient norm) on real CoNLL-2003 sentences; the export's tokenizer is saved as run_ner.py saves
  it (add_prefix_space); `bertkit predict` on the export gives the token-classification pipeline's entities (the BPE fallback for subwords, the byte-level decoder for words).
* `bertkit finetune --task question-answering` and the Trainer with run_qa.py's prepare_train_features
  (Tools/reference_qa.py) take the same steps over overflowing windows; `bertkit evaluate` on dev-v2.0.json gives
  run_qa.py's predictions (offsets trimmed as RobertaProcessing trims them, `<s>` as the null answer).

CoNLL-2003 comes from the cache at run time (Tools/fetch; research licence); without it the NER test is skipped."""
import json
import os
import sys

import pytest
import torch
import transformers
from transformers import AutoTokenizer

from conftest import ROOT, fixture_path
from test_family_interop import GPT2_VOCAB, config, roberta_tokenizer
from trainer_parity import ExactGradientNorm, assert_same_steps, bertkit_epoch_order, bertkit_steps, trainer_steps

sys.path.insert(0, os.path.join(ROOT, "Tools"))
import reference_ner as run_ner  # noqa: E402
import reference_qa  # noqa: E402

CACHE = os.environ.get("BERTKIT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "bertkit"))
CONLL = os.path.join(CACHE, "data", "conll2003")
MAX_LENGTH, BATCH, STEPS, SEED, LR = 64, 8, 5, 1, 1e-3
THREADS = ["--threads", "2"]


def start_model(folder, head, **extra):
    """A tiny RoBERTa of `head` with dropout off, saved with roberta-base's tokenizer files (GPT-2's BPE)."""
    if not os.path.exists(os.path.join(GPT2_VOCAB, "vocab.json")):
        pytest.skip("GPT-2's vocabulary is not in the cache: run Tools/python Tools/fixtures/fetch_bpe_reference.py")
    torch.manual_seed(11)
    cls = getattr(transformers, "RobertaFor" + head)
    model = cls(config("roberta", initializer_range=0.2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **extra))
    model.save_pretrained(folder)
    roberta_tokenizer(folder)
    return model


def trainer(model, rows, folder):
    from transformers import Trainer, TrainingArguments
    arguments = TrainingArguments(output_dir=str(folder), max_steps=STEPS, learning_rate=LR, per_device_train_batch_size=1,
                                  weight_decay=0.01, train_sampling_strategy="sequential", save_strategy="no", logging_steps=1,
                                  report_to=[], use_cpu=True, disable_tqdm=True, seed=SEED)
    exact = ExactGradientNorm(model)
    run = Trainer(model=model, args=arguments, train_dataset=rows, data_collator=lambda batch: batch[0], callbacks=[exact])
    run.train()
    return trainer_steps(run), exact.norms


def batches(features, collate):
    """bertkit's first STEPS micro-batches (its shuffle recomputed), each padded to its longest row as bertkit pads."""
    out, epoch = [], 0
    while len(out) < STEPS:
        order = bertkit_epoch_order(len(features), SEED, epoch)
        out += [dict(collate([features[i] for i in order[k:k + BATCH]])) for k in range(0, len(features), BATCH)]
        epoch += 1
    return out[:STEPS]


def test_roberta_token_classification_steps_and_pipeline(bertkit, tmp_path):
    from transformers import DataCollatorForTokenClassification, pipeline
    if not os.path.exists(os.path.join(CONLL, "train.txt")):
        pytest.skip(f"CoNLL-2003 is not in the cache ({CONLL}): run Tools/fetch")
    sentences = run_ner.read_conll(os.path.join(CONLL, "train.txt"))
    labels = run_ner.get_label_list(run_ner.words_and_tags(sentences[:400])["ner_tags"])
    start = tmp_path / "start"
    start_model(start, "TokenClassification", num_labels=len(labels), id2label=dict(enumerate(labels)),
                label2id={label: i for i, label in enumerate(labels)})
    tokenizer = AutoTokenizer.from_pretrained(start, add_prefix_space=True)   # as run_ner.py loads RoBERTa's
    fitting = [s for s in sentences[:400] if len(s) >= 4
               and len(tokenizer([r[0] for r in s], is_split_into_words=True)["input_ids"]) <= MAX_LENGTH]
    train, probes = fitting[:36], fitting[36:44]
    assert run_ner.get_label_list(run_ner.words_and_tags(train)["ner_tags"]) == labels, "every label in the training set"

    train_file = run_ner.write_conll(tmp_path / "train.conll", train)
    bertkit("finetune", "--task", "token-classification", "--model", start, "--train", train_file, "--output", tmp_path / "out",
            "--max-steps", STEPS, "--batch-size", BATCH, "--lr", LR, "--weight-decay", "0.01", "--seed", SEED,
            "--max-length", MAX_LENGTH, "--logging-steps", "1", "--save-every", "never", *THREADS)
    label_to_id = {label: i for i, label in enumerate(labels)}
    features = run_ner.as_features(run_ner.tokenize_and_align_labels(tokenizer, run_ner.words_and_tags(train), label_to_id,
                                                                     MAX_LENGTH))
    assert "token_type_ids" not in features[0]
    model = transformers.AutoModelForTokenClassification.from_pretrained(start)
    expected, norms = trainer(model, batches(features, DataCollatorForTokenClassification(tokenizer)), tmp_path / "t")
    assert_same_steps(bertkit_steps(tmp_path / "out"), expected, norms, STEPS)

    # The export's tokenizer is saved as run_ner.py saves RoBERTa's (loaded add_prefix_space=True).
    saved, expected_tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out"), tokenizer
    assert saved.add_prefix_space and saved("Paris")["input_ids"] == expected_tokenizer("Paris")["input_ids"]
    assert saved("Paris")["input_ids"] != AutoTokenizer.from_pretrained(start)("Paris")["input_ids"]
    # The export tags raw text as the pipeline does with the Trainer's model and the export's own tokenizer.
    model.eval()
    exported = transformers.AutoModelForTokenClassification.from_pretrained(tmp_path / "out").eval()
    assert type(exported) is transformers.RobertaForTokenClassification
    texts = [" ".join(row[0] for row in rows) for rows in probes] + ["  Paris, (France)'s  capital;Berlin's -- naïve café 😀"]
    raw = AutoTokenizer.from_pretrained(tmp_path / "out")
    for strategy in ("none", "simple", "first", "average", "max"):
        result = bertkit("predict", "--model", tmp_path / "out", "--json", "--aggregation", strategy, "--ignore-labels", "",
                         *THREADS, "--", *texts)
        ours = [p["entities"] for p in json.loads(result.stdout)["predictions"]]
        tagger = pipeline("token-classification", model=model, tokenizer=raw, aggregation_strategy=strategy, device="cpu")
        key = "entity" if strategy == "none" else "entity_group"
        for text, mine, theirs in zip(texts, ours, tagger(texts, ignore_labels=[])):
            assert [(e[key], e["word"], e["start"], e["end"]) for e in mine] == \
                   [(e[key], e["word"], e["start"], e["end"]) for e in theirs], (strategy, text)
            assert max(abs(a["score"] - float(b["score"])) for a, b in zip(mine, theirs)) <= 1e-4, (strategy, text)


def test_roberta_question_answering_steps_and_evaluation(bertkit, tmp_path):
    from transformers import DataCollatorWithPadding
    stride, train_file, dev = 16, fixture_path("qa", "samples", "sample.json"), fixture_path("qa", "samples", "dev-v2.0.json")
    start = tmp_path / "start"
    start_model(start, "QuestionAnswering")
    tokenizer = AutoTokenizer.from_pretrained(start)
    bertkit("finetune", "--task", "question-answering", "--model", start, "--train", train_file, "--output", tmp_path / "out",
            "--max-length", MAX_LENGTH, "--doc-stride", stride, "--max-steps", STEPS, "--batch-size", BATCH, "--lr", LR,
            "--weight-decay", "0.01", "--seed", SEED, "--logging-steps", "1", "--save-every", "never", *THREADS)
    features = reference_qa.train_features(tokenizer, reference_qa.read_records(train_file), MAX_LENGTH, stride)
    assert len(features) > 2 * len(reference_qa.read_records(train_file)), "contexts overflow into several windows"
    assert sum(f["start_positions"] != 0 for f in features) >= 8, "windows that hold their answer"
    model = transformers.AutoModelForQuestionAnswering.from_pretrained(start)
    expected, norms = trainer(model, batches(features, DataCollatorWithPadding(tokenizer)), tmp_path / "t")
    assert_same_steps(bertkit_steps(tmp_path / "out"), expected, norms, STEPS)

    out = tmp_path / "evaluation"
    bertkit("evaluate", "--model", tmp_path / "out", "--data", dev, "--version-two-with-negative", "--max-length", MAX_LENGTH,
            "--doc-stride", stride, "--json", "--output", out, *THREADS)
    predictions = json.loads((out / "predictions.json").read_text(encoding="utf-8"))
    nbest = json.loads((out / "nbest_predictions.json").read_text(encoding="utf-8"))
    exported = transformers.AutoModelForQuestionAnswering.from_pretrained(tmp_path / "out").eval()
    reference = reference_qa.evaluate_model(exported, tokenizer, reference_qa.read_records(dev), MAX_LENGTH, stride,
                                            version_2_with_negative=True)
    assert list(predictions.items()) == list(reference["predictions"].items())
    for qid, entries in reference["nbest"].items():
        assert [e["text"] for e in nbest[qid]] == [e["text"] for e in entries], qid
        assert all(abs(a["start_logit"] - b["start_logit"]) <= 1e-4 for a, b in zip(nbest[qid], entries)), qid
