"""Fine-tune a token classifier with transformers' Trainer the way examples/pytorch/token-classification/run_ner.py
does (transformers 5.24.0), on the same CoNLL file and recipe as `bertkit finetune --task token-classification`, and
score a model on a CoNLL file with seqeval as run_ner.py's compute_metrics does (evaluate's seqeval metric is not
installed, so seqeval 1.2.2 is called the way that metric calls it). Pinned stack: Tools/requirements.txt.

    Tools/python Tools/reference_ner.py --model DIR --train train.conll --test test.conll [--epochs 3] [--lr 5e-5]
        [--batch-size 16] [--max-length 128] [--weight-decay 0.0] [--seed 42] [--threads 2] [--output DIR]
    Tools/python Tools/reference_ner.py --model TRAINED_DIR --test test.conll --evaluate-only [--max-length 128]

Prints one JSON object: the test scores under two protocols, and the seconds taken.
- "run_ner": run_ner.py's own evaluation: each sentence tokenised with truncation at --max-length, so the words
  of a longer sentence past the limit are neither predicted nor scored.
- "windows": bertkit's evaluation (Sources/Tasks/TokenClassification, TokenWindows): a sentence longer than
  --max-length becomes half-overlapping windows ([CLS] piece… [SEP], BERT's template) and each word piece is scored
  once, in the window where it has the most context. Both protocols agree on every sentence that fits.
The tests (Tests/Interop/test_ner_interop.py) and Tools/compare_ner.py import the helpers below."""
import argparse
import json
import time


# --- CoNLL files ---------------------------------------------------------------------------------------------------

def read_conll(path):
    """Sentences as lists of rows (the columns of each line): `-DOCSTART-` lines and blank lines end a sentence;
    the word is the first column and the tag the last, as bertkit reads them."""
    sentences, current = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            columns = line.split()
            if not columns or columns[0] == "-DOCSTART-":
                if current:
                    sentences.append(current)
                current = []
            else:
                current.append(columns)
    if current:
        sentences.append(current)
    return sentences


def write_conll(path, sentences):
    with open(path, "w", encoding="utf-8") as f:
        for rows in sentences:
            f.write("".join(" ".join(columns) + "\n" for columns in rows) + "\n")
    return path


def words_and_tags(sentences):
    return {"tokens": [[row[0] for row in rows] for rows in sentences],
            "ner_tags": [[row[-1] for row in rows] for rows in sentences]}


# --- run_ner.py's label handling, copied from transformers' examples/pytorch/token-classification/run_ner.py --------

def get_label_list(labels):
    unique_labels = set()
    for label in labels:
        unique_labels = unique_labels | set(label)
    label_list = list(unique_labels)
    label_list.sort()
    return label_list


def tokenize_and_align_labels(tokenizer, examples, label_to_id, max_seq_length, label_all_tokens=False,
                              b_to_i_label=None, padding=False, text_column_name="tokens", label_column_name="ner_tags"):
    tokenized_inputs = tokenizer(
        examples[text_column_name],
        padding=padding,
        truncation=True,
        max_length=max_seq_length,
        # We use this argument because the texts in our dataset are lists of words (with a label for each word).
        is_split_into_words=True,
    )
    labels = []
    for i, label in enumerate(examples[label_column_name]):
        word_ids = tokenized_inputs.word_ids(batch_index=i)
        previous_word_idx = None
        label_ids = []
        for word_idx in word_ids:
            # Special tokens have a word id that is None. We set the label to -100 so they are automatically
            # ignored in the loss function.
            if word_idx is None:
                label_ids.append(-100)
            # We set the label for the first token of each word.
            elif word_idx != previous_word_idx:
                label_ids.append(label_to_id[label[word_idx]])
            # For the other tokens in a word, we set the label to either the current label or -100, depending on
            # the label_all_tokens flag.
            else:
                if label_all_tokens:
                    label_ids.append(b_to_i_label[label_to_id[label[word_idx]]])
                else:
                    label_ids.append(-100)
            previous_word_idx = word_idx

        labels.append(label_ids)
    tokenized_inputs["labels"] = labels
    return tokenized_inputs


