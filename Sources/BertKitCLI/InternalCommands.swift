// Hidden commands that `bertkit` runs as its own child processes; not for users (not in --help).

import ArgumentParser
import BertKitInternals

/// `bertkit internal-read-hdf5 FILE OUT`: reads an HDF5 checkpoint with libhdf5 in this (child) process and writes
/// its tensors to OUT as safetensors, with a one-line JSON report on stdout (IsolatedHDF5.swift).
struct InternalReadHDF5Command: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "internal-read-hdf5", shouldDisplay: false)
    @Argument var path: String
    @Argument var output: String

    func run() throws {
        let (report, status) = IsolatedHDF5.serve(path: path, output: output)
        Console.out(report)
        if status != 0 { throw ExitCode(status) }
    }
}
