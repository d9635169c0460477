"""Shared benchmark plumbing: run a job in a child process, measure wall time and peak RSS (wait4), and
print bertkit-vs-reference ratios. Benchmarks are measurements, never tests: nothing here fails on a
slow result. Both sides get the same thread count (2 by default, BENCH_THREADS)."""
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BERTKIT = os.environ.get("BERTKIT_BIN", os.path.join(ROOT, ".build", "release", "bertkit"))
CACHE = os.environ.get("BERTKIT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "bertkit"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))

ENV = dict(os.environ, OMP_NUM_THREADS=str(THREADS), OPENBLAS_NUM_THREADS=str(THREADS), MKL_NUM_THREADS=str(THREADS),
           BERTKIT_THREADS=str(THREADS), TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1")


def run_with_rss(argv, env=None):
    """Runs argv as a child process; returns its wall time, its peak RSS (MB, through wait4) and its
    stdout. `env` adds variables to the benchmark environment."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(ENV, **(env or {})))
    stdout_data = process.stdout.read()
    stderr_data = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} failed: {stderr_data.decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024.0, stdout_data.decode()


def python_job(code, *args, env=None):
    """Runs `code` in a fresh interpreter of the reference venv. The code prints one JSON object with at
    least "seconds" (time of the measured part only, imports excluded); returns it plus "rss_mb"."""
    wall, rss, out = run_with_rss([sys.executable, "-c", code, *map(str, args)], env=env)
    result = json.loads(out.strip().splitlines()[-1])
    result["rss_mb"] = rss
    result["wall"] = wall
    return result


def bertkit_job(*args, env=None):
    """Runs bertkit; the whole process is measured (start-up included). Returns seconds, rss_mb, stdout."""
    wall, rss, out = run_with_rss([BERTKIT, *map(str, args)], env=env)
    return {"seconds": wall, "rss_mb": rss, "stdout": out}


def bertkit_json_job(*args, env=None):
    """Runs a bertkit command that prints one JSON line of timings (`bertkit benchmark …`); returns that
    object plus the process's rss_mb and wall time. Its "median_seconds" becomes "seconds"."""
    run = bertkit_job(*args, env=env)
    result = json.loads(run["stdout"].strip().splitlines()[-1])
    result.update(rss_mb=run["rss_mb"], wall=run["seconds"])
    if "median_seconds" in result:
        result["seconds"] = result["median_seconds"]
    return result


def median_of(job, repeats=REPEATS, before=None):
    """Runs job() `repeats` times after one warm-up; returns the run with the median time. `before` runs
    ahead of every run, unmeasured (e.g. to delete the previous output and flush the disk queue)."""
    def one():
        if before:
            before()
        return job()
    one()
    runs = sorted((one() for _ in range(repeats)), key=lambda r: r["seconds"])
    return runs[len(runs) // 2]


def fresh_output(*paths):
    """A `before` hook for writers: delete the outputs and sync, so no run pays for the previous
    run's writeback or for freeing the file it replaces."""
    def before():
        for path in paths:
            if os.path.exists(path):
                os.remove(path)
        os.sync()
    return before


def report(title, rows):
    """rows: (label, bertkit result, reference result, reference name). Prints times, RSS and ratios
    (reference time / bertkit time: > 1 means bertkit is faster)."""
    print(f"\n## {title}  (threads {THREADS}, median of {REPEATS})")
    print(f"{'task':<34} {'bertkit s':>10} {'ref s':>10} {'speed ratio':>12} {'bertkit MB':>11} {'ref MB':>9}  reference")
    for label, mine, ref, ref_name in rows:
        ratio = ref["seconds"] / mine["seconds"]
        print(f"{label:<34} {mine['seconds']:>10.3f} {ref['seconds']:>10.3f} {ratio:>11.2f}x "
              f"{mine['rss_mb']:>11.0f} {ref['rss_mb']:>9.0f}  {ref_name}")
    sys.stdout.flush()


def bert_base_state(path, kind="safetensors"):
    """A bert-base-uncased-shaped BertModel state dict (random weights, seed 0), cached on disk. Made in a
    child process: this process stays small, because a child inherits its parent's peak RSS at fork
    and would report it as its own."""
    if os.path.exists(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); "
                    f"import benchlib; benchlib._make_bert_base({path!r}, {kind!r})"], check=True, env=ENV)
    return path


def _make_bert_base(path, kind):
    import torch
    from transformers import BertConfig, BertModel
    torch.manual_seed(0)
    model = BertModel(BertConfig())
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    tmp = path + ".tmp"
    if kind == "safetensors":
        from safetensors.torch import save_file
        save_file(state, tmp, metadata={"format": "pt"})
    else:
        torch.save(state, tmp)
    os.replace(tmp, path)
    return path
