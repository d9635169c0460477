// Resolving a Hugging Face Hub id (`bert-base-uncased`, `google-bert/bert-base-uncased`) to a snapshot
// folder in the local cache, offline, as huggingface_hub 2.4's `try_to_load_from_cache` does
// (Docs/specs/hf_conventions.md §5). Nothing is ever downloaded.

import TensorCore
#if canImport(Glibc)
import Glibc
#endif

package enum HubCacheError: Error, CustomStringConvertible {
    case notCached(id: String, looked: [String])

    package var description: String {
        switch self {
        case .notCached(let id, let looked):
            return "'\(id)' is neither a model directory nor in the Hugging Face cache (looked in \(looked.joined(separator: ", "))); "
                + "download it elsewhere and copy the folder, or pass a local directory"
        }
    }
}

package enum HubCache {
    /// The hub cache folder: HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else HF_HOME/hub, else
    /// XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
    package static func cacheFolder(environment: [String: String] = currentEnvironment()) -> String {
        if let path = environment["HF_HUB_CACHE"], !path.isEmpty { return path }
        if let path = environment["HUGGINGFACE_HUB_CACHE"], !path.isEmpty { return path }
        let home = environment["HF_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((environment["HOME"] ?? "") + "/.cache")) + "/huggingface")
        return home + "/hub"
    }

    /// `models--ORG--NAME` for `ORG/NAME`.
    package static func repositoryFolderName(_ id: String) -> String {
        "models--" + id.split(separator: "/", omittingEmptySubsequences: false).joined(separator: "--")
    }

    /// The snapshot folder of `id` at `revision` (a branch name or a commit hash).
    package static func snapshot(id: String, revision: String = "main",
                                environment: [String: String] = currentEnvironment()) throws -> String {
        let repository = cacheFolder(environment: environment) + "/" + repositoryFolderName(id)
        let refPath = repository + "/refs/" + revision
        var looked = [refPath]
        var commit: String? = nil
        if let bytes = try? readFileBytes(refPath) {
            commit = String(decoding: bytes, as: UTF8.self)   // verbatim: the library does not trim it either
        } else if revision.count == 40, revision.allSatisfy(\.isHexDigit) {
            commit = revision
        }
        if let commit {
            let folder = repository + "/snapshots/" + commit
            looked.append(folder)
            if isDirectory(folder) { return folder }
        }
        throw HubCacheError.notCached(id: id, looked: looked)
    }

    package static func currentEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        for key in ["HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", "HOME"] {
            if let value = getenv(key) { result[key] = String(cString: value) }
        }
        return result
    }
}

extension ModelDirectory {
    /// A local directory as given, else a Hub id resolved in the local cache.
    package static func resolve(_ argument: String) throws -> String {
        if isDirectory(argument) { return argument }
        let looksLikeId = !argument.hasPrefix("/") && !argument.hasPrefix(".") && argument.split(separator: "/").count <= 2
        guard looksLikeId else { throw FileError(path: argument, cause: SystemError(message: "no such model directory")) }
        return try HubCache.snapshot(id: argument)
    }
}
