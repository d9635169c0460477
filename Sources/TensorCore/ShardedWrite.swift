// Writing a sharded checkpoint as one all-or-nothing step. Each shard file is atomic on its own
// (AtomicFileWriter), but a set of shards is only useful whole: if shard 3 of 5 fails, shards 1 and 2
// must not be left behind next to an old index. So every shard is first written under a hidden
// staging name; only when all of them exist are they renamed into place, and the index goes last.

#if canImport(Glibc)
import Glibc
#endif

extension ShardIndex {
    /// Writes each of `shards` (names of `store`, as `split` groups them) with
    /// `writeShard(shard, stagingPath, finalFileName)` and then the index `<stem>.<ext>.index.json`. A failure removes every
    /// shard written so far and reports the shard under its final name. Returns the file names written.
    package static func writeShards(_ store: TensorStore, _ shards: [[String]], directory: String, stem: String, fileExtension: String,
                                   writeShard: (_ shard: TensorStore, _ path: String, _ finalName: String) throws -> Void) throws -> [String] {
        let files = shards.indices.map { shardFileName(stem: stem, extension: fileExtension, index: $0, count: shards.count) }
        let staged = files.map { directory + "/." + $0 + ".staged-\(getpid())" }
        var written = 0
        defer { for path in staged[..<written] { unlink(path) } }   // no-op once renamed into place

        for (index, names) in shards.enumerated() {
            var shard = TensorStore()
            for name in names { shard[name] = store[name] }
            do {
                try writeShard(shard, staged[index], files[index])
            } catch let error as FileError {
                throw FileError(path: directory + "/" + files[index], cause: error.cause)
            }
            written += 1
        }
        for (path, file) in zip(staged, files) {
            guard rename(path, directory + "/" + file) == 0 else {
                throw FileError(path: directory + "/" + file, cause: SystemError.lastError("cannot rename into place"))
            }
        }
        let indexPath = directory + "/" + stem + "." + fileExtension + ".index.json"
        try withFileContext(indexPath) {
            try AtomicFileWriter.write(indexText(store: store, shards: shards, fileNames: files), to: indexPath)
        }
        return files + [stem + "." + fileExtension + ".index.json"]
    }
}
