"""Masked-LM adaptation (issue 14) against the reference stack, given the same masks: `bertkit finetune --task
masked-lm` and transformers' Trainer train all-MiniLM-L6-v2 as a BertForMaskedLM (the head transformers initialised,
dropout off) on the same run_mlm.py blocks of real movie-review text, in the same order, with the same masked tokens,
and log the same loss and gradient norm at every step; the export loads in AutoModelForMaskedLM with the Trainer's
logits and a tied decoder; `bertkit evaluate` gives the Trainer's eval loss on the same fixed evaluation masks.

The masks are bertkit's (random streams of its own, Sources/Tasks/MaskedLM/MaskedLMTask.swift `TokenMasking`),
recomputed here and handed to the Trainer already masked, as the epoch order is (trainer_parity.py). That the
masking itself follows DataCollatorForLanguageModeling's rates is shown separately, over many draws
(Tests/TasksTests/MaskedLMTests.swift); here it must only be the same on both sides, so step 1 fails if it is not."""
import csv
import json
import math
import os
import random
import struct

import pytest
import torch

from trainer_parity import MASK64, ExactGradientNorm, Stream, assert_same_steps, bertkit_epoch_order, bertkit_steps, trainer_steps

CACHE = os.environ.get("BERTKIT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "bertkit"))
MINILM = os.path.join(CACHE, "models", "all-MiniLM-L6-v2")
REVIEWS = os.path.join(CACHE, "data", "movie-reviews", "train.csv")
SEED, BATCH, BLOCK, TRAIN_BLOCKS, EVAL_BLOCKS, STEPS, PROBABILITY = 1, 8, 64, 24, 10, 5, 0.15
MASKED_TOKENS = 6  # SeedStream.maskedTokens


def minilm_or_skip():
    missing = [p for p in [os.path.join(MINILM, "model.safetensors"), REVIEWS] if not os.path.exists(p)]
    if missing:
        pytest.skip(f"all-MiniLM-L6-v2 / movie reviews not in the cache ({', '.join(missing)}): run Tools/fetch")


def bertkit_masks(ids, special, feature, epoch, mask_id, vocabulary):
    """TokenMasking.mask without whole-word masking: epoch is 1 + the training epoch, 0 for evaluation."""
    random_stream = Stream(SEED, MASKED_TOKENS, ((epoch << 32) | feature) & MASK64)
    probability = struct.unpack("f", struct.pack("f", PROBABILITY))[0]   # a Float widened to Double
    chosen = [not special[t] and random_stream.next_uniform() < probability for t in range(len(ids))]
    masked, labels = list(ids), [-100] * len(ids)
    for t in range(len(ids)):
        if chosen[t]:
            labels[t] = ids[t]
            u = random_stream.next_uniform()
            if u < 0.8:
                masked[t] = mask_id
            elif u < 0.9:
                masked[t] = random_stream.next_uint64() % vocabulary
    return masked, labels


def blocks_of(tokenizer, lines):
    """run_mlm.py's tokenize_function + group_texts (one map batch: fewer than 1,000 lines) with the special tokens
    bertkit never masks (the collator's special_tokens_mask, and every special id)."""
    encoded = tokenizer(lines, return_special_tokens_mask=True)
    ids = [i for row in encoded["input_ids"] for i in row]
    special = [bool(m) or i in tokenizer.all_special_ids
               for row, mask in zip(encoded["input_ids"], encoded["special_tokens_mask"]) for i, m in zip(row, mask)]
    total = len(ids) // BLOCK * BLOCK
    return [(ids[s:s + BLOCK], special[s:s + BLOCK]) for s in range(0, total, BLOCK)]


def lines_for(tokenizer, pool, blocks):
    """The first lines of `pool` that make exactly `blocks` blocks (the last line's tail is the dropped remainder)."""
    lines, count = [], 0
    for line in pool:
        lines.append(line)
        count += len(tokenizer(line)["input_ids"])
        if count // BLOCK == blocks:
            return lines
    raise AssertionError("not enough text")


def features(tokenizer, blocks, epoch_of_block):
    out = []
    for feature, (ids, special) in enumerate(blocks):
        masked, labels = bertkit_masks(ids, special, feature, epoch_of_block(feature), tokenizer.mask_token_id, len(tokenizer))
        out.append({"input_ids": masked, "attention_mask": [1] * BLOCK, "token_type_ids": [0] * BLOCK, "labels": labels})
    return out


def test_masked_lm_steps_on_minilm_equal_transformers_trainer(bertkit, tmp_path):
    """24 blocks of 64 tokens, batch 8, lr 5e-5 with the linear schedule over 5 steps, weight decay 0.01, clipping at
    1.0: steps 1-3 are bertkit's first epoch, steps 4-5 its second, reshuffled and masked afresh."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer, BertConfig, Trainer, TrainingArguments, default_data_collator
    minilm_or_skip()
    tokenizer = AutoTokenizer.from_pretrained(MINILM)
    with open(REVIEWS, encoding="utf-8", newline="") as f:
        pool = [row["text"] for row in csv.DictReader(f)]
    random.Random(5).shuffle(pool)
    train_lines = lines_for(tokenizer, pool[:400], TRAIN_BLOCKS)
    eval_lines = lines_for(tokenizer, pool[400:800], EVAL_BLOCKS)
    (tmp_path / "train.txt").write_text("\n".join(train_lines) + "\n", encoding="utf-8")
    (tmp_path / "eval.txt").write_text("\n".join(eval_lines) + "\n", encoding="utf-8")
    train_blocks, eval_blocks = blocks_of(tokenizer, train_lines), blocks_of(tokenizer, eval_lines)
    assert len(train_blocks) == TRAIN_BLOCKS and len(eval_blocks) == EVAL_BLOCKS

    # MiniLM has no MLM head: transformers initialises one (seeded), and both stacks start from that file.
    torch.manual_seed(0)
    config = BertConfig.from_pretrained(MINILM, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    start = tmp_path / "start"
    AutoModelForMaskedLM.from_pretrained(MINILM, config=config).save_pretrained(start)
    tokenizer.save_pretrained(start)

    bertkit("finetune", "--task", "masked-lm", "--model", start, "--train", tmp_path / "train.txt", "--output", tmp_path / "bertkit",
            "--max-steps", STEPS, "--batch-size", BATCH, "--lr", "5e-5", "--weight-decay", "0.01", "--seed", SEED,
            "--max-length", BLOCK, "--logging-steps", "1", "--save-every", "never", "--threads", "2")

    epochs = [bertkit_epoch_order(TRAIN_BLOCKS, SEED, 0), bertkit_epoch_order(TRAIN_BLOCKS, SEED, 1)]
    order = [(0, i) for i in epochs[0]] + [(1, i) for i in epochs[1][:(STEPS * BATCH - TRAIN_BLOCKS)]]
    by_epoch = [features(tokenizer, train_blocks, lambda _: epoch + 1) for epoch in (0, 1)]
    model = AutoModelForMaskedLM.from_pretrained(start)
    arguments = TrainingArguments(output_dir=str(tmp_path / "trainer"), max_steps=STEPS, learning_rate=5e-5,
                                  per_device_train_batch_size=BATCH, per_device_eval_batch_size=BATCH, weight_decay=0.01,
                                  train_sampling_strategy="sequential", save_strategy="no", logging_steps=1, report_to=[],
                                  use_cpu=True, disable_tqdm=True, seed=SEED)
    exact = ExactGradientNorm(model)
    trainer = Trainer(model=model, args=arguments, train_dataset=[by_epoch[e][i] for e, i in order],
                      data_collator=default_data_collator, callbacks=[exact])
    trainer.train()
    assert_same_steps(bertkit_steps(tmp_path / "bertkit"), trainer_steps(trainer), exact.norms, STEPS, relative_loss=True)

    # The export: a BertForMaskedLM with its decoder tied to the word embeddings, and the Trainer's weights.
    model.eval()
    exported, info = AutoModelForMaskedLM.from_pretrained(tmp_path / "bertkit", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    assert exported.config.architectures == ["BertForMaskedLM"]
    assert exported.cls.predictions.decoder.weight.data_ptr() == exported.bert.embeddings.word_embeddings.weight.data_ptr()
    probe = {k: torch.tensor([f[k] for f in features(tokenizer, eval_blocks, lambda _: 0)][:4]) for k in
             ("input_ids", "attention_mask", "token_type_ids")}
    with torch.no_grad():
        ours, theirs = exported.eval()(**probe).logits, model(**probe).logits
        untrained = AutoModelForMaskedLM.from_pretrained(start).eval()(**probe).logits
    assert (ours - theirs).abs().max().item() <= 1e-4
    assert (theirs - untrained).abs().max().item() > 1e-2, "five steps changed nothing"

    # Evaluation on one fixed set of masks (epoch 0): bertkit evaluate's loss is the Trainer's eval_loss, its
    # accuracy the share of masked tokens predicted right, its perplexity exp(loss).
    eval_features = features(tokenizer, eval_blocks, lambda _: 0)
    reference = trainer.evaluate(eval_dataset=eval_features)
    report = json.loads(bertkit("evaluate", "--model", tmp_path / "bertkit", "--data", tmp_path / "eval.txt", "--batch-size", BATCH,
                                "--max-length", BLOCK, "--seed", SEED, "--json", "--threads", "2").stdout)
    labels = torch.tensor([f["labels"] for f in eval_features])
    with torch.no_grad():
        predicted = model(**{k: torch.tensor([f[k] for f in eval_features]) for k in ("input_ids", "attention_mask", "token_type_ids")}
                          ).logits.argmax(-1)
    scored = labels != -100
    assert report["n"] == EVAL_BLOCKS
    assert abs(report["loss"] - reference["eval_loss"]) <= 1e-5 * max(1.0, reference["eval_loss"]), (report, reference)
    assert abs(report["perplexity"] - math.exp(report["loss"])) <= 1e-9 * report["perplexity"]
    assert report["accuracy"] == pytest.approx((predicted[scored] == labels[scored]).double().mean().item(), abs=1e-12)


def test_masked_lm_lora_adapter_loads_in_peft_with_bertkit_outputs(bertkit, tmp_path):
    """LoRA for this task: on a model with an MLM head (the tiny fixture) bertkit trains only the adapters, as PEFT
    does for a masked-LM model; the adapter loads in PEFT over AutoModelForMaskedLM with bertkit's logits."""
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForMaskedLM
    from test_tasks_interop import SENTENCES, check_parity
    from conftest import fixture_path
    tiny = fixture_path("bert", "tiny-mlm")
    (tmp_path / "corpus.txt").write_text("\n".join(SENTENCES * 12) + "\n", encoding="utf-8")
    adapter = tmp_path / "lora"
    bertkit("finetune", "--task", "masked-lm", "--model", tiny, "--train", tmp_path / "corpus.txt", "--output", adapter, "--epochs", "2",
            "--lr", "5e-3", "--batch-size", "4", "--max-length", "16", "--lora-r", "4", "--lora-alpha", "8", "--save-every", "never",
            "--threads", "1")
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["task_type"] == "FEATURE_EXTRACTION" and not config.get("modules_to_save"), config
    saved = load_file(adapter / "adapter_model.safetensors")
    assert saved and all("lora_" in k for k in saved), sorted(saved)
    assert any(saved[k].abs().max() > 0 for k in saved if "lora_B" in k), "LoRA B still zero: nothing trained"
    peft_model = PeftModel.from_pretrained(AutoModelForMaskedLM.from_pretrained(tiny), adapter).eval()
    outputs = check_parity(bertkit, peft_model.base_model.model, "masked-lm", "masked-lm", tmp_path, "--model", tiny, "--adapter", adapter)
    with peft_model.disable_adapter(), torch.no_grad():
        from transformers import AutoTokenizer
        enc = AutoTokenizer.from_pretrained(tiny)(SENTENCES, padding=True, return_tensors="pt")
        without = peft_model(**enc).logits
    assert (without - outputs["logits"]).abs().max() > 1e-4
