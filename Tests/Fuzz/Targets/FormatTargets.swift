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
            let records = [(name: "data.pkl", bytes: Array(bytes))]
                + storages.sorted { $0.key < $1.key }.map { key, count in
                    (name: "data/\(key)", bytes: (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37) })
                }
            let path = Scratch.folder + "/pickle.pt"
            guard (try? TorchArchive.write(records, to: path)) != nil, let archive = try? ByteBuffer(mappingFileAt: path) else {
                fatalError("bertkit-fuzz: cannot write \(path)")
            }
            do throws(PyTorchError) {
                touch(try PyTorchReader.read(buffer: archive).store)
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
            .compactMap { TorchArchive.record(endingWith: "/data.pkl", in: $0) }
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
