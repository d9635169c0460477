"""Fine-tune with transformers' Trainer on the same data and recipe as `bertkit finetune`, for comparing
accuracies in one run (the demo and the end-to-end test use it; pinned stack in Tools/requirements.txt).

    Tools/python Tools/reference_finetune.py --model DIR --train train.csv --eval validation.csv
        --test test.csv [--max-train-examples N] [--epochs 1] [--lr 5e-5] [--batch-size 16]
        [--max-length 64] [--weight-decay 0.01] [--seed 42] [--output DIR] [--lora-r 8 --lora-alpha 16]

Prints one JSON object: the test loss and accuracy, the validation metrics, the seconds taken.
"""
import argparse
import csv
import json
import os
import random
import sys
import time


def read(path):
    with open(path, encoding="utf-8", newline="") as f:
        return [(row["text"], row["label"]) for row in csv.DictReader(f)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--train", required=True)
    parser.add_argument("--eval", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--max-train-examples", type=int)
    parser.add_argument("--epochs", type=float, default=1)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", default="/tmp/bertkit-reference-finetune")
    parser.add_argument("--lora-r", type=int, help="train a PEFT LoRA adapter (query, value) of this rank")
    parser.add_argument("--lora-alpha", type=float, default=8)
    parser.add_argument("--lora-targets", default="query,value")
    args = parser.parse_args()

    import numpy as np
    import torch
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                              TrainingArguments, set_seed)
    torch.set_num_threads(args.threads)
    start = time.time()
    train, evaluation, test = read(args.train), read(args.eval), read(args.test)
    if args.max_train_examples and args.max_train_examples < len(train):
        train = [train[i] for i in sorted(random.Random(args.seed).sample(range(len(train)), args.max_train_examples))]
    labels = sorted({label for _, label in train})
    label2id = {name: i for i, name in enumerate(labels)}
    tokenizer = AutoTokenizer.from_pretrained(args.model)

    def dataset(rows):
        enc = tokenizer([t for t, _ in rows], truncation=True, max_length=args.max_length)
        return [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
                 "token_type_ids": enc["token_type_ids"][i], "labels": label2id[label]} for i, (_, label) in enumerate(rows)]

    # The new classifier is drawn from torch's global generator when the model is made, before the Trainer seeds
    # it: seed it here, or every run starts from another head and the reference is not reproducible.
    set_seed(args.seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        args.model, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id)

    if args.lora_r:
        from peft import LoraConfig, TaskType, get_peft_model
        model = get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=args.lora_r, lora_alpha=args.lora_alpha,
                                                 lora_dropout=0.0, target_modules=args.lora_targets.split(",")))

    def metrics(prediction):
        predicted = np.argmax(prediction.predictions, axis=-1)
        return {"accuracy": float((predicted == prediction.label_ids).mean())}

    training_args = TrainingArguments(
        output_dir=args.output, num_train_epochs=args.epochs, learning_rate=args.lr, per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=64, weight_decay=args.weight_decay, eval_strategy="epoch", save_strategy="no",
        logging_strategy="no", report_to=[], seed=args.seed, use_cpu=True, disable_tqdm=True)
    trainer = Trainer(model=model, args=training_args, train_dataset=dataset(train), eval_dataset=dataset(evaluation),
                      data_collator=DataCollatorWithPadding(tokenizer), compute_metrics=metrics)
    trainer.train()
    validation = trainer.evaluate()
    result = trainer.evaluate(dataset(test), metric_key_prefix="test")
    print(json.dumps({"test_accuracy": result["test_accuracy"], "test_loss": result["test_loss"],
                      "validation_accuracy": validation["eval_accuracy"], "validation_loss": validation["eval_loss"],
                      "train_examples": len(train), "seconds": time.time() - start, "seed": args.seed}))


if __name__ == "__main__":
    main()
