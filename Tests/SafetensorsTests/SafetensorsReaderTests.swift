// Reading: fixtures written by the reference library, and every malformed case it refuses.

import Testing
import Foundation
import TensorCore
import Safetensors
import TestSupport

/// What `safe_open` reported for a fixture (recorded by Tools/fixtures/make_safetensors_fixtures.py).
struct ExpectedListing {
    var tensors: [(name: String, dtype: String, shape: [Int])]
    var metadata: [String: String]?

    init(fixture: String) throws {
        let json = try Fixtures.json("safetensors/\(fixture).expected.json") as! [String: Any]
        tensors = (json["tensors"] as! [[String: Any]]).map {
            ($0["name"] as! String, $0["dtype"] as! String, ($0["shape"] as! [NSNumber]).map(\.intValue))
        }
        metadata = json["metadata"] as? [String: String]
    }
}

@Suite struct SafetensorsReaderTests {
    static let readable = ["tiny_bert.safetensors", "tiny_bert_f16.safetensors", "tiny_bert_bf16.safetensors",
                           "every_dtype.safetensors", "scalar_and_empty.safetensors", "unicode_metadata.safetensors",
                           "no_tensors.safetensors"]

    @Test(arguments: readable)
    func readsWhatTheReferenceWrote(_ fixture: String) throws {
        let expected = try ExpectedListing(fixture: fixture)
        let path = Fixtures.path("safetensors/" + fixture)
        let store = try SafetensorsReader.read(path: path)
        let header = try SafetensorsReader.header(path: path)
        let listing = store.entries.map { ($0.name, $0.tensor.dtype.rawValue, $0.tensor.shape) }
            .sorted { $0.0.unicodeScalars.lexicographicallyPrecedes($1.0.unicodeScalars) }
        #expect(listing.map(\.0) == expected.tensors.map(\.name))
        #expect(listing.map(\.1) == expected.tensors.map(\.dtype))
        #expect(listing.map(\.2) == expected.tensors.map(\.shape))
        #expect(header.metadata == expected.metadata)
    }

    @Test func tensorsAreZeroCopyViewsOfTheMapping() throws {
        let store = try SafetensorsReader.read(path: Fixtures.path("safetensors/tiny_bert.safetensors"))
        let buffers = Set(store.entries.map { ObjectIdentifier($0.tensor.data.buffer) })
        #expect(buffers.count == 1)
        #expect(store.entries.first!.tensor.data.buffer.isMapped)
    }

    @Test func valuesAreReadExactly() throws {
        let store = try SafetensorsReader.read(path: Fixtures.path("safetensors/every_dtype.safetensors"))
        #expect(store["matrix.weight"]!.float32Values()! == (0..<24).map(Float.init))
        #expect(store["i64"]!.int64Values()! == [Int64.min, 7, Int64.max])
        #expect(store["bool"]!.int64Values()! == [1, 0, 1])
        #expect(store["u64"]!.int64Values()![2] == Int64(bitPattern: 1 << 63))
        let scalar = try SafetensorsReader.read(path: Fixtures.path("safetensors/scalar_and_empty.safetensors"))
        #expect(scalar["scalar"]!.shape == [] && scalar["scalar"]!.float32Values()! == [3.5])
        #expect(scalar["empty"]!.byteCount == 0 && scalar["empty"]!.shape == [0, 3])
    }

    struct MalformedCase: Sendable, CustomTestStringConvertible {
        let file: String
        let fragment: String
        var testDescription: String { file }
    }

    static let malformed: [MalformedCase] = {
        let cases = (try? Fixtures.json("safetensors/malformed/cases.json")) as? [[String: String]] ?? []
        return cases.map { MalformedCase(file: $0["file"]!, fragment: $0["error_contains"]!) }
    }()

    @Test func everyMalformedCaseIsRefusedByTheReference() throws {
        let cases = try Fixtures.json("safetensors/malformed/cases.json") as! [[String: String]]
        #expect(cases.count >= 25)
        for item in cases { #expect(item["reference"]!.hasPrefix("refused"), "\(item["file"]!)") }
    }

    @Test(arguments: malformed)
    func refusesMalformedFile(_ item: MalformedCase) throws {
        let path = Fixtures.path("safetensors/malformed/" + item.file)
        do {
            _ = try SafetensorsReader.read(path: path)
            Issue.record("\(item.file) was accepted")
        } catch let error as FileError {
            #expect(error.path == path)
            #expect("\(error)".contains(item.fragment), "\(error)")
        }
    }

    @Test func shardedCheckpointReadsLikeTheSingleFile() throws {
        let single = try SafetensorsReader.read(path: Fixtures.path("safetensors/tiny_bert.safetensors"))
        let sharded = try ShardedSafetensors.read(indexPath: Fixtures.path("safetensors/tiny_bert_sharded/model.safetensors.index.json"))
        #expect(Set(sharded.names) == Set(single.names))
        for (name, tensor) in single.entries { #expect(sharded[name]!.isBitwiseEqual(to: tensor), "\(name)") }
    }

    /// A fuzz entry point: seeded random corruptions of a valid file must be refused or read, never crash,
    /// and anything read must describe in-bounds tensors.
    @Test func randomCorruptionsNeverCrash() throws {
        let original = [UInt8](try Fixtures.data("safetensors/unicode_metadata.safetensors"))
        var generator = SplitMix64(seed: 7)
        var refused = 0
        for round in 0..<3000 {
            var bytes = original
            let edits = 1 + Int(generator.next() % 4)
            for _ in 0..<edits {
                let position = Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 3 {
                case 0: bytes[position] = UInt8(truncatingIfNeeded: generator.next())
                case 1: bytes.removeSubrange(position...)
                default: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
                }
                if bytes.isEmpty { break }
            }
            if round % 7 == 0 { bytes = Array(bytes.prefix(Int(generator.next() % UInt64(max(bytes.count, 1))))) }
            let buffer = ByteBuffer(copying: bytes)
            do {
                let store = try SafetensorsReader.read(buffer: buffer)
                for (_, tensor) in store.entries {
                    #expect(tensor.data.offset + tensor.data.count <= buffer.count)
                }
            } catch {
                refused += 1
            }
        }
        #expect(refused > 1000)
    }
}

