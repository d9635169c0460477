"""Fine-tuning on real text: all-MiniLM-L6-v2 on the demo's movie-review sentences (the first N of train.csv, max length
64, batch 16, one epoch, AdamW 2e-5, clipping at 1.0, dropout on), each batch padded to its longest sentence (dynamic
padding). bertkit's `finetune` with padding-free batches (the default), also in bf16 mixed precision (`--precision bf16`),
and with `--pad-batches`, against a PyTorch loop
over the same sentences in the same order of batches with BertForSequenceClassification and torch.optim.AdamW in fp32,
and under `torch.autocast("cpu", dtype=torch.bfloat16)` (transformers' bf16 mixed precision on CPU). Timed: the training
loop: PyTorch's loop alone (imports, loading and tokenizer set-up excluded); bertkit's whole process (loading, tokenizing
and the export included, so the ratio understates bertkit).
Environment: BENCH_REPEATS (3), BENCH_SENTENCES (1500), BENCH_THREADS (2)."""
import csv
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import CACHE, THREADS, bertkit_job, python_job
from bert_bench import interleaved

REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
SENTENCES = int(os.environ.get("BENCH_SENTENCES", "1500"))
MODEL = os.path.join(CACHE, "models", "all-MiniLM-L6-v2")
REVIEWS = os.path.join(CACHE, "data", "movie-reviews", "train.csv")

TORCH_LOOP = """
import csv, json, random, sys, time
import torch
from transformers import AutoTokenizer, BertForSequenceClassification
torch.set_num_threads(int(sys.argv[1]))
model_path, data, autocast = sys.argv[2], sys.argv[3], sys.argv[4] == "bf16"
rows = list(csv.DictReader(open(data, newline="")))
labels = sorted({r["label"] for r in rows})
tokenizer = AutoTokenizer.from_pretrained(model_path)
model = BertForSequenceClassification.from_pretrained(model_path, num_labels=len(labels))
model.train()
named = [(n, p) for n, p in model.named_parameters()]
no_decay = lambda n: "bias" in n or "LayerNorm" in n
optimizer = torch.optim.AdamW([
    {"params": [p for n, p in named if not no_decay(n)], "weight_decay": 0.01},
    {"params": [p for n, p in named if no_decay(n)], "weight_decay": 0.0}], lr=2e-5)
order = list(range(len(rows)))
random.Random(42).shuffle(order)
batches = [order[i:i + 16] for i in range(0, len(order), 16)]
start = time.perf_counter()
tokens = 0
for batch in batches:
    encoded = tokenizer([rows[i]["text"] for i in batch], padding=True, truncation=True, max_length=64, return_tensors="pt")
    tokens += int(encoded["attention_mask"].sum())
    target = torch.tensor([labels.index(rows[i]["label"]) for i in batch])
    optimizer.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        loss = model(**encoded, labels=target).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
print(json.dumps({"seconds": time.perf_counter() - start, "steps": len(batches), "tokens": tokens}))
"""


def sentences_file(folder):
    with open(REVIEWS, newline="") as f:
        rows = list(csv.DictReader(f))[:SENTENCES]
    path = os.path.join(folder, "train.csv")
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def bertkit_finetune(data, output, *extra):
    run = bertkit_job("finetune", "--model", MODEL, "--train", data, "--output", output, "--epochs", 1, "--lr", "2e-5",
                      "--batch-size", 16, "--max-length", 64, "--save-every", "never", "--seed", 42, "--threads", THREADS, *extra)
    log = [json.loads(line) for line in open(os.path.join(output, "training_log.jsonl"))]
    return {"seconds": run["seconds"], "rss_mb": run["rss_mb"], "steps": log[-1]["step"] if log else 0}


def main():
    with tempfile.TemporaryDirectory() as folder:
        data = sentences_file(folder)
        result = interleaved({
            "bertkit packed": lambda: bertkit_finetune(data, os.path.join(folder, "packed")),
            "bertkit packed bf16": lambda: bertkit_finetune(data, os.path.join(folder, "bf16"), "--precision", "bf16"),
            "bertkit padded": lambda: bertkit_finetune(data, os.path.join(folder, "padded"), "--pad-batches"),
            "PyTorch fp32": lambda: python_job(TORCH_LOOP, THREADS, MODEL, data, "fp32"),
            "PyTorch bf16 autocast": lambda: python_job(TORCH_LOOP, THREADS, MODEL, data, "bf16"),
        }, repeats=REPEATS)
    print(f"\n## Fine-tuning on real text: all-MiniLM-L6-v2, {SENTENCES} movie-review sentences, batch 16, max length 64, "
          f"one epoch (threads {THREADS}, median of {REPEATS})")
    print(f"{'run':<24} {'seconds':>8} {'peak MB':>8} {'vs PyTorch fp32':>16} {'vs PyTorch bf16':>16}")
    for name, run in result.items():
        print(f"{name:<24} {run['seconds']:>8.1f} {run['rss_mb']:>8.0f} {result['PyTorch fp32']['seconds'] / run['seconds']:>15.2f}x "
              f"{result['PyTorch bf16 autocast']['seconds'] / run['seconds']:>15.2f}x")
    print(json.dumps({name: {k: run.get(k) for k in ("seconds", "rss_mb")} for name, run in result.items()}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
