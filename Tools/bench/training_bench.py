"""Training steps on bert-base-uncased shapes (random weights, batch 16 × 128, a sequence-classification
head with 2 labels, dropout on as in training): one step is forward + loss + backward + gradient clipping
at 1.0 + AdamW (lr 2e-5, weight decay 0.01 off biases and LayerNorm weights). bertkit
(`bertkit benchmark train-step`) against PyTorch's `BertForSequenceClassification` with torch.optim.AdamW,
and a LoRA step (r 8, alpha 8, query/value, the classifier trained in full) against full fine-tuning and
against PEFT's `get_peft_model(LoraConfig(r=8, target_modules=["query", "value"]))`; and bf16 mixed precision
(`--precision bf16`) against PyTorch's under `torch.autocast("cpu", dtype=torch.bfloat16)`. Each process loads
the model, runs one warm-up step and BENCH_ITERATIONS timed steps (median); each job runs BENCH_REPEATS
processes, interleaved, and the process with the median step time is reported with its peak RSS (wait4:
the whole process, imports and the loaded checkpoint included)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import THREADS, bertkit_json_job, python_job
from bert_bench import H, I, LAYERS, interleaved, model_dir

REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
ITERATIONS = int(os.environ.get("BENCH_ITERATIONS", "3"))
BATCH, SEQUENCE, RANK = 16, 128, 8

TORCH_STEP = """
import json, sys, time
import torch
from transformers import BertForSequenceClassification
torch.set_num_threads(int(sys.argv[1]))
path, batch, sequence, iterations, rank = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
autocast = sys.argv[7] == "bf16"
start = time.perf_counter()
model = BertForSequenceClassification.from_pretrained(path, num_labels=2)
if rank > 0:
    from peft import LoraConfig, get_peft_model
    model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=rank, lora_alpha=rank, lora_dropout=0.0,
                                             target_modules=["query", "value"]))
model.train()
load = time.perf_counter() - start
# The Trainer's groups: no weight decay on biases and LayerNorm weights.
named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
no_decay = lambda n: "bias" in n or "LayerNorm" in n
optimizer = torch.optim.AdamW([
    {"params": [p for n, p in named if not no_decay(n)], "weight_decay": 0.01},
    {"params": [p for n, p in named if no_decay(n)], "weight_decay": 0.0}], lr=2e-5)
generator = torch.Generator().manual_seed(1)
ids = torch.randint(0, 30522, (batch, sequence), generator=generator)
mask = torch.ones_like(ids)
labels = torch.randint(0, 2, (batch,), generator=generator)
params = [p for _, p in named]

def step():
    optimizer.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()

step()
times = []
for _ in range(iterations):
    start = time.perf_counter()
    step()
    times.append(time.perf_counter() - start)
print(json.dumps({"load_seconds": load, "seconds": sorted(times)[len(times) // 2], "times": times,
                  "trainable": sum(p.numel() for p in params)}))
"""


def step_flops(lora):
    """Matrix products of one step: the forward, and twice it for the backward (input and weight
    gradients); with frozen base weights the weight-gradient products are skipped (LoRA's own are tiny)."""
    rows = BATCH * SEQUENCE
    forward = LAYERS * (2 * rows * (4 * H * H + 2 * H * I) + 4 * BATCH * SEQUENCE * SEQUENCE * H)
    return 2 * forward if lora else 3 * forward


def main():
    directory = model_dir()
    args = ("benchmark", "train-step", "--model", directory, "--batch", BATCH, "--sequence", SEQUENCE,
            "--iterations", ITERATIONS, "--threads", THREADS)
    result = interleaved({
        "bertkit": lambda: bertkit_json_job(*args),
        "torch": lambda: python_job(TORCH_STEP, THREADS, directory, BATCH, SEQUENCE, ITERATIONS, 0, "fp32"),
        "bertkit_bf16": lambda: bertkit_json_job(*args, "--precision", "bf16"),
        "torch_bf16": lambda: python_job(TORCH_STEP, THREADS, directory, BATCH, SEQUENCE, ITERATIONS, 0, "bf16"),
        "bertkit_lora": lambda: bertkit_json_job(*args, "--lora-r", RANK),
        "peft": lambda: python_job(TORCH_STEP, THREADS, directory, BATCH, SEQUENCE, ITERATIONS, RANK, "fp32"),
    }, repeats=REPEATS)

    print(f"\n## Training step, bert-base-uncased shapes, batch {BATCH} × {SEQUENCE}  "
          f"(threads {THREADS}, median process of {REPEATS}, median of {ITERATIONS} steps per process)")
    print(f"{'task':<30} {'step s':>8} {'GFLOP/s':>8} {'peak MB':>8} {'speed vs ref':>13} {'RSS vs ref':>11}  reference")
    rows = [("bertkit full fine-tuning", "bertkit", "torch", False, "PyTorch + torch AdamW"),
            ("PyTorch full fine-tuning", "torch", "torch", False, ""),
            ("bertkit bf16 full", "bertkit_bf16", "torch", False, "PyTorch fp32 + torch AdamW"),
            ("bertkit bf16 full", "bertkit_bf16", "torch_bf16", False, "PyTorch bf16 autocast"),
            ("PyTorch bf16 autocast", "torch_bf16", "torch", False, "PyTorch fp32"),
            ("bertkit bf16 vs bertkit fp32", "bertkit_bf16", "bertkit", False, "bertkit fp32"),
            (f"bertkit LoRA r{RANK} q,v", "bertkit_lora", "peft", True, "PEFT on PyTorch"),
            (f"PEFT LoRA r{RANK} q,v", "peft", "peft", True, ""),
            (f"bertkit LoRA vs bertkit full", "bertkit_lora", "bertkit", True, "bertkit full fine-tuning")]
    for label, name, reference, lora, reference_name in rows:
        run, ref = result[name], result[reference]
        rate = step_flops(lora) / run["seconds"] / 1e9
        print(f"{label:<30} {run['seconds']:>8.3f} {rate:>8.1f} {run['rss_mb']:>8.0f} "
              f"{ref['seconds'] / run['seconds']:>12.2f}x {run['rss_mb'] / ref['rss_mb']:>10.2f}x  {reference_name}")
    print(json.dumps({name: {"seconds": run["seconds"], "rss_mb": run["rss_mb"], "load_seconds": run.get("load_seconds")}
                      for name, run in result.items()}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
