"""The question-answering recipe of issue 13 (all-MiniLM-L6-v2, 1,000 sampled questions of conll2003-qa's training
split, 2 epochs, lr 5e-5, batch 16, max length 192, doc stride 64, weight decay 0 as run_qa.py's TrainingArguments
default) run by `bertkit finetune --task question-answering` and by transformers' Trainer as run_qa.py does
(Tools/reference_qa.py, SQuAD 2.0 mode), over several seeds, both scored on the whole conll2003-qa dev split with
run_qa's post-processing and the squad_v2 metric (EM and F1, the null odds as no-answer probabilities). Each seed
draws one sample that both stacks train on, and changes the order, the new qa_outputs head and the dropout masks,
which the two stacks draw from different random streams. The bertkit export is also scored by transformers
(AutoModelForQuestionAnswering + postprocess_qa_predictions + squad_v2), which must give what `bertkit evaluate`
reports, prediction for prediction.

    Tools/python Tools/compare_qa.py [--seeds 1 2 3] [--bertkit .build/release/bertkit] [--threads 2]

Needs Tools/fetch (the model, and CoNLL-2003 turned into conll2003-qa by Tools/make_conll_qa.py; research licence: the
samples live in a temporary folder only). Prints one JSON line per run, then a table and the means. A bertkit run that
fails (e.g. a non-finite loss) is reported in the table, and transformers still runs for that seed."""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "Tools"))
import reference_qa  # noqa: E402

