// Reading: every checkpoint torch wrote for the fixtures comes back bit for bit, with storages shared
// where torch shares them; every hostile or broken file is refused with its own error.

import Testing
import Foundation
import TensorCore
import PyTorch
import TestSupport

/// What `torch.load` returned for a fixture (Tools/fixtures/make_pytorch_fixtures.py).
struct ExpectedCheckpoint {
    struct Entry { var name: String; var dtype: String; var shape: [Int]; var crc32: String; var contiguous: Bool }
    var container: String
    var tensors: [Entry]
    var sameView: [[String]]
    var sameStorage: [[String]]
    var note: String?

    init(fixture: String) throws {
        let json = try Fixtures.json("pytorch/\(fixture).expected.json") as! [String: Any]
        container = json["container"] as! String
        tensors = (json["tensors"] as! [[String: Any]]).map {
            Entry(name: $0["name"] as! String, dtype: $0["dtype"] as! String, shape: ($0["shape"] as! [NSNumber]).map(\.intValue),
                  crc32: $0["crc32"] as! String, contiguous: ($0["contiguous"] as! NSNumber).boolValue)
        }
        sameView = json["same_view"] as! [[String]]
        sameStorage = json["same_storage"] as! [[String]]
        note = json["note_contains"] as? String
    }
}

@Suite struct PyTorchReaderTests {
    static let readable = ["every_dtype.pt", "every_dtype_legacy.pt", "views.pt", "views_legacy.pt", "conj_neg.pt", "shared.pt",
                           "tiny_bert_mlm.bin", "tiny_bert_mlm_legacy.bin", "tiny_bert_4x/pytorch_model.bin",
                           "nested_state_dict.pt", "nested_model.pt", "mixed_values.pt", "parameters.pt", "single.pt",
                           "many_entries.pt", "deflated.pt", "minimal_records.pt", "big_endian.pt", "protocol4.pt"]

    @Test(arguments: readable)
    func readsWhatTorchWrote(_ fixture: String) throws {
        let expected = try ExpectedCheckpoint(fixture: fixture)
        let checkpoint = try PyTorchReader.read(path: Fixtures.path("pytorch/" + fixture))
        #expect(checkpoint.container.rawValue == expected.container)
        let entries = checkpoint.store.entries.sorted { $0.name.unicodeScalars.lexicographicallyPrecedes($1.name.unicodeScalars) }
        #expect(entries.map(\.name) == expected.tensors.map(\.name))
        for (entry, want) in zip(entries, expected.tensors) {
            #expect(entry.tensor.dtype.rawValue == want.dtype, "\(entry.name)")
            #expect(entry.tensor.shape == want.shape, "\(entry.name)")
            #expect(CRC32.hex(CRC32.checksum(entry.tensor.data.bytes)) == want.crc32, "\(entry.name): bytes differ from torch's")
        }
        if let note = expected.note {
            #expect(checkpoint.notes.contains { $0.contains(note) }, "\(checkpoint.notes)")
        } else {
            #expect(checkpoint.notes.isEmpty, "\(checkpoint.notes)")
        }
    }

