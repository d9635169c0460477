"""What the step-for-step interop tests share: bertkit's data order recomputed in Python, the exact gradient norm of
the Trainer's steps, and the comparison of bertkit's training log with the Trainer's, step by step."""
import json

from transformers import TrainerCallback


# --- bertkit's data order ---------------------------------------------------------------------------------------------
# bertkit shuffles each epoch with its own generator (Sources/Training/TrainingData.swift: Shuffle.permutation, a
# Fisher-Yates over SplitMix64 seeded by SeedStream.epochOrder.seed(seed, index: epoch)); the Trainer draws from
# torch. To give both the same batches, the Trainer reads the examples sequentially in bertkit's order, recomputed
# here. If bertkit's shuffle changes, this copy must follow (otherwise the batches differ and step 1 already fails).

MASK64 = (1 << 64) - 1


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


class Stream:
    """bertkit's NormalGenerator (SplitMix64) seeded by SeedStream(purpose).seed(seed, index) (Sources/Training/TrainingData.swift)."""

    def __init__(self, seed, purpose, index):
        self.state = mix64((seed ^ mix64(((purpose << 40) ^ index) & MASK64)) & MASK64)

    def next_uint64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        return mix64(self.state)

    def next_uniform(self):
        return ((self.next_uint64() >> 11) + 0.5) / 9007199254740992.0


def bertkit_epoch_order(count, seed, epoch, purpose=3):  # SeedStream.epochOrder == 3
    stream = Stream(seed, purpose, epoch)
    order = list(range(count))
    for i in range(count - 1, 0, -1):
        j = stream.next_uint64() % (i + 1)
        order[i], order[j] = order[j], order[i]
    return order


class ExactGradientNorm(TrainerCallback):
    """The norm of every step's gradients (before clipping) summed in double. The Trainer logs clip_grad_norm_'s
    float32 norm, and torch 2.15's CPU `linalg.vector_norm` accumulates in float32: on MiniLM's 589,824-element
    intermediate.dense gradients it is up to 4e-5 (relative) off, so the logged total is ~1e-5 low (2.7177076 for
    2.7177338 at step 1 here), right at the seqcls test's tolerance. bertkit sums squares in double, so its norm is
    held to this one at that tolerance, and to the logged one at ten times it."""

    def __init__(self, model):
        self.norms, self.sum = [], 0.0
        for parameter in model.parameters():
            parameter.register_post_accumulate_grad_hook(self.add)

    def add(self, parameter):
        self.sum += parameter.grad.double().square().sum().item()

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        self.norms.append(self.sum ** 0.5)
        self.sum = 0.0


def bertkit_steps(folder):
    """(loss, grad_norm) of every logged step of a bertkit run's training_log.jsonl."""
    with open(folder / "training_log.jsonl", encoding="utf-8") as f:
        return [(e["loss"], e["grad_norm"]) for e in map(json.loads, f) if e.get("loss") is not None]


def trainer_steps(trainer):
    """(loss, grad_norm) of every step the Trainer logged (logging_steps=1)."""
    return [(h["loss"], h["grad_norm"]) for h in trainer.state.log_history if "loss" in h]


def assert_same_steps(ours, theirs, exact_norms, count, relative_loss=False):
    """Every step's loss within 1e-5 (relative to losses above 1 with `relative_loss`: a masked-LM loss starts near 10)
    and gradient norm within 1e-5 (relative) of the exact norm of the Trainer's gradients, 1e-4 of the float32 norm it
    logs (ExactGradientNorm says why the two differ)."""
    assert len(ours) == len(theirs) == len(exact_norms) == count, (ours, theirs, exact_norms)
    for step, ((loss, norm), (expected_loss, logged_norm), exact_norm) in enumerate(zip(ours, theirs, exact_norms), 1):
        report = (f"step {step}", "bertkit", ours, "Trainer", theirs, "exact norm of the Trainer's gradients", exact_norms)
        assert abs(loss - expected_loss) <= 1e-5 * (max(1.0, expected_loss) if relative_loss else 1.0), report
        assert abs(norm - exact_norm) <= 1e-5 * max(1.0, exact_norm), report
        assert abs(norm - logged_norm) <= 1e-4 * max(1.0, logged_norm), report