CACHE = os.environ.get("BERTKIT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "bertkit"))
MINILM = os.path.join(CACHE, "models", "all-MiniLM-L6-v2")
DATA = os.path.join(CACHE, "data", "conll2003-qa")
WINDOWS = ["--max-length", "192", "--doc-stride", "64"]
RECIPE = ["--epochs", "2", "--lr", "5e-5", "--batch-size", "16", *WINDOWS]
WEIGHT_DECAY = "0.0"  # TrainingArguments' default, which run_qa.py does not change
SAMPLE = 1000
SCORES = ["exact_match", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1", "best_f1", "n"]


def sampled_training_file(path, seed):
    """SAMPLE questions of the training split drawn with Python's random from `seed`, in file order: what both stacks
    train on for that seed."""
    records = reference_qa.read_records(os.path.join(DATA, "train.json"))
    return reference_qa.write_records(path, [records[i] for i in sorted(random.Random(seed).sample(range(len(records)), SAMPLE))])


def run(command, may_fail=False):
    """stdout of `command`; on failure exit with its stderr, or with `may_fail` return (None, its last error line)."""
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    if result.returncode != 0:
        if may_fail:
            return None, ([line for line in result.stderr.splitlines() if line.startswith("error:")] or ["?"])[-1]
        sys.exit(f"{' '.join(map(str, command))} failed:\n{result.stderr[-3000:]}")
    return (result.stdout, None) if may_fail else result.stdout


def last_json(output):
    return json.loads(output.strip().splitlines()[-1])


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--bertkit", default=os.path.join(ROOT, ".build", "release", "bertkit"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    dev = os.path.join(DATA, "dev.json")
    threads = ["--threads", str(args.threads)]
    reference = [sys.executable, os.path.join(ROOT, "Tools", "reference_qa.py")]
    rows = []
    begin = time.time()
    with tempfile.TemporaryDirectory() as scratch:
        for seed in args.seeds:
            train = sampled_training_file(os.path.join(scratch, f"train-{seed}.json"), seed)
            output = os.path.join(scratch, f"bertkit-{seed}")
            start = time.time()
            # A failed bertkit run (e.g. a non-finite loss) is reported in the table; transformers still runs.
            _, failure = run([args.bertkit, "finetune", "--task", "question-answering", "--model", MINILM, "--train", train,
                              "--output", output, "--seed", seed, "--weight-decay", WEIGHT_DECAY, "--save-every", "never",
                              *threads, *RECIPE], may_fail=True)
            bertkit_seconds = time.time() - start
            row = {"seed": seed, "bertkit_seconds": bertkit_seconds, "failure": failure}
            if failure:
                print(json.dumps({"stack": "bertkit", "seed": seed, "failed": failure, "seconds": round(bertkit_seconds, 1)}),
                      flush=True)
            else:
                row.update(bertkit_run(args, seed, output, dev, scratch, threads, reference, bertkit_seconds))

            outcome = last_json(run([*reference, "--model", MINILM, "--train", train, "--eval", dev, "--seed", seed,
                                     "--weight-decay", WEIGHT_DECAY, "--version-2-with-negative",
                                     "--output", os.path.join(scratch, f"transformers-{seed}"), *threads, *RECIPE]))
            print(json.dumps({"stack": "transformers", "seed": seed, **{k: outcome["eval"][k] for k in SCORES},
                              "steps": outcome["steps"], "train_features": outcome["train_features"],
                              "train_seconds": round(outcome["train_seconds"], 1), "seconds": round(outcome["seconds"], 1)}),
                  flush=True)
            row.update({"transformers_em": outcome["eval"]["exact_match"], "transformers_f1": outcome["eval"]["f1"],
                        "transformers_seconds": outcome["train_seconds"]})
            rows.append(row)
    report(rows, args.seeds, begin)


def bertkit_run(args, seed, output, dev, scratch, threads, reference, bertkit_seconds):
    """`bertkit evaluate` of a trained export, and the same export scored by transformers (prediction for prediction)."""
    predictions = os.path.join(scratch, f"bertkit-{seed}-predictions")
    bertkit = json.loads(run([args.bertkit, "evaluate", "--model", output, "--data", dev, "--version-two-with-negative", *WINDOWS,
                              "--json", "--output", predictions, *threads]))
    print(json.dumps({"stack": "bertkit", "seed": seed, **{k: bertkit[k] for k in SCORES},
                      "train_seconds": round(bertkit_seconds, 1)}), flush=True)

    scored = os.path.join(scratch, f"export-{seed}-predictions")
    export = last_json(run([*reference, "--model", output, "--eval", dev, *WINDOWS, "--version-2-with-negative", "--evaluate-only",
                            "--write-predictions", scored, *threads]))["eval"]
    ours, theirs = (read_json(os.path.join(folder, "predictions.json")) for folder in (predictions, scored))
    odds_ours, odds_theirs = (read_json(os.path.join(folder, "null_odds.json")) for folder in (predictions, scored))
    differing = [qid for qid in theirs if ours.get(qid) != theirs[qid]]
    print(json.dumps({"stack": "bertkit export scored by transformers", "seed": seed, **{k: export[k] for k in SCORES},
                      "predictions_differing_from_bertkit": differing[:10], "n_differing": len(differing),
                      "null_odds_max_abs_diff": max(abs(odds_ours[qid] - odds_theirs[qid]) for qid in odds_theirs)}), flush=True)
    return {"bertkit_em": bertkit["exact_match"], "bertkit_f1": bertkit["f1"], "export_em": export["exact_match"],
            "export_f1": export["f1"], "differing": len(differing)}


def report(rows, seeds, begin):
    def cell(row, key, width, digits=2):
        return f"{row[key]:>{width}.{digits}f}" if key in row else f"{'-':>{width}}"

    print()
    print(f"{'seed':>4}  {'bertkit EM':>10}  {'bertkit F1':>10}  {'transformers EM':>15}  {'transformers F1':>15}  "
          f"{'bertkit s':>9}  {'transformers s':>14}  {'export EM':>9}  {'export F1':>9}")
    done = [r for r in rows if not r["failure"]]
    mean = {key: statistics.mean(r[key] for r in done) for key in done[0] if key not in ("seed", "failure")} if done else {}
    mean_all = {key: statistics.mean(r[key] for r in rows) for key in ("transformers_em", "transformers_f1", "transformers_seconds")}
    for r in rows + ([dict(mean, seed="mean", failure=None)] if done else []):
        print(f"{r['seed']:>4}  {cell(r, 'bertkit_em', 10)}  {cell(r, 'bertkit_f1', 10)}  {cell(r, 'transformers_em', 15)}  "
              f"{cell(r, 'transformers_f1', 15)}  {cell(r, 'bertkit_seconds', 9, 1)}  {cell(r, 'transformers_seconds', 14, 1)}  "
              f"{cell(r, 'export_em', 9)}  {cell(r, 'export_f1', 9)}" + (f"  bertkit failed: {r['failure']}" if r["failure"] else ""))
    print("EM/F1: squad_v2 on conll2003-qa dev (x100); the mean row is over the seeds bertkit finished. bertkit s: `bertkit "
          "finetune` wall time (loading, tokenising, training, export); transformers s: trainer.train(). Export: bertkit's model "
          "scored by transformers + run_qa's post-processing; predictions differing from `bertkit evaluate`: "
          + ", ".join(str(r.get("differing", "-")) for r in rows))
    print(json.dumps({"means_where_bertkit_finished": mean, "transformers_means_all_seeds": mean_all, "seeds": seeds,
                      "bertkit_failures": {r["seed"]: r["failure"] for r in rows if r["failure"]},
                      "wall_seconds": round(time.time() - begin, 1)}))


if __name__ == "__main__":
    main()