    /// Tensors torch loads as the same view are the same bytes of one buffer here; contiguous views
    /// of one storage share its buffer (non-contiguous ones are copied out row-major).
    @Test(arguments: readable)
    func storagesAreSharedWhereTorchSharesThem(_ fixture: String) throws {
        let expected = try ExpectedCheckpoint(fixture: fixture)
        let store = try PyTorchReader.read(path: Fixtures.path("pytorch/" + fixture)).store
        for group in expected.sameView {
            let first = store[group[0]]!.data
            for name in group.dropFirst() { #expect(store[name]!.data.isSameStorage(as: first), "\(fixture): \(group)") }
        }
        let contiguous = Set(expected.tensors.filter(\.contiguous).map(\.name))
        for group in expected.sameStorage {
            let members = group.filter(contiguous.contains)
            guard let first = members.first else { continue }
            for name in members.dropFirst() { #expect(store[name]!.data.buffer === store[first]!.data.buffer, "\(fixture): \(group)") }
        }
    }

    @Test func tiedDecoderIsOneBuffer() throws {
        for fixture in ["tiny_bert_mlm.bin", "tiny_bert_mlm_legacy.bin", "tiny_bert_4x/pytorch_model.bin"] {
            let store = try PyTorchReader.read(path: Fixtures.path("pytorch/" + fixture)).store
            #expect(store["cls.predictions.decoder.weight"]!.data.isSameStorage(as: store["bert.embeddings.word_embeddings.weight"]!.data))
            #expect(store["cls.predictions.decoder.bias"]!.data.isSameStorage(as: store["cls.predictions.bias"]!.data))
            #expect(!store["bert.embeddings.LayerNorm.weight"]!.data.overlaps(store["bert.embeddings.LayerNorm.bias"]!.data))
        }
    }

    @Test func storedRecordsAreViewsOfTheMapping() throws {
        let store = try PyTorchReader.read(path: Fixtures.path("pytorch/tiny_bert_4x/pytorch_model.bin")).store
        #expect(Set(store.entries.map { ObjectIdentifier($0.tensor.data.buffer) }).count == 1)
        #expect(store.entries[0].tensor.data.buffer.isMapped)
        // Every record starts on a 64-byte boundary, so the views are aligned for any dtype.
        #expect(store.entries.allSatisfy { $0.tensor.data.offset % 64 == 0 || $0.tensor.byteCount == 0 })
    }

    @Test func viewsKeepTheirValues() throws {
        let store = try PyTorchReader.read(path: Fixtures.path("pytorch/views.pt")).store
        let w = store["w"]!.float32Values()!
        #expect(store["row"]!.float32Values()! == Array(w[3..<6]))
        #expect(store["transposed"]!.float32Values()! == [w[0], w[3], w[1], w[4], w[2], w[5]])
        #expect(store["slice"]!.float32Values()! == [10, 11])
        #expect(store["expanded"]!.float32Values()! == [1, 2, 3, 1, 2, 3])
        #expect(store["scalar"]!.shape == [] && store["scalar"]!.float32Values()! == [3.5])
        #expect(store["empty"]!.shape == [0, 3] && store["empty"]!.byteCount == 0)
    }

    // MARK: - Hostile and broken files

    struct HostileCase: Sendable, CustomTestStringConvertible {
        let file: String, fragment: String
        var testDescription: String { file }
    }

    static let hostile: [HostileCase] = ((try? Fixtures.json("pytorch/hostile/cases.json")) as? [[String: String]] ?? [])
        .map { HostileCase(file: $0["file"]!, fragment: $0["error_contains"]!) }

    @Test func theCorpusCoversEveryAttack() throws {
        let names = Set(Self.hostile.map(\.file))
        #expect(names.count >= 30)
        for required in ["global_os_system.bin", "stack_global.bin", "inst.bin", "obj.bin", "reduce_exec.bin", "newobj.bin",
                         "recursion_bomb.bin", "memo_bomb.bin", "truncated_zip.bin", "missing_storage_record.bin",
                         "storage_shorter_than_tensor.bin", "legacy_count_mismatch.pt"] {
            #expect(names.contains(required), "\(required)")
        }
    }

    @Test(arguments: hostile)
    func refusesHostileFile(_ item: HostileCase) throws {
        let path = Fixtures.path("pytorch/hostile/" + item.file)
        let start = Date(), cpuStart = threadCPUSeconds()
        do {
            let checkpoint = try PyTorchReader.read(path: path)
            Issue.record("\(item.file) was accepted with \(checkpoint.store.count) tensors")
        } catch let error as FileError {
            #expect(error.path == path)
            #expect("\(error)".contains(item.fragment), "\(error)")
        }
        // Refused at once: well under a second of this thread's CPU (tests share the cores, so wall time only
        // bounds a hang).
        #expect(threadCPUSeconds() - cpuStart < 1, "\(item.file)")
        #expect(Date().timeIntervalSince(start) < 10, "\(item.file)")
    }

    /// The limits are real: the tiny BERT, readable by default, is refused under tighter ones.
    @Test func limitsAreEnforced() throws {
        let path = Fixtures.path("pytorch/tiny_bert_mlm.bin")
        _ = try PyTorchReader.read(path: path)
        var memo = PickleLimits(); memo.maxMemo = 50
        var stack = PickleLimits(); stack.maxStack = 20
        var objects = PickleLimits(); objects.maxObjects = 100
        var nesting = PickleLimits(); nesting.maxNesting = 2
        for (limits, fragment) in [(memo, "memo"), (stack, "stack entries"), (objects, "objects"), (nesting, "deeper than 2")] {
            #expect { try PyTorchReader.read(path: path, limits: limits) } throws: { "\($0)".contains(fragment) }
        }
    }

    /// A fuzz entry point: seeded random corruptions of valid zip and legacy files are refused or read,
    /// never crash, and whatever is read lies inside its buffers. `BERTKIT_FUZZ_ROUNDS` (and
    /// `BERTKIT_FUZZ_SEED`) run it longer.
    @Test(arguments: ["views.pt", "views_legacy.pt", "deflated.pt", "nested_state_dict.pt", "big_endian.pt", "protocol4.pt",
                      "tiny_bert_mlm_legacy.bin"])
    func randomCorruptionsNeverCrash(_ fixture: String) throws {
        let original = [UInt8](try Fixtures.data("pytorch/" + fixture))
        let environment = ProcessInfo.processInfo.environment
        var generator = SplitMix64(seed: environment["BERTKIT_FUZZ_SEED"].flatMap(UInt64.init) ?? 17)
        var refused = 0
        let rounds = environment["BERTKIT_FUZZ_ROUNDS"].flatMap(Int.init) ?? 1000
        for round in 0..<rounds {
            var bytes = original
            for _ in 0..<(1 + Int(generator.next() % 4)) {
                let position = Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 4 {
                case 0: bytes[position] = UInt8(truncatingIfNeeded: generator.next())
                case 1: bytes[position] ^= 1 << UInt8(generator.next() % 8)
                case 2: bytes.removeSubrange(position..<min(bytes.count, position + 1 + Int(generator.next() % 16)))
                default: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
                }
                if bytes.count < 2 { break }
            }
            if round % 9 == 0 { bytes = Array(bytes.prefix(Int(generator.next() % UInt64(max(bytes.count, 1))))) }
            let buffer = ByteBuffer(copying: bytes)
            do {
                let checkpoint = try PyTorchReader.read(buffer: buffer)
                for (_, tensor) in checkpoint.store.entries {
                    #expect(tensor.data.offset + tensor.data.count <= tensor.data.buffer.count)
                }
            } catch {
                refused += 1
            }
        }
        #expect(refused > rounds / 10, "\(refused) of \(rounds) refused")
    }
}

extension PyTorchReaderTests {
    /// The pickle machine under fire: corruptions inside `data.pkl` of real archives, with the CRC in
    /// the central directory patched so they reach the machine instead of failing the checksum.
    @Test(arguments: ["tiny_bert_4x/pytorch_model.bin", "nested_state_dict.pt", "views.pt", "protocol4.pt", "parameters.pt"])
    func pickleCorruptionsNeverCrash(_ fixture: String) throws {
        let original = [UInt8](try Fixtures.data("pytorch/" + fixture))
        let (pickle, crcField) = try #require(Self.locatePickle(original))
        let environment = ProcessInfo.processInfo.environment
        var generator = SplitMix64(seed: environment["BERTKIT_FUZZ_SEED"].flatMap(UInt64.init) ?? 29)
        let rounds = environment["BERTKIT_FUZZ_ROUNDS"].flatMap(Int.init) ?? 1000
        let opcodes = PickleOpcodeBytes.all
        var refused = 0
        for _ in 0..<rounds {
            var bytes = original
            for _ in 0..<(1 + Int(generator.next() % 3)) {
                let position = pickle.lowerBound + Int(generator.next() % UInt64(pickle.count))
                switch generator.next() % 3 {
                case 0: bytes[position] = opcodes[Int(generator.next() % UInt64(opcodes.count))]
                case 1: bytes[position] = UInt8(truncatingIfNeeded: generator.next())
                default: bytes[position] ^= 1 << UInt8(generator.next() % 8)
                }
            }
            let crc = bytes[pickle].withUnsafeBytes { CRC32.checksum($0) }
            withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { bytes[crcField + i] = $0[i] } }
            do {
                let checkpoint = try PyTorchReader.read(buffer: ByteBuffer(copying: bytes))
                for (_, tensor) in checkpoint.store.entries { #expect(tensor.data.offset + tensor.data.count <= tensor.data.buffer.count) }
            } catch {
                refused += 1
            }
        }
        #expect(refused > rounds / 4, "\(refused) of \(rounds) refused")
    }

    /// (byte range of data.pkl's data, offset of its CRC in the central directory), by walking the zip.
    static func locatePickle(_ file: [UInt8]) -> (Range<Int>, Int)? {
        func u16(_ at: Int) -> Int { Int(file[at]) | Int(file[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        var entry = 0
        while entry + 46 <= file.count {
            if u32(entry) == 0x0201_4B50 {
                let nameLength = u16(entry + 28)
                let name = String(decoding: file[(entry + 46)..<(entry + 46 + nameLength)], as: UTF8.self)
                if name.hasSuffix("/data.pkl") {
                    let header = u32(entry + 42)
                    let start = header + 30 + u16(header + 26) + u16(header + 28)
                    return (start..<(start + u32(entry + 20)), entry + 16)
                }
            }
            entry += 1
        }
        return nil
    }
}

/// Opcode bytes of protocols 0–5 (what `pickletools` lists), for structured corruption.
enum PickleOpcodeBytes {
    static let all: [UInt8] = Array("(.012FIJKLMNPQRSTUVX]abcdeghijlopqrstu})G}BC".utf8) + Array(0x80...0x98)
}

