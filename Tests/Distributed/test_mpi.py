"""Data-parallel fine-tuning under Open MPI (README "Several processes and machines"): `mpirun -np 2 bertkit finetune`
computes what one process computes with the same global batch, seed and dropout; a killed rank ends the job; a
checkpoint resumes on any number of ranks. Run by Tools/test with the release binary (BERTKIT_BIN)."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from safetensors.numpy import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Tools"))
from mpi_common import BAD, GOOD, LOCAL_ENV, SUBJECTS, sentiment_csv  # noqa: E402

BERTKIT = os.environ.get("BERTKIT_BIN", os.path.join(ROOT, ".build", "release", "bertkit"))
FIXTURES = os.path.join(ROOT, "Fixtures")
# --oversubscribe (below): more ranks than the 2 cores when asked.
MPI_ENV = dict(os.environ, **LOCAL_ENV)
RELATIVE = 1e-5

NAMES, PLACES = ["alice", "bob", "carol", "dave"], ["paris", "london", "berlin", "rome"]


def mpirun(ranks, *args, timeout=600):
    return subprocess.run(["mpirun", "--oversubscribe", "-np", str(ranks), BERTKIT, *map(str, args)], env=MPI_ENV,
                          capture_output=True, text=True, timeout=timeout)


def single(*args, timeout=600):
    return subprocess.run([BERTKIT, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def ok(result):
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-3000:]}"
    return result


def conll(path, count, seed):
    r = random.Random(seed)
    sentences = []
    for _ in range(count):
        words = []
        for _ in range(r.randint(1, 4)):
            words += [(r.choice(NAMES), "B-PER"), ("visited", "O"), (r.choice(PLACES), "B-LOC")]
            if r.random() < 0.5:
                words += [("and", "O"), ("liked", "O"), ("it", "O")]
        sentences.append("\n".join(f"{w} {t}" for w, t in words))
    path.write_text("\n\n".join(sentences) + "\n")
    return path


def corpus(path, count, seed):
    r = random.Random(seed)
    path.write_text("\n".join(" ".join(r.choice(SUBJECTS + GOOD + BAD + ["was", "very", "and"]) for _ in range(r.randint(3, 30)))
                              for _ in range(count)) + "\n")
    return path


def squad(path, count, seed):
    """Questions on contexts of 20–60 words: with 64-token windows and stride 16 some overflow into several windows."""
    r = random.Random(seed)
    records = []
    for i in range(count):
        filler = [f"{r.choice(NAMES)} liked {r.choice(PLACES)} ." for _ in range(r.randint(3, 12))]
        name, place = r.choice(NAMES), r.choice(PLACES)
        fact = f"{name} visited {place} ."
        at = r.randint(0, len(filler))
        context = " ".join(filler[:at] + [fact] + filler[at:])
        start = context.index(fact) + len(f"{name} visited ")
        records.append({"id": f"q{i}", "question": f"where did {name} go ?", "context": context,
                        "answers": {"text": [place], "answer_start": [start]}})
    path.write_text(json.dumps({"version": "test", "data": records}))
    return path


def log(folder):
    return [json.loads(line) for line in (folder / "training_log.jsonl").read_text().splitlines()]


def weights(folder):
    name = "adapter_model.safetensors" if (folder / "adapter_model.safetensors").exists() else "model.safetensors"
    return load_file(folder / name)


def zero_in_theory(name, extra):
    """Parameters whose gradient is zero in exact arithmetic, so that they hold only rounding noise, which AdamW turns into
    steps of up to lr each whatever its size (as GradientCheck in Tests/TrainingTests/GoldenTrainingTests.swift knows
    them): every attention key bias (softmax ignores a shift shared by all keys), and `extra` (question answering:
    qa_outputs.bias and the last LayerNorm's bias — each example's softmax − one-hot sums to zero over the tokens)."""
    return name.endswith("attention.self.key.bias") or name in extra


def expect_same_weights(one, two, lr, steps, extra_zero=(), relative_bound=RELATIVE):
    """Every weight within `relative_bound` of the tensor's largest value; the zero-in-theory ones within lr · steps."""
    w_one, w_two = weights(one), weights(two)
    assert sorted(w_one) == sorted(w_two)
    worst = 0.0
    for name, reference in w_one.items():
        reference, actual = reference.astype(np.float64), w_two[name].astype(np.float64)
        difference = float(np.abs(actual - reference).max()) if reference.size else 0.0
        if zero_in_theory(name, extra_zero):
            assert difference <= lr * steps, f"{name} differs by {difference} (> lr · steps)"
            continue
        relative = difference / max(float(np.abs(reference).max()), 1e-30) if reference.size else 0.0
        assert relative <= relative_bound, f"{name} differs by {relative} (relative)"
        worst = max(worst, relative)
    return worst


