import ArgumentParser
import DFGaze
import Foundation
import Weights

struct WeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights", abstract: "Import the authors' checkpoints, or verify a weights folder.",
        subcommands: [Import.self, Verify.self, Demo.self])

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Turn the authors' model1_<id>.pt, modelcnn_<id>.pt, modelatt_<id>.pt and capsule_<id>.pt into a weights folder (no Python needed).")

        @Argument(help: "Folder holding the four .pt files.")
        var directory: String
        @Option(help: "Checkpoint id (the <id> in the file names).")
        var id: Int = 40
        @Option(help: "Weights folder to write (then: dfgaze serve --weights <out>).")
        var out: String
        @Option(help: "Name recorded in the manifest (default dfgaze-checkpoint-<id>).")
        var name: String?

        func run() throws {
            let summary = try CheckpointImport.run(from: URL(fileURLWithPath: directory), id: id,
                                                   to: URL(fileURLWithPath: out), name: name)
            for file in summary.manifest.files {
                print("\(file.network): \(file.file) \(file.tensorCount) tensors, \(file.parameterCount) parameters, sha256 \(file.sha256); dropped \(summary.dropped[file.network]?.count ?? 0) unused keys")
            }
            print("wrote \(out)/manifest.json (\(summary.manifest.name)); serve it with: dfgaze serve --weights \(out)")
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every file of a weights folder against its manifest (sizes, SHA-256, tensor names, shapes, dtypes).")

        @Argument(help: "Weights folder (default: the demo weights cache).")
        var directory: String?

        func run() throws {
            let dir = directory.map { URL(fileURLWithPath: $0) } ?? DemoWeights.defaultCacheDirectory()
            var problems = WeightsDirectory.verify(dir)
            if let manifest = try? WeightsDirectory.readManifest(in: dir) {
                do { try manifest.require(networks: Networks.names) } catch { problems.append("\(error)") }
                // The demo cache must also hold the files pinned in this binary.
                if directory == nil { problems += DemoWeights.differences(manifest, from: Networks.demoPins) }
            }
            if problems.isEmpty {
                print("\(dir.path): ok")
            } else {
                for p in problems { print(p) }
                throw ExitCode(1)
            }
        }
    }

    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the deterministic demo weights (dfgaze-demo-v1) into a folder, e.g. to ship them in an image.")

        @Option(help: "Folder to write (default: the demo weights cache).")
        var output: String?

        func run() throws {
            let dir = try DemoWeights.ensure(in: output.map { URL(fileURLWithPath: $0) } ?? DemoWeights.defaultCacheDirectory(),
                                             networks: Networks.demo(specs: Networks.parameterSpecs), pins: Networks.demoPins)
            print("\(dir.path): \(DemoWeights.name) (demo weights: they exercise the pipeline and mean nothing about a video)")
        }
    }
}
