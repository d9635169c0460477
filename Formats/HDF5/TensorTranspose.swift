// Axis permutations of row-major tensors: TensorFlow stores a Dense kernel as [in, out], PyTorch a Linear
// weight as [out, in] (NumPy `transpose` semantics, as transformers' `apply_transpose`). The 2-D case —
// every BERT kernel — is a cache-blocked copy split across cores; outputs go to fresh memory that is
// not zeroed first (every byte is written), or into a caller's scratch buffer.

import Dispatch
import TensorCore

#if canImport(Glibc)
import Glibc
#endif

enum TensorTranspose {
    /// `tensor` with its axes permuted: output axis i is input axis `axes[i]` (NumPy `transpose(axes)`).
    static func permute(_ tensor: Tensor, axes: [Int]) -> Tensor {
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: max(tensor.byteCount, 1), alignment: 64)
        permute(tensor, axes: axes, into: pointer)
        return Tensor(dtype: tensor.dtype, shape: axes.map { tensor.shape[$0] },
                      data: ByteView(buffer: ByteBuffer(adopting: pointer, count: tensor.byteCount)))
    }

    /// All axes reversed (NumPy `transpose()` with no arguments).
    static func reversed(_ tensor: Tensor) -> Tensor {
        permute(tensor, axes: Array((0..<tensor.shape.count).reversed()))
    }

    /// Many permutations at once, into one fresh buffer (advised to use huge pages: faulting in hundreds
    /// of megabytes page by page costs more than the copy), one tensor per core at a time. The results
    /// are views of that buffer.
    static func permuteAll(_ items: [(tensor: Tensor, axes: [Int])]) -> [Tensor] {
        var starts: [Int] = [], total = 0
        for item in items {
            starts.append(total)
            total += (item.tensor.byteCount + 63) / 64 * 64
        }
        let offsets = starts
        let hugePage = 1 << 21
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: max(total, 1), alignment: total >= hugePage ? hugePage : 64)
        #if canImport(Glibc)
        if total >= hugePage { _ = madvise(pointer, (total + hugePage - 1) / hugePage * hugePage, Int32(MADV_HUGEPAGE)) }
        #endif
        let buffer = ByteBuffer(adopting: pointer, count: total)
        nonisolated(unsafe) let target = pointer
        DispatchQueue.concurrentPerform(iterations: items.count) { index in
            permute(items[index].tensor, axes: items[index].axes, into: target + offsets[index], parallel: false)
        }
        return items.enumerated().map { index, item in
            Tensor(dtype: item.tensor.dtype, shape: item.axes.map { item.tensor.shape[$0] },
                   data: ByteView(buffer: buffer, offset: offsets[index], count: item.tensor.byteCount))
        }
    }

    /// Writes the permuted elements of `tensor` to `target` (`tensor.byteCount` bytes).
    static func permute(_ tensor: Tensor, axes: [Int], into target: UnsafeMutableRawPointer, parallel: Bool = true) {
        precondition(axes.sorted() == Array(0..<tensor.shape.count), "axes must permute the tensor's dimensions")
        let shape = tensor.shape, width = tensor.dtype.byteWidth!
        guard tensor.elementCount > 0 else { return }
        if shape.count == 2 && axes == [1, 0] && [1, 2, 4, 8].contains(width) {
            transpose2D(tensor.data.baseAddress, target, rows: shape[0], columns: shape[1], width: width, parallel: parallel)
        } else {
            permuteGeneral(tensor.data.baseAddress, target, shape: shape, axes: axes, width: width)
        }
    }

    /// [rows, columns] → [columns, rows] for 1, 2, 4 or 8-byte elements, 32×32 tiles, bands of rows on
    /// separate cores when large and `parallel`.
    static func transpose2D(_ source: UnsafeRawPointer, _ target: UnsafeMutableRawPointer, rows: Int, columns: Int, width: Int,
                            parallel: Bool = true) {
        let tile = 32
        let bands = parallel && rows * columns >= 1 << 18 ? max(1, min(activeProcessors, (rows + tile - 1) / tile)) : 1
        let tilesPerBand = ((rows + tile - 1) / tile + bands - 1) / bands
        nonisolated(unsafe) let source = source, target = target
        @Sendable func band(_ index: Int) {
            let first = index * tilesPerBand * tile, last = min(rows, first + tilesPerBand * tile)
            guard first < last else { return }
            switch width {
            case 1: tiles(source, target, UInt8.self, rows: rows, columns: columns, rowRange: first..<last, tile: tile)
            case 2: tiles(source, target, UInt16.self, rows: rows, columns: columns, rowRange: first..<last, tile: tile)
            case 4: tiles(source, target, UInt32.self, rows: rows, columns: columns, rowRange: first..<last, tile: tile)
            default: tiles(source, target, UInt64.self, rows: rows, columns: columns, rowRange: first..<last, tile: tile)
            }
        }
        if bands == 1 { band(0) } else { DispatchQueue.concurrentPerform(iterations: bands) { band($0) } }
    }

    private static func tiles<T>(_ source: UnsafeRawPointer, _ target: UnsafeMutableRawPointer, _: T.Type,
                                 rows: Int, columns: Int, rowRange: Range<Int>, tile: Int) {
        let input = source.assumingMemoryBound(to: T.self), output = target.assumingMemoryBound(to: T.self)
        var r0 = rowRange.lowerBound
        while r0 < rowRange.upperBound {
            let r1 = min(r0 + tile, rowRange.upperBound)
            var c0 = 0
            while c0 < columns {
                let c1 = min(c0 + tile, columns)
                // Contiguous writes, strided reads: a written line is never read back for ownership.
                for c in c0..<c1 {
                    var from = input + r0 * columns + c
                    let to = output + c * rows
                    for r in r0..<r1 {
                        to[r] = from.pointee
                        from += columns
                    }
                }
                c0 = c1
            }
            r0 = r1
        }
    }

    static let activeProcessors: Int = {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 1
        #endif
    }()

    private static func permuteGeneral(_ source: UnsafeRawPointer, _ target: UnsafeMutableRawPointer, shape: [Int], axes: [Int], width: Int) {
        let rank = shape.count
        var inStrides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * shape[i + 1] }
        let outShape = axes.map { shape[$0] }
        let strides = axes.map { inStrides[$0] }   // input stride of each output axis
        var index = [Int](repeating: 0, count: rank)
        let count = outShape.reduce(1, *)
        for out in 0..<count {
            var offset = 0
            for axis in 0..<rank { offset += index[axis] * strides[axis] }
            (target + out * width).copyMemory(from: source + offset * width, byteCount: width)
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < outShape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
    }
}