def as_features(tokenized):
    """The rows a Trainer takes (a list of dicts), from tokenize_and_align_labels' batch output."""
    keys = [key for key in ["input_ids", "token_type_ids", "attention_mask", "labels"] if key in tokenized]   # RoBERTa: no types
    return [{key: tokenized[key][i] for key in keys} for i in range(len(tokenized["input_ids"]))]


# --- metrics: evaluate's seqeval `_compute` (defaults) and run_ner.py's compute_metrics ----------------------------

def seqeval_scores(predictions, references):
    from seqeval.metrics import accuracy_score, classification_report
    report = classification_report(y_true=references, y_pred=predictions, suffix=False, output_dict=True, scheme=None,
                                   mode=None, sample_weight=None, zero_division="warn")
    report.pop("macro avg")
    report.pop("weighted avg")
    overall = report.pop("micro avg")
    return {"precision": float(overall["precision"]), "recall": float(overall["recall"]), "f1": float(overall["f1-score"]),
            "accuracy": float(accuracy_score(y_true=references, y_pred=predictions)),
            "entities": int(overall["support"]), "sentences": len(references),
            "per_type": {name: {"precision": float(s["precision"]), "recall": float(s["recall"]), "f1": float(s["f1-score"]),
                                "support": int(s["support"])} for name, s in report.items()}}


# --- prediction under the two protocols -----------------------------------------------------------------------------

def bertkit_windows(count, room):
    """TokenWindows (Sources/Tasks/TokenClassification/TokenClassificationTask.swift): the windows over `count` word
    pieces and the window that owns each piece (most context on its poorer side, the earlier window on ties)."""
    if count <= room:
        return [(0, count)], [0] * count
    step, starts, start = max(1, room // 2), [], 0
    while start + room < count:
        starts.append(start)
        start += step
    starts.append(count - room)
    windows = [(s, s + room) for s in starts]
    owner = []
    for t in range(count):
        contexts = [(min(t - lo, hi - 1 - t), -w) for w, (lo, hi) in enumerate(windows) if lo <= t < hi]
        owner.append(-max(contexts)[1])
    return windows, owner


def protocol_examples(tokenizer, examples, label_to_id, max_length, protocol):
    """(sentence index, features) of every model input the protocol makes; labels -100 where nothing is scored."""
    if protocol == "run_ner":
        features = as_features(tokenize_and_align_labels(tokenizer, examples, label_to_id, max_length))
        return list(enumerate(features))
    out = []
    room = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    pieces = tokenizer(examples["tokens"], is_split_into_words=True, add_special_tokens=False)
    for i, tags in enumerate(examples["ner_tags"]):
        ids, word_ids = pieces["input_ids"][i], pieces.word_ids(batch_index=i)
        aligned = [label_to_id[tags[w]] if k == 0 or word_ids[k - 1] != w else -100 for k, w in enumerate(word_ids)]
        windows, owner = bertkit_windows(len(ids), room)
        for w, (lo, hi) in enumerate(windows):
            window_ids = [tokenizer.cls_token_id] + ids[lo:hi] + [tokenizer.sep_token_id]
            labels = [-100] + [aligned[t] if owner[t] == w else -100 for t in range(lo, hi)] + [-100]
            out.append((i, {"input_ids": window_ids, "token_type_ids": [0] * len(window_ids),
                            "attention_mask": [1] * len(window_ids), "labels": labels}))
    return out


def token_predictions(model, tokenizer, inputs, batch_size=64):
    """The argmax label id of every position of each distinct input (a tuple of ids), batched by length so that
    little is padded; an input's padding never changes its own logits (the attention mask hides it)."""
    import torch
    unique = sorted(set(inputs), key=len)
    argmax = {}
    model.eval()
    for start in range(0, len(unique), batch_size):
        chunk = unique[start:start + batch_size]
        width = max(map(len, chunk))
        ids = torch.tensor([list(row) + [tokenizer.pad_token_id] * (width - len(row)) for row in chunk])
        mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in chunk])
        with torch.no_grad():
            best = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).logits.argmax(-1)
        for row, predicted in zip(chunk, best.tolist()):
            argmax[row] = predicted[:len(row)]
    return argmax


