"""The NER recipe of issue 12 (all-MiniLM-L6-v2, 2,000 sampled CoNLL-2003 training sentences, 3 epochs, lr 5e-5,
batch 16, max length 128, weight decay 0 as run_ner.py's TrainingArguments default) run by `bertkit finetune --task
token-classification` and by transformers' Trainer as run_ner.py does (Tools/reference_ner.py), over several seeds,
both scored with seqeval's default mode on the whole CoNLL-2003 test split (3,453 sentences). Each seed draws one
sample that both stacks train on, and changes the order, the new classifier and the dropout masks, which the two
stacks draw from different random streams. The bertkit export is also scored by transformers
(AutoModelForTokenClassification + seqeval), which must give the F1 `bertkit evaluate` reports.

    Tools/python Tools/compare_ner.py [--seeds 1 2 3] [--bertkit .build/release/bertkit] [--threads 2]

Needs Tools/fetch (the model and CoNLL-2003, research licence: the samples live in a temporary folder only).
Prints one JSON line per run, then a table and the means.

The test split is scored two ways (Tools/reference_ner.py): "windows" is bertkit's protocol (a sentence longer than
128 tokens becomes overlapping windows, every word scored once), "run_ner" is run_ner.py's (truncated at 128, the
words past it not scored). One test sentence is longer than 128 tokens, so the two differ only there. The table's
transformers F1 is run_ner's own protocol; the export is scored with bertkit's, so it must equal bertkit's F1."""
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
import reference_ner  # noqa: E402

CACHE = os.environ.get("BERTKIT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "bertkit"))
MINILM = os.path.join(CACHE, "models", "all-MiniLM-L6-v2")
CONLL = os.path.join(CACHE, "data", "conll2003")
RECIPE = ["--epochs", "3", "--lr", "5e-5", "--batch-size", "16", "--max-length", "128"]
WEIGHT_DECAY = "0.0"  # TrainingArguments' default, which run_ner.py does not change
SAMPLE = 2000


def sampled_training_file(path, seed):
    """SAMPLE sentences of the training split drawn with Python's random from `seed`, in file order, written as
    CoNLL (the original four columns): what both stacks train on for that seed."""
    sentences = reference_ner.read_conll(os.path.join(CONLL, "train.txt"))
    return reference_ner.write_conll(path, [sentences[i] for i in sorted(random.Random(seed).sample(range(len(sentences)), SAMPLE))])


def run(command, with_stderr=False):
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(map(str, command))} failed:\n{result.stderr[-3000:]}")
    return (result.stdout, result.stderr) if with_stderr else result.stdout


def last_json(output):
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--bertkit", default=os.path.join(ROOT, ".build", "release", "bertkit"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    test = os.path.join(CONLL, "test.txt")
    threads = ["--threads", str(args.threads)]
    rows = []
    begin = time.time()
    with tempfile.TemporaryDirectory() as scratch:
        for seed in args.seeds:
            train = sampled_training_file(os.path.join(scratch, f"train-{seed}.conll"), seed)
            output = os.path.join(scratch, f"bertkit-{seed}")
            start = time.time()
            _, notes = run([args.bertkit, "finetune", "--task", "token-classification", "--model", MINILM, "--train", train,
                            "--output", output, "--seed", seed, "--weight-decay", WEIGHT_DECAY, "--save-every", "never",
                            *threads, *RECIPE], with_stderr=True)
            bertkit_seconds = time.time() - start
            bertkit = json.loads(run([args.bertkit, "evaluate", "--model", output, "--data", test, "--max-length", "128",
                                      "--json", *threads]))
            split = [line for line in notes.splitlines() if "split into overlapping windows" in line]
            line = {"stack": "bertkit", "seed": seed, "test_f1": bertkit["f1"], "test_precision": bertkit["precision"],
                    "test_recall": bertkit["recall"], "test_accuracy": bertkit["accuracy"], "n": bertkit["n"],
                    "train_seconds": round(bertkit_seconds, 1), "note": split[0] if split else None}
            print(json.dumps(line), flush=True)

            export = last_json(run([sys.executable, os.path.join(ROOT, "Tools", "reference_ner.py"), "--model", output,
                                    "--test", test, "--max-length", "128", "--evaluate-only", *threads]))["test"]
            line_export = {"stack": "bertkit export scored by transformers", "seed": seed,
                           **{f"{protocol}_f1": scores["f1"] for protocol, scores in export.items()},
                           "windows_entities": export["windows"]["entities"]}
            print(json.dumps(line_export), flush=True)

            reference = last_json(run([sys.executable, os.path.join(ROOT, "Tools", "reference_ner.py"), "--model", MINILM,
                                       "--train", train, "--test", test, "--seed", seed, "--weight-decay", WEIGHT_DECAY,
                                       "--output", os.path.join(scratch, f"transformers-{seed}"), *threads, *RECIPE]))
            line_reference = {"stack": "transformers", "seed": seed, "steps": reference["steps"],
                              **{f"{protocol}_f1": scores["f1"] for protocol, scores in reference["test"].items()},
                              "test_precision": reference["test"]["run_ner"]["precision"],
                              "test_recall": reference["test"]["run_ner"]["recall"],
                              "train_sentences_truncated": reference["train_sentences_truncated"],
                              "train_seconds": round(reference["train_seconds"], 1), "seconds": round(reference["seconds"], 1)}
            print(json.dumps(line_reference), flush=True)
            rows.append({"seed": seed, "bertkit": bertkit["f1"], "transformers": reference["test"]["run_ner"]["f1"],
                         "transformers_windows": reference["test"]["windows"]["f1"], "bertkit_seconds": bertkit_seconds,
                         "transformers_seconds": reference["train_seconds"], "export": export["windows"]["f1"],
                         "export_run_ner": export["run_ner"]["f1"]})

    print()
    print(f"{'seed':>4}  {'bertkit F1':>10}  {'transformers F1':>15}  {'bertkit s':>9}  {'transformers s':>14}  "
          f"{'export F1 (transformers)':>24}")
    for r in rows:
        print(f"{r['seed']:>4}  {r['bertkit']:>10.4f}  {r['transformers']:>15.4f}  {r['bertkit_seconds']:>9.1f}  "
              f"{r['transformers_seconds']:>14.1f}  {r['export']:>24.4f}")
    mean = {key: statistics.mean(r[key] for r in rows) for key in rows[0] if key != "seed"}
    print(f"{'mean':>4}  {mean['bertkit']:>10.4f}  {mean['transformers']:>15.4f}  {mean['bertkit_seconds']:>9.1f}  "
          f"{mean['transformers_seconds']:>14.1f}  {mean['export']:>24.4f}")
    print("bertkit s: `bertkit finetune` wall time (loading, tokenising, training, export); transformers s: trainer.train().")
    print("transformers F1 with bertkit's windows (same scored words as bertkit): "
          + ", ".join(f"{r['transformers_windows']:.4f}" for r in rows)
          + "; export F1 with run_ner's truncation: " + ", ".join(f"{r['export_run_ner']:.4f}" for r in rows))
    print(json.dumps({"means": mean, "seeds": args.seeds, "wall_seconds": round(time.time() - begin, 1)}))


if __name__ == "__main__":
    main()
