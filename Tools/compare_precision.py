"""Does bf16 mixed precision fine-tune as well as fp32? The demo's two fine-tuning recipes (Tools/demo steps 4 and 7:
sentiment on 1,500 sampled movie-review sentences, 3 epochs, lr 2e-5, batch 16, max length 64; named entities on
1,500 sampled CoNLL-2003 sentences, 3 epochs, lr 5e-5, max length 128), each run with `--precision fp32` and
`--precision bf16` over several seeds, then evaluated on the held-out test split (in fp32, as the exported model is
used). Prints one JSON line per run, then a table per task: each seed's metric in both precisions, their means and
standard deviations, and the mean of the per-seed differences.

    Tools/python Tools/compare_precision.py [--seeds 1 2 3] [--tasks sentiment ner] [--bertkit .build/release/bertkit]

Needs Tools/fetch (the model and both data sets)."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("BERTKIT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "bertkit"))
MINILM = os.path.join(CACHE, "models", "all-MiniLM-L6-v2")
REVIEWS = os.path.join(CACHE, "data", "movie-reviews")
CONLL = os.path.join(CACHE, "data", "conll2003")

# The demo's recipes (Tools/demo), without checkpoints; the metric each is judged by on the test split.
TASKS = {
    "sentiment": {
        "finetune": ["--train", f"{REVIEWS}/train.csv", "--eval", f"{REVIEWS}/validation.csv", "--max-train-examples", "1500",
                     "--epochs", "3", "--lr", "2e-5", "--batch-size", "16", "--weight-decay", "0.01", "--max-length", "64",
                     "--eval-every", "epoch", "--save-every", "never", "--logging-steps", "50"],
        "test": f"{REVIEWS}/test.csv", "metric": "accuracy"},
    "ner": {
        "finetune": ["--task", "token-classification", "--train", f"{CONLL}/train.txt", "--eval", f"{CONLL}/valid.txt",
                     "--max-train-examples", "1500", "--max-eval-examples", "500", "--epochs", "3", "--lr", "5e-5",
                     "--batch-size", "16", "--weight-decay", "0", "--max-length", "128", "--save-every", "never",
                     "--metric", "f1", "--logging-steps", "50"],
        "test": f"{CONLL}/test.txt", "metric": "f1"},
}


def run(bertkit, task, precision, seed, folder):
    recipe = TASKS[task]
    output = os.path.join(folder, f"{task}-{precision}-{seed}")
    start = time.perf_counter()
    subprocess.run([bertkit, "finetune", "--model", MINILM, "--output", output, "--seed", str(seed), "--precision", precision,
                    *recipe["finetune"]], check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    evaluation = json.loads(subprocess.run([bertkit, "evaluate", "--model", output, "--data", recipe["test"], "--json"],
                                           check=True, capture_output=True, text=True).stdout)
    return {"task": task, "precision": precision, "seed": seed, recipe["metric"]: evaluation[recipe["metric"]],
            "finetune_seconds": round(seconds, 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--bertkit", default=os.path.join(ROOT, ".build", "release", "bertkit"))
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for task in args.tasks:
            for seed in args.seeds:
                for precision in ("fp32", "bf16"):
                    results.append(run(args.bertkit, task, precision, seed, folder))
                    print(json.dumps(results[-1]), flush=True)
    for task in args.tasks:
        metric = TASKS[task]["metric"]
        value = {(r["precision"], r["seed"]): r[metric] for r in results if r["task"] == task}
        seconds = {p: statistics.mean(r["finetune_seconds"] for r in results if r["task"] == task and r["precision"] == p)
                   for p in ("fp32", "bf16")}
        print(f"\n## {task}: test {metric} per seed")
        print(f"{'seed':>6} {'fp32':>8} {'bf16':>8} {'bf16 - fp32':>12}")
        for seed in args.seeds:
            fp32, bf16 = value[("fp32", seed)], value[("bf16", seed)]
            print(f"{seed:>6} {fp32:>8.4f} {bf16:>8.4f} {bf16 - fp32:>+12.4f}")
        for precision in ("fp32", "bf16"):
            values = [value[(precision, s)] for s in args.seeds]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            print(f"{precision}: mean {statistics.mean(values):.4f}, standard deviation over seeds {spread:.4f}, "
                  f"fine-tuning {seconds[precision]:.1f} s")
        differences = [value[("bf16", s)] - value[("fp32", s)] for s in args.seeds]
        print(f"mean difference bf16 - fp32: {statistics.mean(differences):+.4f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
