// The transformers BERT classes bertkit reads and writes, as one table: the head each class builds, which
// parts it has (pooler, masked-LM head, next-sentence head) and its TensorFlow twin. `BertHead`, the Keras
// layout of the HDF5 codec and the PEFT adapter files all read this table; no other file lists the classes.
//
// Sources (pinned): transformers v5.24.0 `models/bert/modeling_bert.py` — which classes build their
// `BertModel` with `add_pooling_layer=False` (masked LM, LM head, token classification, question
// answering); transformers 4.x (the last with TensorFlow) `models/bert/modeling_tf_bert.py` for the TF twins and their Keras
// model names (the snake case of the class name, the first component of every variable name).

package struct BertClass: Sendable, Equatable {
    /// The PyTorch class name, as config.json's `architectures` writes it.
    package let name: String
    /// The head bertkit builds for it (BertForPreTraining and BertLMHeadModel run as a masked LM).
    package let head: BertHead
    /// Built with a pooler (`add_pooling_layer=True`).
    package let hasPooler: Bool
    /// Holds `cls.predictions.*` (the masked-LM head).
    package let hasMaskedLMHead: Bool
    /// Holds `cls.seq_relationship.*` (next-sentence prediction).
    package let hasNextSentenceHead: Bool
    /// The TensorFlow class (`TFBertForMaskedLM`) and its Keras model name (`tf_bert_for_masked_lm`);
    /// nil where bertkit writes no TF twin.
    package let tensorFlow: (name: String, kerasModelName: String)?

    package static func == (a: BertClass, b: BertClass) -> Bool { a.name == b.name }

    /// Every class, the one written for each head first.
    package static let all: [BertClass] = [
        BertClass(name: "BertModel", head: .base, hasPooler: true, hasMaskedLMHead: false, hasNextSentenceHead: false,
                  tensorFlow: ("TFBertModel", "tf_bert_model")),
        BertClass(name: "BertForSequenceClassification", head: .sequenceClassification, hasPooler: true,
                  hasMaskedLMHead: false, hasNextSentenceHead: false,
                  tensorFlow: ("TFBertForSequenceClassification", "tf_bert_for_sequence_classification")),
        BertClass(name: "BertForTokenClassification", head: .tokenClassification, hasPooler: false,
                  hasMaskedLMHead: false, hasNextSentenceHead: false,
                  tensorFlow: ("TFBertForTokenClassification", "tf_bert_for_token_classification")),
        BertClass(name: "BertForQuestionAnswering", head: .questionAnswering, hasPooler: false,
                  hasMaskedLMHead: false, hasNextSentenceHead: false,
                  tensorFlow: ("TFBertForQuestionAnswering", "tf_bert_for_question_answering")),
        BertClass(name: "BertForMaskedLM", head: .maskedLM, hasPooler: false, hasMaskedLMHead: true, hasNextSentenceHead: false,
                  tensorFlow: ("TFBertForMaskedLM", "tf_bert_for_masked_lm")),
        // The hub's bert-base-uncased checkpoint: runs as a masked LM, its next-sentence weights reported unused.
        BertClass(name: "BertForPreTraining", head: .maskedLM, hasPooler: true, hasMaskedLMHead: true, hasNextSentenceHead: true,
                  tensorFlow: ("TFBertForPreTraining", "tf_bert_for_pre_training")),
        BertClass(name: "BertLMHeadModel", head: .maskedLM, hasPooler: false, hasMaskedLMHead: true, hasNextSentenceHead: false,
                  tensorFlow: nil),
    ]

    /// The class a PyTorch class name names.
    package static func named(_ name: String) -> BertClass? { all.first { $0.name == name } }

    /// The class a TensorFlow class name names (`TFBertForMaskedLM`).
    package static func named(tensorFlow name: String) -> BertClass? { all.first { $0.tensorFlow?.name == name } }

    /// The class written for `head` (the first of the table's classes that build it).
    package static func canonical(for head: BertHead) -> BertClass { all.first { $0.head == head }! }
}