def expect_same_run(one, two, lr, extra_zero=(), relative_bound=RELATIVE):
    """Every logged loss (training and evaluation, each step) within `relative_bound`, the same metrics, the same weights."""
    log_one, log_two = log(one), log(two)
    assert [(e["step"], sorted(e)) for e in log_one] == [(e["step"], sorted(e)) for e in log_two]
    steps = 0
    for a, b in zip(log_one, log_two):
        for key in ("loss", "eval_loss", "grad_norm"):
            if key in a:
                bound = relative_bound * max(1.0, abs(a[key]))
                assert abs(a[key] - b[key]) <= bound, f"step {a['step']} {key}: {a[key]} vs {b[key]}"
                steps += key == "loss"
        for key in ("eval_accuracy", "eval_f1"):
            if a.get(key) is not None:
                assert abs(a[key] - b[key]) <= 1e-9, f"step {a['step']} {key}: {a[key]} vs {b[key]}"
    expect_same_weights(one, two, lr, steps, extra_zero, relative_bound)
    return steps


def train_both(tmp_path, ranks, *args, extra_zero=()):
    ok(single(*args, "--output", tmp_path / "one", "--threads", "1"))
    ok(mpirun(ranks, *args, "--output", tmp_path / "two", "--threads", "1"))
    return expect_same_run(tmp_path / "one", tmp_path / "two", float(args[list(args).index("--lr") + 1]), extra_zero)


COMMON = ["--logging-steps", "1", "--save-every", "never", "--seed", "7"]


def test_classification_on_two_ranks_equals_one_process(tmp_path):
    """Dropout on (the tiny model's 0.1 everywhere), gradient accumulation, a short last batch, evaluation per epoch."""
    train, evaluation = sentiment_csv(tmp_path / "train.csv", 61, 1), sentiment_csv(tmp_path / "eval.csv", 23, 2)
    steps = train_both(tmp_path, 2, "finetune", "--model", os.path.join(FIXTURES, "bert", "tiny-seqcls"), "--train", train,
                       "--eval", evaluation, "--epochs", "4", "--batch-size", "6", "--grad-accum", "2", "--lr", "2e-3", *COMMON)
    assert steps >= 20


def test_bf16_mixed_precision_on_two_ranks_equals_one_process(tmp_path):
    """--precision bf16: a token's forward is the same on a rank as in one process (each row's products are its own), so
    the first step's loss and gradient norm agree as in fp32 — which is what sees a wrong share or mask. After the
    all-reduce the weights differ by fp32's summation order, and from then on an operand a rounding ulp apart can round
    to the neighbouring bf16 value (2⁻⁸ apart): the runs agree to bf16's rounding, 2⁻⁹ (seen: 3.5e-5 on the position
    embeddings after 15 steps), not fp32's."""
    train = sentiment_csv(tmp_path / "train.csv", 40, 3)
    args = ["finetune", "--model", os.path.join(FIXTURES, "bert", "tiny-seqcls"), "--train", train, "--eval", train,
            "--epochs", "3", "--batch-size", "8", "--lr", "2e-3", "--precision", "bf16", *COMMON]
    ok(single(*args, "--output", tmp_path / "one", "--threads", "1"))
    ok(mpirun(2, *args, "--output", tmp_path / "two", "--threads", "1"))
    first_one, first_two = log(tmp_path / "one")[0], log(tmp_path / "two")[0]
    for key in ("loss", "grad_norm"):
        assert abs(first_one[key] - first_two[key]) <= RELATIVE * max(1.0, abs(first_one[key])), (key, first_one, first_two)
    assert expect_same_run(tmp_path / "one", tmp_path / "two", 2e-3, relative_bound=2 ** -9) == 15


def test_best_model_and_early_stopping_on_three_ranks_equal_one_process(tmp_path):
    """--load-best-at-end (rank 0 writes the best model, every rank reads it after a barrier), early stopping decided
    from the gathered evaluation, and evaluation batches of fewer rows than ranks (22 = 4·5 + 2)."""
    train, evaluation = sentiment_csv(tmp_path / "train.csv", 40, 11), sentiment_csv(tmp_path / "eval.csv", 22, 12)
    train_both(tmp_path, 3, "finetune", "--model", os.path.join(FIXTURES, "bert", "tiny-seqcls"), "--train", train,
               "--eval", evaluation, "--epochs", "30", "--batch-size", "4", "--lr", "2e-3",
               "--eval-every", "5", "--metric", "accuracy", "--load-best-at-end", "--early-stopping-patience", "2", *COMMON)
    assert any("eval_loss" in e for e in log(tmp_path / "two"))


