"""Masked-LM domain adaptation with transformers' Trainer the way examples/pytorch/language-modeling/run_mlm.py does
(transformers 5.24.0: a text file, tokenize_function with return_special_tokens_mask, group_texts per map batch of
1,000 lines, DataCollatorForLanguageModeling; the preprocessing functions are copied verbatim below, and
Tools/fixtures/make_mlm_fixtures.py takes them from here), on the same corpus and recipe as `bertkit finetune --task masked-lm`,
and the held-out masked-LM loss of any number of models measured by transformers itself with its own collator.
Pinned stack: Tools/requirements.txt.

    Tools/python Tools/reference_mlm.py --model DIR --train corpus.txt --output DIR [--epochs 1] [--lr 5e-5]
        [--batch-size 16] [--max-length 128] [--weight-decay 0.0] [--mlm-probability 0.15] [--seed 42] [--threads 2]
    Tools/python Tools/reference_mlm.py --score DIR [DIR ...] --heldout heldout.txt [--max-length 128] [--draws 3]

Training prints one JSON object (steps, train loss, seconds) and saves the model to --output. Scoring groups the
held-out text into blocks as run_mlm does, masks them with the collator `--draws` times from fixed torch seeds, and
evaluates every model on the very same masked batches (the Trainer's eval_loss: a batch-size-weighted mean of batch
means; accuracy over all masked tokens); it prints one JSON object per model and draw-averaged figures.

Lines: run_mlm.py's `load_dataset("text")` keeps blank lines (each becomes [CLS] [SEP] when grouped) while bertkit
skips them (issue 14's rule), so the corpora given here should have none; Tools/compare_mlm.py writes them so."""
import argparse
import json
import math
import time
from itertools import chain


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


MAP_BATCH_SIZE = 1000   # datasets.Dataset.map(batched=True) default batch_size


# ----------------------------------------------------------------------------------------------------------------
# run_mlm.py's preprocessing. In run_mlm.py these are closures inside main(); the factory sets the names they close
# over (tokenizer, text_column_name, max_seq_length, padding) as run_mlm sets them for a .txt file.
# ----------------------------------------------------------------------------------------------------------------
def run_mlm_functions(tokenizer, max_seq_length, pad_to_max_length=False):
    text_column_name = "text"   # the text builder's only column
    padding = "max_length" if pad_to_max_length else False

    # --- line_by_line (verbatim) ---
    def tokenize_function_line_by_line(examples):
        # Remove empty lines
        examples[text_column_name] = [
            line for line in examples[text_column_name] if len(line) > 0 and not line.isspace()
        ]
        return tokenizer(
            examples[text_column_name],
            padding=padding,
            truncation=True,
            max_length=max_seq_length,
            # We use this option because DataCollatorForLanguageModeling (see below) is more efficient when it
            # receives the `special_tokens_mask`.
            return_special_tokens_mask=True,
        )

    # --- default: concatenate and chunk (verbatim) ---
    def tokenize_function(examples):
        return tokenizer(examples[text_column_name], return_special_tokens_mask=True)

    # Main data processing function that will concatenate all texts from our dataset and generate chunks of
    # max_seq_length.
    def group_texts(examples):
        # Concatenate all texts.
        concatenated_examples = {k: list(chain(*examples[k])) for k in examples.keys()}
        total_length = len(concatenated_examples[list(examples.keys())[0]])
        # We drop the small remainder, and if the total_length < max_seq_length  we exclude this batch and return an empty dict.
        # We could add padding if the model supported it instead of this drop, you can customize this part to your needs.
        total_length = (total_length // max_seq_length) * max_seq_length
        # Split by chunks of max_len.
        result = {
            k: [t[i : i + max_seq_length] for i in range(0, total_length, max_seq_length)]
            for k, t in concatenated_examples.items()
        }
        return result

    return tokenize_function_line_by_line, tokenize_function, group_texts


def dataset_map(rows, function, remove_columns=()):
    """datasets.Dataset.map(function, batched=True, remove_columns=...) with the default batch_size 1000, one process:
    the function sees rows [0, 1000), [1000, 2000), ..., the last batch short; its outputs are concatenated.
    Also returns, per batch, (first row, rows in, rows out)."""
    out, batches = [], []
    for start in range(0, len(rows), MAP_BATCH_SIZE):
        chunk = rows[start:start + MAP_BATCH_SIZE]
        columns = {k: [r[k] for r in chunk] for k in chunk[0]}
        result = dict(function(columns))
        for k in remove_columns:
            result.pop(k, None)
        n = len(next(iter(result.values()))) if result else 0
        out += [{k: list(result[k][i]) for k in result} for i in range(n)]
        batches.append((start, len(chunk), n))
    return out, batches


def blocks(tokenizer, lines, block_size):
    """run_mlm.py's grouped dataset: tokenize_function then group_texts, each mapped in batches of 1,000 lines."""
    _, tokenize_function, group_texts = run_mlm_functions(tokenizer, block_size)
    tokenized, _ = dataset_map([{"text": line} for line in lines], tokenize_function, remove_columns=["text"])
    return dataset_map(tokenized, group_texts)[0]


def train(args):
    import torch
    from transformers import (AutoModelForMaskedLM, AutoTokenizer, DataCollatorForLanguageModeling, Trainer, TrainingArguments,
                              set_seed)
    torch.set_num_threads(args.threads)
    start = time.time()
    set_seed(args.seed)   # run_mlm.py sets the seed before it makes the model (and any new MLM head)
    tokenizer = AutoTokenizer.from_pretrained(args.model, use_fast=True)
    model = AutoModelForMaskedLM.from_pretrained(args.model)
    lines = [line for line in read_lines(args.train) if line.strip()]
    dataset = blocks(tokenizer, lines, args.max_length)
    collator = DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm_probability=args.mlm_probability)
    training_args = TrainingArguments(
        output_dir=args.output, num_train_epochs=args.epochs, learning_rate=args.lr, per_device_train_batch_size=args.batch_size,
        weight_decay=args.weight_decay, seed=args.seed, save_strategy="no", logging_strategy="no", report_to=[], use_cpu=True,
        disable_tqdm=True)
    trainer = Trainer(model=model, args=training_args, train_dataset=dataset, processing_class=tokenizer, data_collator=collator)
    train_start = time.time()
    outcome = trainer.train()
    train_seconds = time.time() - train_start
    trainer.save_model(args.output)
    print(json.dumps({"blocks": len(dataset), "lines": len(lines), "steps": outcome.global_step, "train_loss": outcome.training_loss,
                      "train_seconds": train_seconds, "seconds": time.time() - start, "seed": args.seed}))


