"""Extractive question answering (issue 13) against the reference stack, end to end:

* step for step: `bertkit finetune --task question-answering` and transformers' Trainer with run_qa.py's
  prepare_train_features (Tools/reference_qa.py) train all-MiniLM-L6-v2 with dropout off on transformers' SQuAD test
  samples (Fixtures/qa/samples/sample.json) cut into overlapping windows (max length 128, stride 32), from the same
  new qa_outputs head, in the same batches, and log the same loss and gradient norm at every step; the exported
  BertForQuestionAnswering loads in transformers with the Trainer's start/end logits, and bertkit's own forward on
  it agrees (`bertkit parity`);
* `bertkit evaluate --version-two-with-negative --max-length 128 --doc-stride 32 --json --output DIR` on the SQuAD 2.0
  sample (Fixtures/qa/samples/dev-v2.0.json) with that export equals run_qa.py's evaluation in Python:
  prepare_validation_features → the export's logits in transformers → postprocess_qa_predictions → squad_v2.

The samples are Apache-2.0 and committed; the model comes from the cache (Tools/fetch), without it the tests skip."""
import json
import os
import sys
from types import SimpleNamespace

import pytest
import torch

from conftest import ROOT, fixture_path
from trainer_parity import ExactGradientNorm, assert_same_steps, bertkit_epoch_order, bertkit_steps, trainer_steps

sys.path.insert(0, os.path.join(ROOT, "Tools"))
import reference_qa  # noqa: E402  (run_qa.py's features, utils_qa.py's post-processing, squad_v2: verbatim copies)
from make_reference import reference_outputs, save_reference  # noqa: E402