def test_ranks_that_read_different_data_stop_with_an_error(tmp_path):
    """A host with another train.csv: the ranks' fingerprints differ, the job ends with one error instead of hanging."""
    a, b = sentiment_csv(tmp_path / "a.csv", 20, 13), sentiment_csv(tmp_path / "b.csv", 20, 14)
    model = os.path.join(FIXTURES, "bert", "tiny-seqcls")
    rank = [BERTKIT, "finetune", "--model", model, "--output", str(tmp_path / "out"), "--epochs", "1", "--threads", "1"]
    result = subprocess.run(["mpirun", "--oversubscribe", "-np", "1", *rank, "--train", str(a), ":", "-np", "1", *rank,
                             "--train", str(b)], env=MPI_ENV, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "do not see the same training and evaluation data" in errors[0], result.stderr[-2000:]


@pytest.mark.parametrize("option", [["--eval-every", "2"], ["--max-grad-norm", "0.5"]])
def test_ranks_with_different_options_stop_with_an_error(tmp_path, option):
    """One host started with another --eval-every (its ranks would evaluate, and all-reduce, at other steps) or
    --max-grad-norm (they would drift apart): one error, no hang."""
    train = sentiment_csv(tmp_path / "train.csv", 20, 13)
    model = os.path.join(FIXTURES, "bert", "tiny-seqcls")
    rank = [BERTKIT, "finetune", "--model", model, "--output", str(tmp_path / "out"), "--epochs", "1", "--threads", "1",
            "--train", str(train), "--eval", str(train)]
    result = subprocess.run(["mpirun", "--oversubscribe", "-np", "1", *rank, ":", "-np", "1", *rank, *option],
                            env=MPI_ENV, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "do not see the same options and model" in errors[0], result.stderr[-2000:]


def test_three_ranks_and_lora_equal_one_process(tmp_path):
    """LoRA with its own dropout, on more ranks than cores (each rank 2 of the 6 rows)."""
    train = sentiment_csv(tmp_path / "train.csv", 48, 3)
    steps = train_both(tmp_path, 3, "finetune", "--model", os.path.join(FIXTURES, "bert", "tiny-seqcls"), "--train", train,
                       "--epochs", "5", "--batch-size", "6", "--lr", "5e-3", "--lora-r", "4", "--lora-dropout", "0.2", *COMMON)
    assert steps == 40


def test_token_classification_on_two_ranks_equals_one_process(tmp_path):
    train, evaluation = conll(tmp_path / "train.txt", 40, 4), conll(tmp_path / "eval.txt", 15, 5)
    steps = train_both(tmp_path, 2, "finetune", "--task", "token-classification", "--model",
                       os.path.join(FIXTURES, "bert", "tiny-tokcls"), "--train", train, "--eval", evaluation, "--epochs", "3",
                       "--batch-size", "8", "--lr", "2e-3", *COMMON)
    assert steps == 15


def test_question_answering_on_two_ranks_equals_one_process(tmp_path):
    """Overflowing windows (64 tokens, stride 16) and run_qa's post-processing of the gathered logits."""
    train, evaluation = squad(tmp_path / "train.json", 40, 8), squad(tmp_path / "eval.json", 12, 9)
    steps = train_both(tmp_path, 2, "finetune", "--task", "question-answering", "--model", os.path.join(FIXTURES, "bert", "tiny-qa"),
                       "--train", train, "--eval", evaluation, "--max-length", "64", "--doc-stride", "16", "--max-steps", "12",
                       "--batch-size", "8", "--lr", "2e-3", *COMMON,
                       extra_zero=("qa_outputs.bias", "bert.encoder.layer.1.output.LayerNorm.bias"))
    assert steps == 12


def test_masked_lm_on_two_ranks_equals_one_process(tmp_path):
    """Masks drawn per block from the seed: the same on any number of ranks."""
    train = corpus(tmp_path / "train.txt", 80, 6)
    steps = train_both(tmp_path, 2, "finetune", "--task", "masked-lm", "--model", os.path.join(FIXTURES, "bert", "tiny-mlm"),
                       "--train", train, "--eval", train, "--max-length", "16", "--epochs", "2", "--batch-size", "8", "--lr", "1e-3",
                       *COMMON)
    assert steps >= 10


def test_bertkit_links_no_mpi_library_and_runs_without_a_launcher(tmp_path):
    """A one-machine user installs nothing new: libmpi is opened at run time under mpirun only."""
    linked = subprocess.run(["ldd", BERTKIT], capture_output=True, text=True, check=True).stdout
    assert "libmpi" not in linked and "libopen-" not in linked, linked
    train = sentiment_csv(tmp_path / "train.csv", 12, 10)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_"))}
    result = subprocess.run([BERTKIT, "finetune", "--model", os.path.join(FIXTURES, "bert", "tiny-seqcls"), "--train", train,
                             "--output", tmp_path / "out", "--epochs", "1", "--save-every", "never"], env=env,
                            capture_output=True, text=True, timeout=120)
    ok(result)
    assert "data-parallel" not in result.stderr and (tmp_path / "out" / "model.safetensors").exists()


def rank_pids(marker):
    """PIDs of bertkit ranks whose command line mentions `marker`, by rank (from each process's environment)."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if not cmdline or not cmdline[0].endswith(b"bertkit") or marker.encode() not in b" ".join(cmdline):
            continue
        for item in environ:
            if item.startswith(b"OMPI_COMM_WORLD_RANK="):
                found[int(item.split(b"=")[1])] = int(pid)
    return found


CACHE = os.environ.get("BERTKIT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "bertkit"))
# all-MiniLM-L6-v2 (Tools/fetch): slow enough per step that the kill lands mid-run, few enough steps (lr 1e-4) that a
# 2-rank start and a 1-rank finish stay within rounding of the one-process run.
MINILM = os.path.join(CACHE, "models", "all-MiniLM-L6-v2")
LONG = ["--epochs", "4", "--batch-size", "4", "--lr", "1e-4", "--save-every", "10", "--logging-steps", "5", "--seed", "3"]


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """A 2-rank run whose rank 1 is SIGKILLed after its first checkpoint (step 10 of 40), and the same run uninterrupted."""
    folder = tmp_path_factory.mktemp("killed")
    train = sentiment_csv(folder / "train.csv", 40, 7)
    args = ["finetune", "--model", MINILM, "--train", train, "--threads", "1", *LONG]
    ok(single(*args, "--output", folder / "uninterrupted"))
    output = folder / "run"
    job = subprocess.Popen(["mpirun", "--oversubscribe", "-np", "2", BERTKIT, *map(str, args), "--output", str(output)],
                           env=MPI_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (output / "checkpoint-10" / "trainer_state.json").exists():
        if job.poll() is not None or time.monotonic() > deadline:
            job.kill()
            raise AssertionError("the run ended (or hung) before its first checkpoint")
        time.sleep(0.05)
    ranks = rank_pids(str(output))
    assert sorted(ranks) == [0, 1], ranks
    os.kill(ranks[1], signal.SIGKILL)
    killed_at = time.monotonic()
    _, stderr = job.communicate(timeout=60)
    return dict(folder=folder, args=args, output=output, seconds=time.monotonic() - killed_at, code=job.returncode, stderr=stderr)


def test_a_killed_rank_ends_the_job_quickly_with_an_error(killed):
    print(f"\nthe job ended {killed['seconds']:.2f} s after rank 1 was killed, exit {killed['code']}")
    assert killed["code"] != 0
    assert killed["seconds"] < 30, f"the job took {killed['seconds']:.1f} s to end"
    assert "signal 9" in killed["stderr"] or "Killed" in killed["stderr"], killed["stderr"][-2000:]
    assert not (killed["output"] / "model.safetensors").exists(), "the killed run must not have exported"
    assert not (killed["output"] / "checkpoint-40").exists(), "the kill came too late to test anything"


@pytest.mark.parametrize("ranks", [2, 1])
def test_resume_after_the_kill_gives_the_uninterrupted_weights(killed, ranks, tmp_path):
    """--resume under mpirun continues from the newest checkpoint; the 2-rank checkpoints resume on 1 rank too."""
    output = tmp_path / "resumed"
    shutil.copytree(killed["output"], output)
    args = [*killed["args"], "--output", output, "--resume"]
    ok(mpirun(ranks, *args) if ranks > 1 else single(*args))
    expect_same_weights(killed["folder"] / "uninterrupted", output, lr=1e-4, steps=40)
    assert [e["step"] for e in log(output)] == [e["step"] for e in log(killed["folder"] / "uninterrupted")]


def test_a_failing_rank_reports_one_error_and_stops_every_rank(tmp_path):
    """Bad input under mpirun: an `error:` line naming the file, exit 1, no hang."""
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nfine,pos\n\"unterminated,neg\n")
    result = mpirun(2, "finetune", "--model", os.path.join(FIXTURES, "bert", "tiny-seqcls"), "--train", bad, "--output",
                    tmp_path / "out", timeout=60)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(bad) in errors[0], result.stderr[-2000:]


def test_two_hosts_in_network_namespaces(tmp_path):
    """Two 'hosts' (network namespaces joined by a veth pair), one rank each, Open MPI over TCP between them: the same
    run as one process, and the gradients crossed the link."""
    result = subprocess.run(["bash", os.path.join(ROOT, "Tools", "mpi-two-hosts"), BERTKIT, str(tmp_path)], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    steps = expect_same_run(tmp_path / "one", tmp_path / "two", lr=2e-3)
    assert steps == 15
    parameters = sum(v.size for v in weights(tmp_path / "one").values())
    sent = int((tmp_path / "bytes-sent").read_text())
    assert sent > 4 * parameters, f"{sent} bytes crossed the link for {parameters} parameters"
