// Targets for the checkpoint codecs: safetensors, PyTorch (zip and legacy), the pickle machine on its own, HDF5/Keras.

import TensorCore
import Safetensors
import PyTorch
import HDF5
import Checkpoints

/// Every tensor of a store converted to float32 and summed: the reads a loader does after the header checks (a tensor
/// whose bytes lie outside the file traps or is caught by ASan here, not later in a model).
func touch(_ store: TensorStore) {
    var sum: Float = 0
    for (_, tensor) in store.entries {
        if let values = tensor.converted(to: .f32)?.float32Values() { sum += values.reduce(0, +) }
    }
    blackHole(sum)
}

@inline(never) func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }

let safetensorsTarget = FuzzTarget(
    name: "safetensors",
    summary: "a .safetensors file: header length, JSON header, dtypes, shapes, offsets, then every tensor read",
    run: { bytes in
        guard let store = attempt({ try SafetensorsReader.read(buffer: ByteBuffer(copying: bytes)) }) else { return }
        touch(store)
    },
    seeds: { root in
        filesIn(root + "/Fixtures/safetensors", suffix: ".safetensors") + filesIn(root + "/Fixtures/safetensors/malformed")
            .filter { $0.first != UInt8(ascii: "[") && $0.first != UInt8(ascii: "{") }   // not cases.json
    })

let pytorchTarget = FuzzTarget(
    name: "pytorch",
    summary: "a PyTorch checkpoint, zip (torch.save since 1.6) or legacy: the zip reader, inflate, CRCs, the pickle machine, tensor rebuild",
    run: { bytes in
        guard let checkpoint = attempt({ try PyTorchReader.read(buffer: ByteBuffer(copying: bytes)) }) else { return }
        touch(checkpoint.store)
    },
    seeds: { root in
        let folder = root + "/Fixtures/pytorch"
        return filesIn(folder, suffix: ".pt") + filesIn(folder, suffix: ".bin") + filesIn(folder + "/hostile")
    })

/// The pickle target wraps its input as the data.pkl of a zip checkpoint, so that every byte the fuzzer changes is a
/// pickle byte. The storages the pickle names are supplied as it asks for them: when the reader reports a storage
/// missing or of the wrong size, the archive is rebuilt with that storage at the size the pickle declares (up to 64 KB,
/// a few rounds) and read again — so a pickle reaches tensor rebuilding without the fuzzer having to guess sizes.
let pickleTarget = FuzzTarget(
    name: "pickle",
    summary: "the pickle machine on its own: the input is data.pkl of a zip checkpoint whose storages are supplied as the pickle declares them",
    run: { bytes in
        var storages: [String: Int] = [:]
        for _ in 0..<4 {
            let records = [("archive/data.pkl", Array(bytes)), ("archive/version", Array("3\n".utf8))]
                + storages.sorted { $0.key < $1.key }.map { key, count in
                    ("archive/data/\(key)", (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37) })
                }
            do throws(PyTorchError) {
                touch(try PyTorchReader.read(buffer: ByteBuffer(copying: StoredZip.make(records))).store)
                return
            } catch .missingStorageRecord(let key, _) where storages[key] == nil && key.utf8.count < 64 {
                storages[key] = 4
            } catch .storageSizeMismatch(let key, _, _, _, let expected, _) where (0...(64 << 10)).contains(expected) && storages[key] != expected {
                storages[key] = expected
            } catch {
                if verbose { print("refused: \(error)") }
                return
            }
        }
    },
    seeds: { root in
        let folder = root + "/Fixtures/pytorch"
        return (filesIn(folder, suffix: ".pt") + filesIn(folder, suffix: ".bin") + filesIn(folder + "/hostile"))
            .compactMap { StoredZip.entry(named: "/data.pkl", in: $0) }
    })