CACHE = os.environ.get("BERTKIT_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "bertkit"))
MINILM = os.path.join(CACHE, "models", "all-MiniLM-L6-v2")
TRAIN = fixture_path("qa", "samples", "sample.json")
DEV = fixture_path("qa", "samples", "dev-v2.0.json")
MAX_LENGTH, STRIDE, BATCH, STEPS, SEED, LR, WEIGHT_DECAY = 128, 32, 8, 5, 1, 5e-5, 0.01
THREADS = ["--threads", "2"]


def minilm_or_skip():
    if not os.path.exists(os.path.join(MINILM, "model.safetensors")):
        pytest.skip(f"all-MiniLM-L6-v2 is not in the cache ({MINILM}): run Tools/fetch")


def bertkit_batches(count, steps):
    """The feature indices of bertkit's first `steps` micro-batches: each epoch a fresh permutation (bertkit's shuffle,
    recomputed by trainer_parity.bertkit_epoch_order) cut into batches of BATCH, the last one of an epoch short."""
    batches, epoch = [], 0
    while len(batches) < steps:
        order = bertkit_epoch_order(count, SEED, epoch)
        batches += [order[i:i + BATCH] for i in range(0, count, BATCH)]
        epoch += 1
    return batches[:steps]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, bertkit):
    """all-MiniLM-L6-v2 with a qa_outputs head made once by transformers (torch seed 0) and dropout 0 in config.json;
    bertkit finetune and the Trainer each take STEPS steps from it. sample.json's 14 questions make 28 windows at
    (128, 32), so with batch 8 steps 1-4 are bertkit's first epoch (the fourth batch holds 4 windows) and step 5 the
    first batch of its reshuffled second epoch: the order, the short batch and the dynamic padding of each batch all
    matter. The Trainer reads bertkit's batches one per step, each padded by DataCollatorWithPadding to its longest
    window as bertkit pads it (run_qa's default_data_collator would need windows padded to 128)."""
    from transformers import (AutoModelForQuestionAnswering, AutoTokenizer, BertConfig, BertForQuestionAnswering,
                              DataCollatorWithPadding, Trainer, TrainingArguments)
    minilm_or_skip()
    folder = tmp_path_factory.mktemp("qa")
    torch.manual_seed(0)
    config = BertConfig.from_pretrained(MINILM, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    start = folder / "start"
    BertForQuestionAnswering.from_pretrained(MINILM, config=config).save_pretrained(start)
    tokenizer = AutoTokenizer.from_pretrained(MINILM)
    tokenizer.save_pretrained(start)

    bertkit("finetune", "--task", "question-answering", "--model", start, "--train", TRAIN, "--output", folder / "bertkit",
            "--max-length", MAX_LENGTH, "--doc-stride", STRIDE, "--max-steps", STEPS, "--batch-size", BATCH, "--lr", LR,
            "--weight-decay", WEIGHT_DECAY, "--seed", SEED, "--logging-steps", "1", "--save-every", "never", *THREADS)
    log = bertkit_steps(folder / "bertkit")

    features = reference_qa.train_features(tokenizer, reference_qa.read_records(TRAIN), MAX_LENGTH, STRIDE)
    collate = DataCollatorWithPadding(tokenizer)
    batches = [dict(collate([features[i] for i in batch])) for batch in bertkit_batches(len(features), STEPS)]
    model = AutoModelForQuestionAnswering.from_pretrained(start)
    arguments = TrainingArguments(output_dir=str(folder / "trainer"), max_steps=STEPS, learning_rate=LR,
                                  per_device_train_batch_size=1, weight_decay=WEIGHT_DECAY, train_sampling_strategy="sequential",
                                  save_strategy="no", logging_steps=1, report_to=[], use_cpu=True, disable_tqdm=True, seed=SEED)
    exact = ExactGradientNorm(model)
    trainer = Trainer(model=model, args=arguments, train_dataset=batches, data_collator=lambda rows: rows[0], callbacks=[exact])
    trainer.train()
    expected = trainer_steps(trainer)
    return SimpleNamespace(start=start, export=folder / "bertkit", tokenizer=tokenizer, model=model.eval(), log=log,
                           expected=expected, exact_norms=exact.norms, features=features, batches=batches)


def test_question_answering_steps_on_minilm_equal_transformers_trainer(trained):
    """Every step's loss within 1e-5 and gradient norm within 1e-5 (relative) of the exact norm of the Trainer's
    gradients (1e-4 of the float32 norm it logs), the tolerances of the sequence- and token-classification goldens."""
    assert len(trained.features) == 28 and [len(b["input_ids"]) for b in trained.batches] == [8, 8, 8, 4, 8]
    # The windows overflow and the labels are not all [CLS]: the batches really test the stride and the labels.
    assert sum(f["start_positions"] != 0 for f in trained.features) >= 8
    assert_same_steps(trained.log, trained.expected, trained.exact_norms, STEPS)


def test_export_has_the_trainers_start_and_end_logits(trained, bertkit, tmp_path):
    """The export loads as a BertForQuestionAnswering with the Trainer's weights, and gives the Trainer's model's start
    and end logits on every (128, 32) validation window of dev-v2.0.json (run one at a time) up to one constant per
    window and side; bertkit's own forward on the export equals transformers' on a padded batch of windows (`bertkit
    parity`, 1e-5).

    Why a constant: the QA loss is a softmax over positions, so adding the same number to every start (or end) logit of
    a window changes nothing. Two parameters do exactly that and so have a gradient of exactly zero: qa_outputs.bias,
    and the last LayerNorm's bias (it reaches the logits only through qa_outputs.weight, adding W·b to every position).
    Their computed gradients are float32 rounding noise (about 1e-7), which AdamW divides by its own square root: each
    step moves them by up to ±lr in a direction the rounding picks, and the two stacks round differently (here
    qa_outputs.bias ends 1.1e-4 apart; the Trainer itself moved it by 9e-5). Every other weight must agree within 1e-5
    (the attention key biases, also of zero gradient, have noise below AdamW's eps, so they barely move), the shifts
    must be the ones those two biases predict, and the logits with the shift removed must agree within 1e-5."""
    from safetensors.torch import load_file
    from transformers import AutoModelForQuestionAnswering
    exported, info = AutoModelForQuestionAnswering.from_pretrained(trained.export, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    assert exported.config.architectures == ["BertForQuestionAnswering"]
    ours_state, theirs_state = load_file(trained.export / "model.safetensors"), trained.model.state_dict()
    last_norm = f"bert.encoder.layer.{exported.config.num_hidden_layers - 1}.output.LayerNorm.bias"
    shifting = {"qa_outputs.bias", last_norm}
    assert set(ours_state) == set(theirs_state)
    worst = {k: (ours_state[k] - v).abs().max().item() for k, v in theirs_state.items() if k not in shifting}
    assert max(worst.values()) <= 1e-5, sorted(worst.items(), key=lambda kv: -kv[1])[:5]
    total_lr = LR * (STEPS + 1) / 2   # the linear schedule's learning rates summed: the farthest AdamW can move a weight
    assert all((ours_state[k] - theirs_state[k]).abs().max().item() <= 2 * total_lr for k in shifting)
    predicted = (ours_state["qa_outputs.bias"] - theirs_state["qa_outputs.bias"]
                 + theirs_state["qa_outputs.weight"] @ (ours_state[last_norm] - theirs_state[last_norm]))

    windows = reference_qa.validation_features(trained.tokenizer, reference_qa.read_records(DEV), MAX_LENGTH, STRIDE)
    ours, theirs = reference_qa.window_logits(exported.eval(), windows), reference_qa.window_logits(trained.model, windows)
    for side in (0, 1):
        for a, b in zip(ours[side], theirs[side]):
            shift = float((a - b).mean())
            assert abs(shift - predicted[side].item()) <= 1e-5, (side, shift, predicted)
            assert abs((a - b) - shift).max() <= 1e-5, (side, abs((a - b) - shift).max())
    base = reference_qa.window_logits(AutoModelForQuestionAnswering.from_pretrained(trained.start), windows)
    assert max(abs((a - a.mean()) - (b - b.mean())).max() for a, b in zip(theirs[0], base[0])) > 1e-3, "five steps changed nothing"

    picked = windows[::5]
    enc = trained.tokenizer.pad([{key: w[key] for key in reference_qa.FEATURE_KEYS} for w in picked], return_tensors="pt")
    outputs = reference_outputs(exported, "question-answering", enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
    # The logits only: the hidden states (up to 5.8 in size) of pad positions differ by float32 noise up to 2.3e-5.
    # The logits of pad positions carry that noise too: the largest difference, at a pad position, was 9.9e-6 with
    # OpenBLAS's products and 1.01e-5 with the packed fp32 kernel (2026-12-04; over the three windows without padding:
    # 7.6e-7 and 1.2e-6), so 2e-5.
    outputs = {key: outputs[key] for key in ("start_logits", "end_logits")}
    path = tmp_path / "reference.safetensors"
    save_reference(path, {key: enc[key] for key in reference_qa.FEATURE_KEYS}, outputs, {"head": "question-answering"})
    result = bertkit("parity", "--model", trained.export, "--reference", path, "--atol", "2e-5", "--json", check=False)
    report = json.loads(result.stdout) if result.stdout else {}
    assert result.returncode == 0 and report.get("ok"), (result.stdout, result.stderr)


# --- bertkit evaluate against run_qa.py's evaluation ---------------------------------------------------------------------

def test_evaluate_squad_v2_equals_run_qa_postprocessing_and_squad_v2(trained, bertkit, tmp_path):
    """The export from the five steps above on dev-v2.0.json (14 questions, 6 unanswerable, 28 windows at (128, 32)).
    Reference: prepare_validation_features, the export's logits in transformers window by window (unpadded, so no pad
    position takes an n-best slot), postprocess_qa_predictions(version_2_with_negative=True, threshold 0.0), then
    squad_v2 with the real null odds as no_answer_probability (rounded to float32, as evaluate's Arrow features round
    them) and no_answer_threshold 0.0 = the post-processing threshold. That pairing is bertkit's choice: run_qa passes
    0.0 for every probability (meaningless best_* figures) and leaves the metric at its default 1.0.
    predictions.json must be equal, the n-best texts equal (logits and probabilities 1e-4), null_odds.json within 1e-4,
    and exact/f1/n and the HasAns, NoAns and best_* figures equal (the thresholds, which are null odds, within 1e-4).
    bertkit's scores must also be exactly what squad_v2 gives on bertkit's own predictions.json and null_odds.json,
    and its loss the Trainer's evaluation loss: BertForQuestionAnswering's loss on prepare_train_features' windows of
    the file in batches of 32 padded to their longest window (pad positions in the softmax, as transformers has it)."""
    from transformers import AutoModelForQuestionAnswering
    out = tmp_path / "evaluation"
    result = bertkit("evaluate", "--model", trained.export, "--data", DEV, "--version-two-with-negative", "--max-length", MAX_LENGTH,
                     "--doc-stride", STRIDE, "--json", "--output", out, *THREADS)
    ours = json.loads(result.stdout)
    files = {}
    for name in ("predictions", "nbest_predictions", "null_odds"):
        with open(out / f"{name}.json", encoding="utf-8") as f:
            files[name] = json.load(f)

    records = reference_qa.read_records(DEV)
    model = AutoModelForQuestionAnswering.from_pretrained(trained.export).eval()
    reference = reference_qa.evaluate_model(model, trained.tokenizer, records, MAX_LENGTH, STRIDE, version_2_with_negative=True,
                                            null_score_diff_threshold=0.0)
    assert reference["features"] == 28
    expected = reference["scores"]
    # A model that answers nothing, or everything, would not test the threshold: want both kinds of prediction.
    answered = [qid for qid, text in reference["predictions"].items() if text]
    assert 0 < len(answered) < len(records), reference["predictions"]

    assert list(files["predictions"].items()) == list(reference["predictions"].items())
    assert list(files["null_odds"]) == list(reference["null_odds"])
    worst = max(abs(files["null_odds"][k] - v) for k, v in reference["null_odds"].items())
    assert worst <= 1e-4, (worst, files["null_odds"], reference["null_odds"])
    assert list(files["nbest_predictions"]) == list(reference["nbest"])
    for qid, entries in reference["nbest"].items():
        theirs = files["nbest_predictions"][qid]
        assert [e["text"] for e in theirs] == [e["text"] for e in entries], qid
        for a, b in zip(theirs, entries):
            assert list(a) == list(b), (qid, a, b)   # key order as utils_qa writes it
            assert all(abs(a[key] - b[key]) <= 1e-4 for key in ("start_logit", "end_logit", "probability")), (qid, a, b)

    counts = ["n", "HasAns_total", "NoAns_total"]
    figures = ["exact_match", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1", "best_exact", "best_f1"]
    assert set(expected) == set(counts + figures + ["best_exact_thresh", "best_f1_thresh"]), expected
    assert {k: ours[k] for k in counts} == {k: expected[k] for k in counts}, (ours, expected)
    assert all(abs(ours[k] - expected[k]) <= 1e-9 for k in figures), (ours, expected)
    assert all(abs(ours[k] - expected[k]) <= 1e-4 for k in ("best_exact_thresh", "best_f1_thresh")), (ours, expected)

    # bertkit's numbers from its own files, exactly (the thresholds are its float32 null odds).
    own = reference_qa.squad_scores(records, files["predictions"], files["null_odds"], no_answer_threshold=0.0)
    assert all(abs(ours[k] - own[k]) <= 1e-12 for k in own), (ours, own)

    windows = reference_qa.train_features(trained.tokenizer, records, MAX_LENGTH, STRIDE)
    loss = reference_qa.window_loss(model, trained.tokenizer, windows, batch_size=32)   # bertkit evaluate's --batch-size
    assert abs(ours["loss"] - loss) <= 1e-5, (ours["loss"], loss)


def test_evaluate_takes_the_flag_spelling_of_issue_13(trained, bertkit, tmp_path):
    """Issue 13 spells the flag `--version-2-with-negative` (run_qa.py's --version_2_with_negative, dashed) in the
    command it will check with; it must give what `--version-two-with-negative` gives."""
    spelled = [bertkit("evaluate", "--model", trained.export, "--data", DEV, flag, "--max-length", MAX_LENGTH, "--doc-stride",
                       STRIDE, "--json", *THREADS, check=False) for flag in ("--version-2-with-negative", "--version-two-with-negative")]
    assert spelled[0].returncode == 0, spelled[0].stderr
    assert json.loads(spelled[0].stdout) == json.loads(spelled[1].stdout)
