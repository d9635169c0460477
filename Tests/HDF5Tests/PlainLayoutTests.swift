// The plain layout (Formats/HDF5/SPEC.md) against h5py: what h5py writes reads as the state dict it
// came from, and bertkit's file for that state dict is byte-identical to h5py's.

import Foundation
import Testing
import HDF5
import Safetensors
import TensorCore
import TestSupport

@Suite struct PlainLayoutTests {
    @Test func readsWhatH5pyWrote() throws {
        let expected = try H5Fixtures.store("plain/state.safetensors")
        let contents = try HDF5Checkpoint.read(path: H5Fixtures.path("plain/state.h5"))
        #expect(contents.layout == .plain)
        expectSameTensors(contents.store, expected)
        #expect(contents.store.metadata == ["format": "pt"])
        #expect(contents.store["half.bf16"]?.dtype == .bf16)
        #expect(contents.store["quant.f8_e4m3"]?.dtype == .f8E4M3)
        #expect(contents.store["mask"]?.dtype == .bool)
        #expect(contents.store["complex"]?.dtype == .c64)
        #expect(contents.store["temperature"]?.shape == [])
        #expect(contents.store["empty.rows"]?.shape == [0, 3])
    }

    @Test func writesWhatH5pyWrites() throws {
        // bertkit's reader yields the safetensors data order; h5py wrote the fixture in that order.
        let store = try H5Fixtures.store("plain/state.safetensors")
        let out = TemporaryDirectory()
        try PlainHDF5.write(store, to: out.file("state.h5"), metadata: ["format": "pt"])
        #expect(try H5Fixtures.bytes(out.file("state.h5")) == H5Fixtures.bytes(H5Fixtures.path("plain/state.h5")))
    }

    @Test func datasetPathsFollowTheRule() throws {
        let expected = try H5Fixtures.json("plain/state_paths.json") as! [String: String]
        let names = expected.keys.sorted()
        #expect(try PlainHDF5.datasetPaths(for: names) == names.map { expected[$0]! })
        #expect(try PlainHDF5.datasetPaths(for: ["a", "a.b", "a.b.c", "x.y"]) == ["a", "a.b", "a.b.c", "x/y"])
        #expect(try PlainHDF5.datasetPaths(for: [".lead", "trail.", "mid..dle"]) == [".lead", "trail.", "mid..dle"])
    }

    @Test(arguments: [0, 1, 2, 3])
    func everyStorableDTypeRoundTrips(_ seed: Int) throws {
        var generator = SplitMix64(seed: UInt64(seed) &+ 0x9E37_79B9_7F4A_7C15)
        var store = TensorStore()
        let dtypes: [DType] = [.bool, .u8, .i8, .i16, .u16, .f16, .bf16, .i32, .u32, .f32, .c64, .f64, .i64, .u64,
                               .f8E4M3, .f8E5M2, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ]
        for index in 0..<24 {
            let dtype = dtypes[Int(generator.next() % UInt64(dtypes.count))]
            let rank = Int(generator.next() % 4)
            let shape = (0..<rank).map { _ in Int(generator.next() % 4) }
            var bytes = (0..<dtype.byteCount(of: shape)!).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if dtype == .bool { bytes = bytes.map { $0 & 1 } }
            let name = ["layer.\(index).weight", "layer.\(index)", "ünï.\(index)", "odd..\(index)"][index % 4]
            store[name] = bytes.withUnsafeBytes { Tensor(dtype: dtype, shape: shape, copying: $0) }
        }
        let out = TemporaryDirectory()
        try PlainHDF5.write(store, to: out.file("s.h5"), metadata: ["format": "pt", "note": "ünïcödé ☃"])
        let back = try HDF5Checkpoint.read(path: out.file("s.h5"))
        #expect(back.layout == .plain)
        expectSameTensors(back.store, store)
        #expect(back.store.metadata == ["format": "pt", "note": "ünïcödé ☃"])
    }

    @Test func refusesNamesAndTypesHDF5CannotHold() throws {
        let out = TemporaryDirectory()
        let one = Tensor(float32: [1], shape: [1])
        #expect(throws: (any Error).self) { try PlainHDF5.write(TensorStore([("a/b", one)]), to: out.file("x.h5"), metadata: nil) }
        #expect(throws: HDF5Error.invalidTensorName(name: "a/b", reason: "'/' separates HDF5 groups")) {
            try PlainHDF5.datasetPaths(for: ["a/b"])
        }
        #expect(throws: HDF5Error.invalidTensorName(name: "", reason: "empty or a relative-path name")) {
            try PlainHDF5.datasetPaths(for: [""])
        }
        let packed = [UInt8(0x21)].withUnsafeBytes { Tensor(dtype: .f4, shape: [2], copying: $0) }
        #expect(throws: (any Error).self) { try PlainHDF5.write(TensorStore([("p", packed)]), to: out.file("x.h5"), metadata: nil) }
        #expect(out.contents.isEmpty)
    }

    @Test func writingIsAtomic() throws {
        let out = TemporaryDirectory()
        try "old".write(toFile: out.file("x.h5"), atomically: false, encoding: .utf8)
        let bad = TensorStore([("ok", Tensor(float32: [1], shape: [1])),
                               ("p", [UInt8](repeating: 0, count: 3).withUnsafeBytes { Tensor(dtype: .f6E2M3, shape: [4], copying: $0) })])
        #expect(throws: (any Error).self) { try PlainHDF5.write(bad, to: out.file("x.h5"), metadata: nil) }
        #expect(out.contents == ["x.h5"])
        #expect(try String(contentsOfFile: out.file("x.h5"), encoding: .utf8) == "old")
        #expect(throws: (any Error).self) {
            try PlainHDF5.write(TensorStore([("ok", Tensor(float32: [1], shape: [1]))]), to: "/nonexistent-dir/x.h5", metadata: nil)
        }
    }
}


/// A dataset declaring more bytes than the machine has is refused before anything is allocated.
@Suite struct HDF5ResourceLimitTests {
    @Test func aPetabyteDatasetIsRefused() throws {
        let path = Fixtures.path("limits/petabyte_dataset.h5")
        let error = #expect(throws: (any Error).self) { try HDF5Checkpoint.read(path: path) }
        #expect(error.map { "\($0)".contains("weight' declares ") && "\($0)".contains("more than this machine's memory") } == true,
                "\(String(describing: error))")
    }

    /// Found by the hdf5 fuzz target: a 54 KB damaged tf_model.h5 whose dataset declares 5 GB it does not store (its
    /// chunks unwritten). h5py would allocate it and return fill values; bertkit refuses before allocating.
    @Test func aDatasetFarLargerThanItsStoredBytesIsRefused() throws {
        let path = Fixtures.path("fuzz/hdf5/oom-4ab6b5955490a260da593a20901ee4a26accb5d9")
        let error = #expect(throws: (any Error).self) { try HDF5Checkpoint.read(path: path) }
        #expect(error.map { "\($0)".contains("but the file stores only") && "\($0)".contains("the file is damaged") } == true,
                "\(String(describing: error))")
    }
}
