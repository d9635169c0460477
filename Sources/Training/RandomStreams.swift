// Every random stream a training run draws from, and how each follows from `--seed`: the sample, the order
// of each epoch, a new head's weights, the adapters, the masked-LM masks, and the dropout masks of each
// micro-batch. They live here, in Training; the model's kernels only apply the masks they are handed.

import Bert

/// The independent random streams one `--seed` feeds. Each purpose starts its own SplitMix64 sequence from
/// a scrambled (seed, purpose, index), so the sample, each epoch's order and a new head's weights never draw
/// from the same numbers (with the bare seed for all three, the head's initial weights were made of the very
/// numbers that shuffled the first epoch).
package enum SeedStream: UInt64 {
    case trainSample = 1, evalSample, epochOrder, newHead, adapters, maskedTokens

    package func seed(_ seed: UInt64, index: UInt64 = 0) -> UInt64 {
        mix64(seed ^ mix64(rawValue << 40 ^ index))
    }
}

/// Reproducible permutations from a seed (Fisher–Yates over SplitMix64).
package enum Shuffle {
    package static func permutation(_ count: Int, seed: UInt64) -> [Int] {
        var generator = NormalGenerator(seed: seed)
        var order = Array(0..<count)
        if count > 1 {
            for i in stride(from: count - 1, to: 0, by: -1) {
                let j = Int(generator.nextUInt64() % UInt64(i + 1))
                order.swapAt(i, j)
            }
        }
        return order
    }

    /// `n` distinct indices of 0..<count chosen at random from `seed` (in their original order).
    package static func sample(_ count: Int, _ n: Int, seed: UInt64) -> [Int] {
        guard n < count else { return Array(0..<count) }
        return Array(permutation(count, seed: seed).prefix(n)).sorted()
    }

    /// `--max-train-examples n`: n of `rows` drawn at random from `seed`, never simply the first n, kept in
    /// file order; all of them when there are no more than n.
    package static func sample<Row>(_ rows: [Row], _ n: Int, seed: UInt64) -> [Row] {
        sample(rows.count, n, seed: seed).map { rows[$0] }
    }
}

extension DropoutPlan {
    /// Masks for one micro-batch of a training run: `seed` is the run's seed, `step` counts micro-batches.
    /// Each family's sites: DistilBERT drops no attention output; the head's classifier dropout follows the family
    /// (BertConfig.headDropout), and RoBERTa's sequence classifier also drops its pooler's input.
    /// A data-parallel rank computing rows `firstRow…` of a micro-batch padded to `sequence` tokens gets those rows' part
    /// of the whole micro-batch's masks (each site's element offset), so the masks are a function of the seed, the step and
    /// the example's place in the global batch — never of the rank or the number of ranks.
    package static func training(config: BertConfig, head: BertHead, seed: UInt64, step: UInt64,
                                firstRow: Int = 0, sequence: Int = 0) -> DropoutPlan {
        precondition(firstRow == 0 || sequence > 0, "a shard's masks need the micro-batch's padded length")
        // The step is mixed before it meets the site: with a linear `seed·a + step·γ` (and `site·γ` added by
        // DropoutMask) the key of (step, site) equalled that of (step + 1, site − 1), so a site's mask came back
        // one step later at another site (the classifier's as the embeddings' next step).
        let base = mix64(seed &* 0x2545_F491_4F6C_DD1D ^ mix64(step &+ 0x9E37_79B9_7F4A_7C15))
        // Elements per example at each site: token rows of the hidden width, the attention probabilities of every head,
        // one pooled row.
        let H = config.hiddenSize, T = sequence
        let tokens = firstRow * T * H, pooled = firstRow * H
        let probabilities = firstRow * config.numAttentionHeads * T * T
        func mask(_ p: Float, _ site: UInt64, _ offset: Int) -> DropoutMask? {
            p > 0 ? DropoutMask(probability: p, seed: base, site: site, offset: offset) : nil
        }
        let L = config.numHiddenLayers, family = config.family
        var plan = DropoutPlan(
            seed: base,
            embeddings: mask(config.hiddenDropoutProb, 1, tokens),
            attentionProbs: (0..<L).map { mask(config.attentionProbsDropoutProb, UInt64(16 + 4 * $0), probabilities) },
            attentionOutput: (0..<L).map { family.dropsAttentionOutput ? mask(config.hiddenDropoutProb, UInt64(17 + 4 * $0), tokens) : nil },
            ffnOutput: (0..<L).map { mask(config.hiddenDropoutProb, UInt64(18 + 4 * $0), tokens) },
            // The sequence classifier drops its pooled row; token classification and QA drop every token's row.
            classifier: config.headDropout(head).flatMap { mask($0, 2, head == .sequenceClassification ? pooled : tokens) })
        if family.dropsPoolerInput(for: head) {
            plan.poolerInput = mask(config.effectiveClassifierDropout, 3, pooled)
        }
        // LoRA's masks are on each adapter's input: hidden-wide token rows, the FFN output's intermediate-wide rows,
        // the pooler's one row per example.
        plan.loraOffsets = [.query: tokens, .key: tokens, .value: tokens, .attentionOutput: tokens, .intermediate: tokens,
                            .output: firstRow * T * config.intermediateSize, .pooler: pooled]
        return plan
    }
}
