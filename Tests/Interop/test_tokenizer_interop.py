"""bertkit tokenize against the Rust `tokenizers` fast tokenizer live, on strings generated here (not the
committed goldens): seeded random mixes of scripts, accents, emoji, controls, whitespace and special
tokens, with the real bert-base-uncased vocabulary (all-MiniLM-L6-v2's)."""
import json
import os
import random

from tokenizers import Tokenizer

CACHE = os.environ.get("BERTKIT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "bertkit"))
MINILM = os.path.join(CACHE, "models", "all-MiniLM-L6-v2")
POOLS = ["abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " \t\u00a0\u3000\u2009\u000b",
         "éèêëàâäïîôöüûçñÉÀÖ", "\u0301\u0308\u0327", "中文字漢語日本語", "한국어", "русский", "العربية", "😀👍🏽👨‍👩‍👧🇫🇷",
         ".,;:!?'\"()[]{}-–—…«»/\\@#$%^&*_+=<>|~`", "\u200b\u200d\ufeff\u0000\u0007\ufffd", "ﬁＡＢＣ１２３"]


def random_text(rng):
    parts = []
    for _ in range(rng.randint(0, 12)):
        choice = rng.random()
        if choice < 0.08:
            parts.append(rng.choice(["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]"]))
        elif choice < 0.12:
            parts.append("a" * rng.randint(95, 105))
        else:
            pool = rng.choice(POOLS)
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 8))))
        parts.append(rng.choice([" ", "", "  ", "\t"]))
    return "".join(parts)


def test_random_strings_match_tokenizers(bertkit, tmp_path):
    rng = random.Random(2024)
    texts = [random_text(rng) for _ in range(1500)]
    texts = [t for t in texts if "\n" not in t and "\r" not in t]   # one text per line in the file
    assert len(texts) > 100
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    result = bertkit("tokenize", "--model", MINILM, "--file", path, "--json-lines")
    mine = [json.loads(line) for line in result.stdout.splitlines()]
    reference = Tokenizer.from_file(os.path.join(MINILM, "tokenizer.json"))
    reference.no_truncation()
    reference.no_padding()
    assert len(mine) == len(texts)   # one encoding per line, empty lines included
    for text, encoding in zip(texts, mine):
        expected = reference.encode(text)
        assert encoding["input_ids"] == expected.ids, text
        assert encoding["offsets"] == [list(o) for o in expected.offsets], text
        assert encoding["word_ids"] == expected.word_ids, text
        assert encoding["token_type_ids"] == expected.type_ids, text
        assert encoding["attention_mask"] == expected.attention_mask, text


SENTIMENT = os.path.join(CACHE, "data", "sentiment", "all.txt")


def corpus_texts():
    """The whole sentiment corpus of the vaderSentiment 3.3.2 sdist (Tools/fetch): 23,703 real movie-review,
    Amazon-review, editorial and tweet snippets."""
    with open(SENTIMENT, encoding="utf-8") as f:
        texts = f.read().split("\n")[:-1]
    assert len(texts) > 20000
    return texts


def test_real_sentiment_corpus_matches_tokenizers(bertkit, tmp_path):
    """Every snippet of the real corpus, single texts, without truncation."""
    texts = corpus_texts()
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    mine = [json.loads(line) for line in bertkit("tokenize", "--model", MINILM, "--file", path, "--json-lines").stdout.splitlines()]
    reference = Tokenizer.from_file(os.path.join(MINILM, "tokenizer.json"))
    reference.no_truncation()
    reference.no_padding()
    assert len(mine) == len(texts)
    for text, encoding, expected in zip(texts, mine, reference.encode_batch(texts)):
        assert encoding["input_ids"] == expected.ids, text
        assert encoding["offsets"] == [list(o) for o in expected.offsets], text
        assert encoding["word_ids"] == expected.word_ids, text
        assert encoding["token_type_ids"] == expected.type_ids, text
        assert encoding["attention_mask"] == expected.attention_mask, text


def test_real_sentiment_pairs_with_truncation_match_tokenizers(bertkit, tmp_path):
    """Consecutive snippets as (first, second) pairs, truncated to 48 tokens with longest_first, as
    `tokenizer(a, b, max_length=48, truncation=True)` does."""
    texts = [t.replace("\t", " ") for t in corpus_texts()[:4000]]
    pairs = list(zip(texts[0::2], texts[1::2]))
    path = tmp_path / "pairs.txt"
    path.write_text("".join(f"{a}\t{b}\n" for a, b in pairs), encoding="utf-8")
    mine = [json.loads(line) for line in bertkit("tokenize", "--model", MINILM, "--file", path, "--pair",
                                                 "--max-length", "48", "--json-lines").stdout.splitlines()]
    reference = Tokenizer.from_file(os.path.join(MINILM, "tokenizer.json"))
    reference.enable_truncation(48, strategy="longest_first")
    reference.no_padding()
    assert len(mine) == len(pairs)
    for (a, b), encoding, expected in zip(pairs, mine, reference.encode_batch(pairs)):
        assert encoding["input_ids"] == expected.ids, (a, b)
        assert encoding["token_type_ids"] == expected.type_ids, (a, b)
        assert encoding["offsets"] == [list(o) for o in expected.offsets], (a, b)
        assert encoding["word_ids"] == expected.word_ids, (a, b)
        assert encoding["attention_mask"] == expected.attention_mask, (a, b)
