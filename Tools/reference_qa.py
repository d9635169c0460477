"""Fine-tune an extractive question-answering model with transformers' Trainer the way
examples/pytorch/question-answering/run_qa.py does (transformers 5.24.0), on the same SQuAD-format file and recipe as
`bertkit finetune --task question-answering`, and score a model on a SQuAD-format file the way run_qa.py's evaluation
does: prepare_validation_features → the model's start/end logits → utils_qa.postprocess_qa_predictions → the squad or
squad_v2 metric. Pinned stack: Tools/requirements.txt.

    Tools/python Tools/reference_qa.py --model DIR --train train.json --eval dev.json [--epochs 2] [--lr 5e-5]
        [--batch-size 16] [--max-length 384] [--doc-stride 128] [--weight-decay 0.0] [--seed 42] [--threads 2]
        [--version-2-with-negative] [--null-score-diff-threshold 0.0] [--output DIR] [--write-predictions DIR]
    Tools/python Tools/reference_qa.py --model TRAINED_DIR --eval dev.json --evaluate-only [same feature options]

Prints one JSON object: the evaluation scores (named as `bertkit evaluate --json` names them), and the seconds taken.

The reference code is not copied again here: run_qa.py's prepare_train_features / prepare_validation_features,
utils_qa.py's postprocess_qa_predictions and the squad / squad_v2 metrics are the verbatim copies in
Tools/fixtures/make_qa_fixtures.py (commits listed there), imported. Where this differs from running run_qa.py itself:
- padding: run_qa pads every window to --max_seq_length by default (pad_to_max_length True); this runs it as
  `--pad_to_max_length False` (DataCollatorWithPadding, the collator run_qa then uses), which is what bertkit does. It
  changes no training number, but with padded rows the pad positions' logits take n-best slots in post-processing
  (Fixtures/qa/postprocess.json, `*_pad_logits`); here every window's logits are its own length.
- SQuAD 2.0 scoring: run_qa passes no_answer_probability 0.0 for every question, which makes best_exact / best_f1 depend
  on the order of the questions. This passes the real null odds (postprocess_qa_predictions' null_odds.json), rounded to
  float32 as evaluate's Arrow features round them, with no_answer_threshold = --null-score-diff-threshold: bertkit's
  choice (the odds are already compared with that threshold in post-processing, so no prediction changes; with the
  metric's default 1.0 the HasAns/NoAns figures would not change either, only the meaning of the threshold).
The tests (Tests/Interop/test_qa_interop.py) and Tools/compare_qa.py import the helpers below."""
import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TQDM_DISABLE", "1")   # utils_qa wraps its loop in tqdm
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
import make_qa_fixtures as verbatim  # noqa: E402  (run_qa.py, utils_qa.py and evaluate's squad metrics, verbatim)

FEATURE_KEYS = ["input_ids", "token_type_ids", "attention_mask"]


# --- data ------------------------------------------------------------------------------------------------------------