def evaluate_model(model, tokenizer, sentences, max_length):
    """seqeval's scores of `model` under both protocols; as run_ner.py's compute_metrics, per sentence the labels of
    the scored positions (label != -100) and the argmax there."""
    label_list = [model.config.id2label[i] for i in range(model.config.num_labels)]
    label_to_id = {label: i for i, label in enumerate(label_list)}
    examples = words_and_tags(sentences)
    items = {protocol: protocol_examples(tokenizer, examples, label_to_id, max_length, protocol)
             for protocol in ("run_ner", "windows")}
    argmax = token_predictions(model, tokenizer, [tuple(f["input_ids"]) for runs in items.values() for _, f in runs])
    scores = {}
    for protocol, runs in items.items():
        predictions, references = [[] for _ in sentences], [[] for _ in sentences]
        for i, features in runs:
            predicted = argmax[tuple(features["input_ids"])]
            predictions[i] += [label_list[p] for p, label in zip(predicted, features["labels"]) if label != -100]
            references[i] += [label_list[label] for label in features["labels"] if label != -100]
        scores[protocol] = seqeval_scores(predictions, references)
    return scores


# --- the run_ner recipe -----------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--train")
    parser.add_argument("--test", required=True)
    parser.add_argument("--evaluate-only", action="store_true", help="score --model on --test, no training")
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--weight-decay", type=float, default=0.0, help="TrainingArguments' default, which run_ner keeps")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", default="/tmp/bertkit-reference-ner")
    args = parser.parse_args()

    import torch
    from transformers import (AutoConfig, AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification, Trainer,
                              TrainingArguments, set_seed)
    torch.set_num_threads(args.threads)
    start = time.time()
    test = read_conll(args.test)
    if args.evaluate_only:
        model = AutoModelForTokenClassification.from_pretrained(args.model)
        tokenizer = AutoTokenizer.from_pretrained(args.model)
        print(json.dumps({"test": evaluate_model(model, tokenizer, test, args.max_length), "seconds": time.time() - start}))
        return
    if not args.train:
        parser.error("--train is needed unless --evaluate-only")

    train = words_and_tags(read_conll(args.train))
    # run_ner.py: string tags → the sorted set of training labels; the seed is set before the model (and its new
    # classifier) is made.
    label_list = get_label_list(train["ner_tags"])
    label_to_id = {label: i for i, label in enumerate(label_list)}
    set_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.model, use_fast=True)
    config = AutoConfig.from_pretrained(args.model, num_labels=len(label_list), finetuning_task="ner")
    model = AutoModelForTokenClassification.from_pretrained(args.model, config=config)
    model.config.label2id = label_to_id
    model.config.id2label = dict(enumerate(label_list))
    features = as_features(tokenize_and_align_labels(tokenizer, train, label_to_id, args.max_length))
    cut = sum(len(tokenizer(words, is_split_into_words=True)["input_ids"]) > args.max_length for words in train["tokens"])
    training_args = TrainingArguments(
        output_dir=args.output, num_train_epochs=args.epochs, learning_rate=args.lr, per_device_train_batch_size=args.batch_size,
        weight_decay=args.weight_decay, seed=args.seed, save_strategy="no", logging_strategy="no", report_to=[], use_cpu=True,
        disable_tqdm=True)
    trainer = Trainer(model=model, args=training_args, train_dataset=features, processing_class=tokenizer,
                      data_collator=DataCollatorForTokenClassification(tokenizer))
    train_start = time.time()
    outcome = trainer.train()
    train_seconds = time.time() - train_start
    print(json.dumps({"test": evaluate_model(trainer.model, tokenizer, test, args.max_length),
                      "train_sentences": len(features), "train_sentences_truncated": cut, "steps": outcome.global_step,
                      "train_loss": outcome.training_loss, "labels": label_list, "train_seconds": train_seconds,
                      "seconds": time.time() - start, "seed": args.seed}))


if __name__ == "__main__":
    main()
