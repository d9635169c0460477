"""Corrupted checkpoints against `bertkit inspect` and `bertkit convert`: every run must end within the time
limit with exit 0 or 1, by no signal, with at most one `error:` line on stderr, no libhdf5 printout, and no
output file (nor temporary) left behind by a run that failed.

Corruptions of each seed file, at every region of it (spread evenly, plus seeded random places): bytes
flipped (one, or a run), a range zeroed or set to 0xFF, truncation, and a splice of the file's own bytes
from elsewhere. Failing cases are copied to --keep with what went wrong.

  Tools/python Tools/corrupt_check.py [--count N] [--seed S] [--jobs J] [--keep DIR] [FILE ...]
"""
import argparse
import concurrent.futures
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = ["Fixtures/hdf5/tf-h5/tf_bert_model/tf_model.h5",
         "Fixtures/bert/tiny-seqcls-pytorch-zip/pytorch_model.bin",
         "Fixtures/bert/tiny-seqcls-pytorch-legacy/pytorch_model.bin",
         "Fixtures/bert/tiny-seqcls/model.safetensors"]


def corruptions(data, count, rng):
    """`count` (name, bytes) variants of `data`; positions sweep the whole file, then fall at random."""
    n = len(data)
    kinds = ["flip", "flip_run", "zero", "ones", "truncate", "splice"]
    for i in range(count):
        kind = kinds[i % len(kinds)]
        # the first half walks evenly across the file (every region gets hit); the second half is random
        half = max(1, count // 2)
        position = (i * n) // half if i < half else rng.randrange(n)
        out = bytearray(data)
        if kind == "flip":
            out[position] ^= 1 << rng.randrange(8)
        elif kind == "flip_run":
            for p in range(position, min(n, position + rng.randint(2, 64))):
                out[p] ^= rng.randrange(1, 256)
        elif kind == "zero":
            end = min(n, position + rng.randint(1, 256))
            out[position:end] = b"\0" * (end - position)
        elif kind == "ones":
            end = min(n, position + rng.randint(1, 256))
            out[position:end] = b"\xff" * (end - position)
        elif kind == "truncate":
            out = out[:position]
        elif kind == "splice":
            length = rng.randint(8, 4096)
            source = rng.randrange(n)
            chunk = data[source:source + length]
            out[position:position + len(chunk)] = chunk
        yield f"{kind}@{position}", bytes(out)


def check(bertkit, name, original_name, blob, timeout):
    """Runs inspect and convert on one corrupted file; returns a list of problems (empty: fine)."""
    problems = []
    with tempfile.TemporaryDirectory(prefix="bertkit-corrupt-") as folder:
        path = os.path.join(folder, original_name)
        with open(path, "wb") as f:
            f.write(blob)
        out_dir = os.path.join(folder, "out")
        os.mkdir(out_dir)
        for command in (["inspect", path], ["convert", path, os.path.join(out_dir, "model.safetensors")]):
            try:
                result = subprocess.run([bertkit] + command, capture_output=True, timeout=timeout,
                                        env=dict(os.environ, BERTKIT_THREADS="1"))
            except subprocess.TimeoutExpired:
                problems.append(f"{command[0]}: no end within {timeout} s")
                continue
            stderr = result.stderr.decode("utf-8", "replace")
            if result.returncode < 0:
                problems.append(f"{command[0]}: killed by signal {signal.Signals(-result.returncode).name}")
            elif result.returncode not in (0, 1):
                problems.append(f"{command[0]}: exit {result.returncode}")
            if "HDF5-DIAG" in stderr or "#000:" in stderr:
                problems.append(f"{command[0]}: libhdf5 printed on stderr")
            errors = [l for l in stderr.splitlines() if l.startswith("error:")]
            if result.returncode == 1 and len(errors) != 1:
                problems.append(f"{command[0]}: {len(errors)} error lines")
            if command[0] == "convert" and result.returncode != 0 and os.listdir(out_dir):
                problems.append(f"convert failed but left {os.listdir(out_dir)}")
            if sorted(os.listdir(folder)) != sorted([original_name, "out"]):
                problems.append(f"{command[0]}: left {sorted(set(os.listdir(folder)) - {original_name, 'out'})} beside the input")
            with open(path, "rb") as f:
                if f.read() != blob:
                    problems.append(f"{command[0]}: changed the input file")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", default=SEEDS)
    parser.add_argument("--count", type=int, default=1000, help="corruptions per file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--timeout", type=float, default=10)
    parser.add_argument("--keep", help="copy failing cases here")
    parser.add_argument("--bertkit", default=os.environ.get("BERTKIT_BIN", os.path.join(ROOT, ".build/release/bertkit")))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    jobs, total, failures = [], 0, []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for file in args.files:
            data = open(os.path.join(ROOT, file) if not os.path.isabs(file) else file, "rb").read()
            for name, blob in corruptions(data, args.count, rng):
                jobs.append((file, name, blob, pool.submit(check, args.bertkit, name, os.path.basename(file), blob, args.timeout)))
        for file, name, blob, future in jobs:
            total += 1
            problems = future.result()
            if problems:
                failures.append({"file": file, "corruption": name, "problems": problems})
                if args.keep:
                    os.makedirs(args.keep, exist_ok=True)
                    stem = f"{os.path.basename(os.path.dirname(file))}-{name.replace('@', '-')}"
                    with open(os.path.join(args.keep, stem + "-" + os.path.basename(file)), "wb") as f:
                        f.write(blob)
    summary = {"files": len(args.files), "corrupted": total, "runs": 2 * total, "failures": len(failures),
               "by_problem": {}}
    for failure in failures:
        for problem in failure["problems"]:
            key = problem.split(":")[0] + ": " + problem.split(": ", 1)[-1].split(" ")[0]
            summary["by_problem"][key] = summary["by_problem"].get(key, 0) + 1
    print(json.dumps(summary, indent=1))
    for failure in failures[:20]:
        print(f"  {failure['file']} {failure['corruption']}: {'; '.join(failure['problems'])}", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