def read_records(path):
    """run_qa.py's flat records from a SQuAD-format file: {"data": [flat records]} (run_qa's json with field "data"),
    the official nested layout (flattened as the `datasets` squad loaders do), or JSON lines of flat records."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    data = json.loads(text)
    if data["data"] and "paragraphs" in data["data"][0]:
        return verbatim.flatten_squad(data)
    return data["data"]


def write_records(path, records, version="bertkit-sample"):
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"version": version, "data": records}, f, ensure_ascii=False)
    return path


def columns(records):
    """A `datasets` batch (column name → list) of fresh lists: the feature functions replace the question column."""
    return {key: [r[key] for r in records] for key in ("id", "question", "context", "answers")}


# --- run_qa.py's features ----------------------------------------------------------------------------------------------

def train_features(tokenizer, records, max_length, doc_stride):
    """prepare_train_features (pad_to_max_length False) as Trainer rows, in feature order."""
    prepare_train, _ = verbatim.run_qa_feature_functions(tokenizer, min(max_length, tokenizer.model_max_length), doc_stride, False)
    tokenized = prepare_train(columns(records))
    keys = [key for key in FEATURE_KEYS if key in tokenized] + ["start_positions", "end_positions"]   # RoBERTa: no types
    return [{key: tokenized[key][i] for key in keys} for i in range(len(tokenized["input_ids"]))]


def validation_features(tokenizer, records, max_length, doc_stride):
    """prepare_validation_features (pad_to_max_length False): model inputs, example_id and context-only offsets."""
    _, prepare_validation = verbatim.run_qa_feature_functions(tokenizer, min(max_length, tokenizer.model_max_length), doc_stride,
                                                              False)
    tokenized = prepare_validation(columns(records))
    keys = [key for key in FEATURE_KEYS if key in tokenized] + ["example_id", "offset_mapping"]
    return [{key: tokenized[key][i] for key in keys} for i in range(len(tokenized["input_ids"]))]


def window_logits(model, features):
    """Each window's start and end logits (float32 numpy rows of the window's own length), one window per forward
    pass: no padding, so no pad position can enter the n-best (what run_qa's -100 padding of shorter rows amounts to)."""
    import numpy as np
    import torch
    model.eval()
    starts, ends = [], []
    with torch.no_grad():
        for feature in features:
            out = model(**{key: torch.tensor([feature[key]]) for key in FEATURE_KEYS if key in feature})
            starts.append(out.start_logits[0].numpy().astype(np.float32))
            ends.append(out.end_logits[0].numpy().astype(np.float32))
    return starts, ends


def window_loss(model, tokenizer, features, batch_size):
    """The Trainer's evaluation loss: BertForQuestionAnswering's loss ((start CE + end CE) / 2) on batches of
    `batch_size` windows in order, each padded to its longest window by DataCollatorWithPadding, weighted by batch
    size. The model puts no mask on the logits, so pad positions take part in the softmax and the figure depends on
    the batching (bertkit's evaluation loss does the same)."""
    import torch
    from transformers import DataCollatorWithPadding
    collate = DataCollatorWithPadding(tokenizer)
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(features), batch_size):
            chunk = features[i:i + batch_size]
            total += model(**collate(chunk)).loss.item() * len(chunk)
    return total / max(len(features), 1)


# --- utils_qa.py's post-processing and the squad metrics ---------------------------------------------------------------

def postprocess(records, features, starts, ends, version_2_with_negative, null_score_diff_threshold=0.0, n_best_size=20,
                max_answer_length=30):
    """postprocess_qa_predictions → (predictions, n-best lists, null odds or None), as the files it writes."""
    with tempfile.TemporaryDirectory() as folder:
        predictions = verbatim.postprocess_qa_predictions(
            examples=verbatim.Rows(records), features=verbatim.Rows(features), predictions=(starts, ends),
            version_2_with_negative=version_2_with_negative, n_best_size=n_best_size, max_answer_length=max_answer_length,
            null_score_diff_threshold=null_score_diff_threshold, output_dir=folder)
        with open(os.path.join(folder, "nbest_predictions.json"), encoding="utf-8") as f:
            nbest = json.load(f)
        null_odds = None
        if version_2_with_negative:
            with open(os.path.join(folder, "null_odds.json"), encoding="utf-8") as f:
                null_odds = json.load(f)
    return dict(predictions), nbest, null_odds


def squad_scores(records, predictions, null_odds=None, no_answer_threshold=0.0):
    """The squad metric (null_odds None) or squad_v2 with the null odds as no_answer_probability, through evaluate's
    float32 features; keys renamed as `bertkit evaluate --json` names them (exact → exact_match, total → n)."""
    references = [{"id": r["id"], "answers": r["answers"]} for r in records]
    if null_odds is None:
        formatted = [{"id": k, "prediction_text": v} for k, v in predictions.items()]
        preds, refs = verbatim.through_evaluate_features(formatted, references)
        return dict(verbatim.squad_compute(preds, refs), n=len(refs))
    formatted = [{"id": k, "prediction_text": v, "no_answer_probability": null_odds[k]} for k, v in predictions.items()]
    preds, refs = verbatim.through_evaluate_features(formatted, references)
    out = verbatim.squad_v2_compute(preds, refs, no_answer_threshold=no_answer_threshold)
    renamed = {"exact": "exact_match", "total": "n"}
    return {renamed.get(key, key): value for key, value in out.items()}


