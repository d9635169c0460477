"""Data-parallel fine-tuning over Open MPI (`bertkit benchmark train-step` under mpirun): examples per second of one
training step (forward, backward, gradient all-reduce, clipping, AdamW; global batch 16 × 128, a 2-label sequence
classifier) for 1 rank × 1 thread, 2 ranks × 1 thread (`mpirun -np 2 --bind-to core`) and 1 rank × 2 threads, on
bert-base-uncased shapes (random weights) and on all-MiniLM-L6-v2. Parallel efficiency at 2 ranks = examples/s of 2
ranks ÷ (2 × examples/s of 1 rank × 1 thread); the all-reduce's seconds per step and share of the step (rank 0's).

Then a model for 8–64 machines from these measurements (README "Several processes and machines"): each machine runs
the measured one-machine step on its 16 examples (weak scaling, global batch 16·N) and the gradients (4 bytes per
trainable parameter) go through a ring all-reduce, 2·(N−1)/N of the bytes over each link plus 2·(N−1) hops of 50 µs,
not overlapped with the backward pass. Environment: BENCH_REPEATS (2), BENCH_ITERATIONS (3)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
from benchlib import BERTKIT, CACHE, run_with_rss
from bert_bench import model_dir
from mpi_common import LOCAL_ENV

REPEATS = int(os.environ.get("BENCH_REPEATS", "2"))
ITERATIONS = int(os.environ.get("BENCH_ITERATIONS", "3"))
BATCH, SEQUENCE = 16, 128
LINKS_GBIT = (10, 25)
MACHINES = (8, 16, 32, 64)
HOP_SECONDS = 50e-6


def step(model, ranks, threads):
    args = [BERTKIT, "benchmark", "train-step", "--model", model, "--batch", BATCH, "--sequence", SEQUENCE,
            "--iterations", ITERATIONS, "--threads", threads]
    if ranks > 1:
        args = ["mpirun", "-np", ranks, "--bind-to", "core", *args]
    # BERTKIT_THREADS as --threads: the benchmark environment sets it for every job.
    _, rss, out = run_with_rss(list(map(str, args)), env=dict(LOCAL_ENV, BERTKIT_THREADS=str(threads)))
    result = json.loads(out.strip().splitlines()[-1])
    result.update(rss_mb=rss, examples_per_second=BATCH / result["median_seconds"])
    return result


def parameters(model):
    from safetensors import safe_open
    count = 0
    for name in sorted(os.listdir(model)):
        if name.endswith(".safetensors"):
            with safe_open(os.path.join(model, name), "np") as f:
                for key in f.keys():
                    count += int(__import__("numpy").prod(f.get_slice(key).get_shape()))
    return count


def measure(label, model):
    jobs = {"1 rank × 1 thread": (1, 1), "2 ranks × 1 thread": (2, 1), "1 rank × 2 threads": (1, 2)}
    runs = {name: [] for name in jobs}
    for _ in range(REPEATS):
        for name, (ranks, threads) in jobs.items():
            runs[name].append(step(model, ranks, threads))
    result = {name: sorted(r, key=lambda x: x["median_seconds"])[len(r) // 2] for name, r in runs.items()}
    base = result["1 rank × 1 thread"]["examples_per_second"]
    print(f"\n## Data-parallel training step, {label}, global batch {BATCH} × {SEQUENCE}  "
          f"(median process of {REPEATS}, median of {ITERATIONS} steps)")
    print(f"{'configuration':<22} {'step s':>8} {'examples/s':>11} {'all-reduce s':>13} {'share':>6} {'efficiency':>11} {'peak MB':>8}")
    for name, run in result.items():
        ranks = 2 if name.startswith("2") else 1
        workers = 2 if "2" in name else 1
        efficiency = run["examples_per_second"] / (workers * base)
        share = run["allreduce_seconds"] / run["median_seconds"]
        print(f"{name:<22} {run['median_seconds']:>8.3f} {run['examples_per_second']:>11.2f} {run['allreduce_seconds']:>13.4f} "
              f"{share:>5.1%} {efficiency:>11.2f} {run['rss_mb']:>8.0f}" + ("  (per rank)" if ranks > 1 else ""))
    return result


def model_table(label, one_machine_seconds, count):
    """Weak scaling over N machines, each the measured 1-machine step on 16 examples plus a ring all-reduce."""
    gradient_bytes = 4 * count
    print(f"\n### Modelled: {label} ({count / 1e6:.1f} M parameters, {gradient_bytes / 1e6:.0f} MB of gradients), "
          f"one machine's step {one_machine_seconds:.3f} s on {BATCH} examples")
    print(f"{'machines':>8} " + " ".join(f"{f'{g} Gbit/s: all-reduce s':>24} {'efficiency':>10} {'examples/s':>10}" for g in LINKS_GBIT))
    for n in MACHINES:
        cells = []
        for gbit in LINKS_GBIT:
            ring = 2 * (n - 1) / n * gradient_bytes / (gbit * 1e9 / 8) + 2 * (n - 1) * HOP_SECONDS
            total = one_machine_seconds + ring
            cells.append(f"{ring:>24.3f} {one_machine_seconds / total:>10.2f} {n * BATCH / total:>10.1f}")
        print(f"{n:>8} " + " ".join(cells))


def main():
    minilm = os.path.join(CACHE, "models", "all-MiniLM-L6-v2")
    cases = [("all-MiniLM-L6-v2", minilm), ("bert-base-uncased shapes", model_dir())]
    measured = {label: (measure(label, model), parameters(model)) for label, model in cases}
    for label, (result, count) in measured.items():
        model_table(label, result["1 rank × 2 threads"]["median_seconds"], count)
    print(json.dumps({label: {name: {k: run[k] for k in ("median_seconds", "examples_per_second", "allreduce_seconds", "rss_mb")}
                              for name, run in result.items()} for label, (result, _) in measured.items()}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
