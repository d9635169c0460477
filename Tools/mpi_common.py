"""What the MPI runs of the test suite, the benchmark and Tools/mpi-two-hosts share: the environment Open MPI needs to
run as root (CI runs as root), the transports of a one-machine run, and the small labelled sentences the data-parallel
tests train the tiny fixture model on.

    Tools/python Tools/mpi_common.py root-env                  # KEY=VALUE lines, for `env` in a shell script
    Tools/python Tools/mpi_common.py sentiment PATH COUNT SEED  # writes a training CSV"""
import random
import sys

# mpirun refuses to run as root without both.
ROOT_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
# One machine: shared memory between local ranks (vader), TCP otherwise.
LOCAL_ENV = dict(ROOT_ENV, OMPI_MCA_btl="self,vader,tcp")

SUBJECTS = ["the movie", "this film", "the plot", "the story", "the actors", "it"]
GOOD, BAD = ["good", "great", "fun", "loved"], ["bad", "awful", "boring", "hated"]


def sentiment_csv(path, count, seed):
    """`count` labelled sentences of different lengths (so micro-batches are padded, and every rank's rows too) in the
    tiny fixture vocabulary, drawn from `seed`; writes them as CSV to `path` (str or pathlib.Path) and returns it."""
    r = random.Random(seed)
    lines = ["text,label"]
    for _ in range(count):
        good = r.random() < 0.5
        tail = "".join(f" and {r.choice(SUBJECTS)} was {r.choice(GOOD + BAD)}" for _ in range(r.randint(0, 5)))
        lines.append(f"{r.choice(SUBJECTS)} was very {r.choice(GOOD if good else BAD)}{tail},{'pos' if good else 'neg'}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    if sys.argv[1:2] == ["root-env"]:
        print("\n".join(f"{key}={value}" for key, value in ROOT_ENV.items()))
    elif sys.argv[1:2] == ["sentiment"] and len(sys.argv) == 5:
        sentiment_csv(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)
