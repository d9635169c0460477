// The process-wide side of libhdf5 (C API reference: https://docs.hdfgroup.org/hdf5/v1_10/):
// initialisation, the type and property-class globals the C macros hide, silencing the library's own
// error printing, and turning its error stack (H5Ewalk2) into `HDF5Error`.
//
// The C headers spell constants as macros Swift cannot import: `H5T_NATIVE_FLOAT` is
// `(H5open(), H5T_NATIVE_FLOAT_g)`, `H5P_DEFAULT` and `H5S_ALL` are 0, `H5F_ACC_TRUNC` is 2. They are
// restated here. The `_g` globals behind the type and property-class macros are filled in by
// `H5open()`; Swift 6 refuses to read imported mutable C globals, so each is read once, after
// `H5open()`, through its symbol address (dlsym), which is what the macro does in C.

import CHDF5
import TensorCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

enum HDF5Library {
    static let defaultPlist: hid_t = 0   // H5P_DEFAULT
    static let all: hid_t = 0            // H5S_ALL
    static let defaultErrorStack: hid_t = 0  // H5E_DEFAULT
    static let variableSize = Int.max &* 2 &+ 1  // H5T_VARIABLE = (size_t)-1
    static let undefinedAddress = UInt64.max     // HADDR_UNDEF

    enum FileAccess {
        static let readOnly: UInt32 = 0x0000   // H5F_ACC_RDONLY
        static let truncate: UInt32 = 0x0002   // H5F_ACC_TRUNC
    }

    /// True once `H5open` succeeded; false when the library cannot start (then every call fails).
    private static let opened: Bool = { H5open() >= 0 }()

    /// Whether libhdf5 was built thread-safe (Debian's serial build is). When it is not, every call
    /// sequence runs under `lock`.
    private static let threadSafe: Bool = {
        guard opened else { return false }
        var flag: hbool_t = false
        return H5is_library_threadsafe(&flag) >= 0 && flag
    }()

    nonisolated(unsafe) private static let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
        return mutex
    }()

    /// Runs `body` with the library started and its automatic error printing off for this thread
    /// (libhdf5 keeps that setting per thread in a thread-safe build), serialised when the build is
    /// not thread-safe. Every wrapper goes through here, so libhdf5 never writes to stderr.
    static func run<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        _ = opened
        if !threadSafe { pthread_mutex_lock(lock) }
        defer { if !threadSafe { pthread_mutex_unlock(lock) } }
        H5Eset_auto2(defaultErrorStack, nil, nil)
        return try body()
    }

    // MARK: - Types and property classes (the `_g` globals behind the C macros)

    /// The value of the libhdf5 global `name` (an `hid_t` set by `H5open`), or -1 if it is missing.
    private static func global(_ name: String) -> hid_t {
        _ = opened
        guard let process = dlopen(nil, RTLD_NOW), let address = dlsym(process, name) else { return -1 }
        return address.load(as: hid_t.self)
    }

    static let ieeeF32LE = global("H5T_IEEE_F32LE_g")
    static let ieeeF64LE = global("H5T_IEEE_F64LE_g")
    static let stdI8LE = global("H5T_STD_I8LE_g")
    static let stdI16LE = global("H5T_STD_I16LE_g")
    static let stdI32LE = global("H5T_STD_I32LE_g")
    static let stdI64LE = global("H5T_STD_I64LE_g")
    static let stdU8LE = global("H5T_STD_U8LE_g")
    static let stdU16LE = global("H5T_STD_U16LE_g")
    static let stdU32LE = global("H5T_STD_U32LE_g")
    static let stdU64LE = global("H5T_STD_U64LE_g")
    static let nativeInt8 = global("H5T_NATIVE_SCHAR_g")
    static let nativeDouble = global("H5T_NATIVE_DOUBLE_g")
    static let nativeInt64 = global("H5T_NATIVE_LLONG_g")
    static let cString = global("H5T_C_S1_g")

    static let fileAccessClass = global("H5P_CLS_FILE_ACCESS_ID_g")
    static let fileCreateClass = global("H5P_CLS_FILE_CREATE_ID_g")
    static let groupCreateClass = global("H5P_CLS_GROUP_CREATE_ID_g")
    static let linkCreateClass = global("H5P_CLS_LINK_CREATE_ID_g")
    static let datasetCreateClass = global("H5P_CLS_DATASET_CREATE_ID_g")

    /// IEEE half precision, little-endian, built the way h5py builds its `IEEE_F16LE` (a copy of
    /// F32LE with the half fields, size 2, bias 15), so the datatype message matches h5py's bytes.
    static let ieeeF16LE: hid_t = {
        let type = H5Tcopy(ieeeF32LE)
        H5Tset_fields(type, 15, 10, 5, 0, 10)
        H5Tset_size(type, 2)
        H5Tset_ebias(type, 15)
        H5Tlock(type)
        return type
    }()

    // MARK: - Errors

    /// The current thread's error stack as readable lines (innermost last), then cleared. Call it
    /// straight after the failing C call: any later API call resets the stack.
    static func errorStack() -> [String] {
        final class Collector { var lines: [String] = [] }
        let collector = Collector()
        let box = Unmanaged.passRetained(collector)
        defer { box.release() }
        H5Ewalk2(defaultErrorStack, H5E_WALK_DOWNWARD, { _, entry, data in
            guard let entry, let data else { return 0 }
            let collector = Unmanaged<Collector>.fromOpaque(data).takeUnretainedValue()
            var text = entry.pointee.desc.map { String(cString: $0) } ?? ""
            if text.isEmpty {   // no description: the minor message ("Not an HDF5 file" …) says it
                var buffer = [CChar](repeating: 0, count: 256)
                var type = H5E_MINOR
                if H5Eget_msg(entry.pointee.min_num, &type, &buffer, buffer.count) > 0 {
                    text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                }
            }
            if !text.isEmpty { collector.lines.append(text) }
            return 0
        }, box.toOpaque())
        H5Eclear2(defaultErrorStack)
        return collector.lines
    }

    /// An `HDF5Error.library` for `operation` on `object`, with the library's own explanation.
    static func failure(_ operation: String, _ object: String) -> HDF5Error {
        .library(operation: operation, object: object, causes: errorStack())
    }
}