def score(args):
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer, DataCollatorForLanguageModeling
    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(args.score[0], use_fast=True)
    held = blocks(tokenizer, [line for line in read_lines(args.heldout) if line.strip()], args.max_length)
    collator = DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm_probability=args.mlm_probability)
    draws = []
    for draw in range(args.draws):
        torch.manual_seed(1000 + draw)
        draws.append([collator([dict(b) for b in held[s:s + args.batch_size]]) for s in range(0, len(held), args.batch_size)])
    summary = {}
    for path in args.score:
        model = AutoModelForMaskedLM.from_pretrained(path).eval()
        losses, accuracies = [], []
        for batches in draws:
            weighted, correct, masked = 0.0, 0, 0
            for batch in batches:
                with torch.no_grad():
                    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                token_type_ids=batch["token_type_ids"], labels=batch["labels"])
                weighted += out.loss.item() * batch["input_ids"].shape[0]
                scored = batch["labels"] != -100
                correct += (out.logits.argmax(-1)[scored] == batch["labels"][scored]).sum().item()
                masked += scored.sum().item()
            losses.append(weighted / len(held))
            accuracies.append(correct / masked)
        loss = sum(losses) / len(losses)
        summary[path] = {"loss": loss, "perplexity": math.exp(loss), "accuracy": sum(accuracies) / len(accuracies),
                         "loss_per_draw": losses, "blocks": len(held), "draws": args.draws}
        print(json.dumps({"model": path, **summary[path]}), flush=True)
    print(json.dumps({"scores": summary}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    parser.add_argument("--train")
    parser.add_argument("--output", default="/tmp/bertkit-reference-mlm")
    parser.add_argument("--score", nargs="+", help="models to score on --heldout (no training)")
    parser.add_argument("--heldout")
    parser.add_argument("--draws", type=int, default=3, help="collator mask draws averaged when scoring")
    parser.add_argument("--epochs", type=float, default=1)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--weight-decay", type=float, default=0.0, help="TrainingArguments' default, which run_mlm keeps")
    parser.add_argument("--mlm-probability", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.score:
        if not args.heldout:
            parser.error("--score needs --heldout")
        score(args)
    elif args.model and args.train:
        train(args)
    else:
        parser.error("give --model and --train, or --score and --heldout")


if __name__ == "__main__":
    main()