def evaluate_model(model, tokenizer, records, max_length, doc_stride, version_2_with_negative, null_score_diff_threshold=0.0):
    """run_qa.py's evaluation of `model` on `records`: scores, predictions, n-best lists and null odds."""
    features = validation_features(tokenizer, records, max_length, doc_stride)
    starts, ends = window_logits(model, features)
    predictions, nbest, null_odds = postprocess(records, features, starts, ends, version_2_with_negative,
                                                null_score_diff_threshold)
    scores = squad_scores(records, predictions, null_odds, null_score_diff_threshold)
    return {"scores": scores, "predictions": predictions, "nbest": nbest, "null_odds": null_odds, "features": len(features)}


# --- the run_qa recipe -----------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--train")
    parser.add_argument("--eval", required=True)
    parser.add_argument("--evaluate-only", action="store_true", help="score --model on --eval, no training")
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--doc-stride", type=int, default=128)
    parser.add_argument("--weight-decay", type=float, default=0.0, help="TrainingArguments' default, which run_qa keeps")
    parser.add_argument("--version-2-with-negative", action="store_true")
    parser.add_argument("--null-score-diff-threshold", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", default="/tmp/bertkit-reference-qa")
    parser.add_argument("--write-predictions", help="also write predictions.json (and null_odds.json) of --eval here")
    args = parser.parse_args()

    import torch
    from transformers import (AutoModelForQuestionAnswering, AutoTokenizer, DataCollatorWithPadding, Trainer, TrainingArguments,
                              set_seed)
    torch.set_num_threads(args.threads)
    start = time.time()
    evaluation = read_records(args.eval)

    def report(model, tokenizer):
        result = evaluate_model(model, tokenizer, evaluation, args.max_length, args.doc_stride, args.version_2_with_negative,
                                args.null_score_diff_threshold)
        if args.write_predictions:
            os.makedirs(args.write_predictions, exist_ok=True)
            for name, value in [("predictions", result["predictions"]), ("null_odds", result["null_odds"])]:
                if value is not None:
                    with open(os.path.join(args.write_predictions, f"{name}.json"), "w", encoding="utf-8") as f:
                        json.dump(value, f, indent=4, ensure_ascii=False)
        return {"eval": result["scores"], "eval_features": result["features"]}

    if args.evaluate_only:
        model = AutoModelForQuestionAnswering.from_pretrained(args.model)
        print(json.dumps({**report(model, AutoTokenizer.from_pretrained(args.model)), "seconds": time.time() - start}))
        return
    if not args.train:
        parser.error("--train is needed unless --evaluate-only")

    # run_qa.py: the seed is set before the model (and its new qa_outputs) is made.
    set_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForQuestionAnswering.from_pretrained(args.model)
    records = read_records(args.train)
    features = train_features(tokenizer, records, args.max_length, args.doc_stride)
    training_args = TrainingArguments(
        output_dir=args.output, num_train_epochs=args.epochs, learning_rate=args.lr, per_device_train_batch_size=args.batch_size,
        weight_decay=args.weight_decay, seed=args.seed, save_strategy="no", logging_strategy="no", report_to=[], use_cpu=True,
        disable_tqdm=True)
    trainer = Trainer(model=model, args=training_args, train_dataset=features, processing_class=tokenizer,
                      data_collator=DataCollatorWithPadding(tokenizer))
    train_start = time.time()
    outcome = trainer.train()
    train_seconds = time.time() - train_start
    print(json.dumps({**report(trainer.model, tokenizer), "train_examples": len(records), "train_features": len(features),
                      "steps": outcome.global_step, "train_loss": outcome.training_loss, "train_seconds": train_seconds,
                      "seconds": time.time() - start, "seed": args.seed}))


if __name__ == "__main__":
    main()
