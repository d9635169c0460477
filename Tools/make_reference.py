"""Write a parity reference file for `bertkit parity`: run a model directory with transformers on some
texts (or on given token ids) and save the inputs and every output as one safetensors file.

    Tools/python Tools/make_reference.py --model DIR --out reference.safetensors [--head HEAD]
        [--max-length N] [--attn-implementation eager|sdpa] -- "first text" "second text" ...

Tensors written: input_ids, attention_mask, token_type_ids (I64, [B, T]) and, depending on the head,
logits ([B, L], [B, T, L] or [B, T, V]), start_logits / end_logits ([B, T]), last_hidden_state
([B, T, H]) and pooler_output ([B, H]) from the encoder. Metadata records the versions and the head.
"""
import argparse
import os
import sys

HEADS = {   # bertkit's head → the transformers class suffix (BertModel, DistilBertForMaskedLM, RobertaForQuestionAnswering …)
    "base": "Model",
    "sequence-classification": "ForSequenceClassification",
    "token-classification": "ForTokenClassification",
    "question-answering": "ForQuestionAnswering",
    "masked-lm": "ForMaskedLM",
}
FAMILIES = {"bert": "Bert", "distilbert": "DistilBert", "roberta": "Roberta"}   # model_type → class prefix
OTHER_MASKED_LM = {"BertForPreTraining"}


def family_of(model_dir):
    import json
    return json.load(open(os.path.join(model_dir, "config.json"))).get("model_type") or "bert"


def head_of(model_dir):
    import json
    config = json.load(open(os.path.join(model_dir, "config.json")))
    prefix = FAMILIES.get(config.get("model_type") or "bert", "Bert")
    for name in config.get("architectures") or []:
        if name in OTHER_MASKED_LM:
            return "masked-lm"
        for head, suffix in HEADS.items():
            if name == prefix + suffix:
                return head
    return "base"


def load_model(model_dir, head, attn_implementation="eager"):
    import transformers
    cls = getattr(transformers, FAMILIES[family_of(model_dir)] + HEADS[head])
    model = cls.from_pretrained(model_dir, attn_implementation=attn_implementation)
    return model.eval()


def reference_outputs(model, head, input_ids, attention_mask, token_type_ids):
    """All outputs `bertkit parity` checks, as float32 CPU tensors. DistilBERT takes no token_type_ids."""
    import torch
    kwargs = dict(input_ids=input_ids, attention_mask=attention_mask)
    if model.config.model_type != "distilbert":
        kwargs["token_type_ids"] = token_type_ids
    with torch.no_grad():
        encoder = model if head == "base" else model.base_model
        enc = encoder(**kwargs)
        out = {"last_hidden_state": enc.last_hidden_state}
        if getattr(enc, "pooler_output", None) is not None:
            out["pooler_output"] = enc.pooler_output
        if head != "base":
            result = model(**kwargs)
            if head == "question-answering":
                out["start_logits"] = result.start_logits
                out["end_logits"] = result.end_logits
            else:
                out["logits"] = result.logits
    return {k: v.detach().float().contiguous() for k, v in out.items()}


def save_reference(path, inputs, outputs, metadata):
    import torch
    from safetensors.torch import save_file
    tensors = {k: v.to(torch.int64).contiguous() for k, v in inputs.items()}
    tensors.update(outputs)
    save_file(tensors, path, metadata={k: str(v) for k, v in metadata.items()})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--head", choices=sorted(HEADS))
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--attn-implementation", default="eager", choices=["eager", "sdpa"])
    parser.add_argument("--pair", action="store_true", help="treat texts two by two as (text, text_pair)")
    parser.add_argument("texts", nargs="+")
    args = parser.parse_args()
    import torch
    import transformers
    from transformers import AutoTokenizer
    head = args.head or head_of(args.model)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if args.pair:
        first, second = args.texts[0::2], args.texts[1::2]
        enc = tokenizer(first, second, padding=True, truncation=True, max_length=args.max_length, return_tensors="pt")
    else:
        enc = tokenizer(args.texts, padding=True, truncation=True, max_length=args.max_length, return_tensors="pt")
    inputs = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
              "token_type_ids": enc.get("token_type_ids", torch.zeros_like(enc["input_ids"]))}
    model = load_model(args.model, head, args.attn_implementation)
    outputs = reference_outputs(model, head, **inputs)
    save_reference(args.out, inputs, outputs, {"head": head, "transformers": transformers.__version__,
                                               "torch": torch.__version__, "attn_implementation": args.attn_implementation})
    print(f"wrote {args.out}: {', '.join(f'{k} {list(v.shape)}' for k, v in {**inputs, **outputs}.items())}")


if __name__ == "__main__":
    main()