/// HDF5 runs in this process here, unlike in the `bertkit` command (IsolatedHDF5.swift): the point is to see what
/// libhdf5 does with hostile files. A crash whose stack is inside libhdf5 is the reason the command reads HDF5 in a child
/// process; a crash in bertkit's own frames is a bug to fix. (`Tools/fuzz hdf5` keeps going past crashes.)
let hdf5Target = FuzzTarget(
    name: "hdf5",
    summary: "an HDF5 file in this process: libhdf5, the Keras tf_model.h5 layout and the plain layout, then every tensor read",
    run: { bytes in
        let path = Scratch.write(Array(bytes), as: "model.h5")
        guard let contents = attempt({ try HDF5Checkpoint.read(path: path) }) else { return }
        touch(contents.store)
    },
    seeds: { root in
        let seeds = filesUnder(root + "/Fixtures/hdf5", suffix: ".h5")
        return seeds.filter { $0.count <= 256 << 10 }   // larger seeds slow every execution
    })

/// A zip archive of stored (uncompressed) entries, and the one reading such an entry back: all the pickle target needs.
enum StoredZip {
    static func make(_ entries: [(name: String, data: [UInt8])]) -> [UInt8] {
        var out: [UInt8] = [], central: [UInt8] = []
        func u16(_ v: Int, _ into: inout [UInt8]) { into += [UInt8(v & 0xff), UInt8((v >> 8) & 0xff)] }
        func u32(_ v: UInt32, _ into: inout [UInt8]) { for shift in [0, 8, 16, 24] { into.append(UInt8((v >> UInt32(shift)) & 0xff)) } }
        for (name, data) in entries {
            let crc = data.withUnsafeBytes { CRC32.checksum($0) }
            let offset = UInt32(out.count)
            u32(0x0403_4b50, &out); u16(20, &out); u16(0, &out); u16(0, &out); u16(0, &out); u16(0, &out)
            u32(crc, &out); u32(UInt32(data.count), &out); u32(UInt32(data.count), &out)
            u16(name.utf8.count, &out); u16(0, &out); out += Array(name.utf8); out += data
            u32(0x0201_4b50, &central); u16(20, &central); u16(20, &central); u16(0, &central); u16(0, &central)
            u16(0, &central); u16(0, &central); u32(crc, &central); u32(UInt32(data.count), &central)
            u32(UInt32(data.count), &central); u16(name.utf8.count, &central); u16(0, &central); u16(0, &central)
            u16(0, &central); u16(0, &central); u32(0, &central); u32(offset, &central); central += Array(name.utf8)
        }
        let centralOffset = UInt32(out.count)
        out += central
        u32(0x0605_4b50, &out); u16(0, &out); u16(0, &out); u16(entries.count, &out); u16(entries.count, &out)
        u32(UInt32(central.count), &out); u32(centralOffset, &out); u16(0, &out)
        return out
    }

    /// The bytes of the first stored entry whose name ends with `suffix`, found through the central directory (torch's
    /// local headers may leave the sizes to a data descriptor).
    static func entry(named suffix: String, in zip: [UInt8]) -> [UInt8]? {
        func u16(_ at: Int) -> Int { Int(zip[at]) | Int(zip[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        guard zip.count >= 22, let end = stride(from: zip.count - 22, through: 0, by: -1).first(where: { u32($0) == 0x0605_4b50 })
        else { return nil }
        var at = u32(end + 16)
        for _ in 0..<u16(end + 10) {
            guard at + 46 <= zip.count, u32(at) == 0x0201_4b50 else { return nil }
            let method = u16(at + 10), size = u32(at + 20), nameLength = u16(at + 28)
            let local = u32(at + 42)
            guard at + 46 + nameLength <= zip.count, local + 30 <= zip.count else { return nil }
            let name = String(decoding: zip[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
            if method == 0 && name.hasSuffix(suffix) {
                let start = local + 30 + u16(local + 26) + u16(local + 28)
                return start + size <= zip.count ? Array(zip[start..<(start + size)]) : nil
            }
            at += 46 + nameLength + u16(at + 30) + u16(at + 32)
        }
        return nil
    }
}
