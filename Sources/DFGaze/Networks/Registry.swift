import Foundation
import Tensors
import Weights

/// What the rest of the program needs to know about one network, stated once, beside its
/// forward pass.
public struct NetworkFacts: Sendable {
    /// The short name: its weights file `<name>.safetensors`, its manifest entry, its metadata.
    public let name: String
    /// The name of the paper, for people (`/v1/model`), and what it is and does in one line.
    public let displayName: String
    public let role: String
    /// The authors' checkpoint file of this network, `<id>` standing for the checkpoint's id.
    public let checkpointFile: String
    /// Patterns (`prefix.*` or `*.suffix`) of checkpoint keys the forward pass never reads, so
    /// not stored (Tests/Fixtures/dfgaze-demo-v1/SPEC.md section 1).
    public let omittedKeys: [String]
    /// The demo recipe: the BatchNorm weights that start near zero (the last of each residual
    /// branch), as dot-separated parts where "layer#" is `layer` and a number, "#" a number.
    public let dampedBatchNorms: String
}

/// A network of DFGaze that reads weights. Its facts live in its conformance, beside its forward
/// pass: adding a network means writing its file (with this conformance) and listing it in
/// `Networks.all` (docs/architecture.md).
public protocol WeightedNetwork: AnyObject, Sendable {
    static var facts: NetworkFacts { get }
    /// Builds the network, taking every parameter from `binder` by its checkpoint key.
    init(_ binder: WeightBinder)
}

extension WeightedNetwork {
    public static var name: String { facts.name }
    public static var displayName: String { facts.displayName }
    public static var role: String { facts.role }
    public static var omittedKeys: [String] { facts.omittedKeys }

    /// The authors' checkpoint file of this network for checkpoint `id`.
    public static func checkpointFileName(id: Int) -> String {
        facts.checkpointFile.replacingOccurrences(of: "<id>", with: String(id))
    }

    /// Whether `key` is a BatchNorm weight the demo recipe damps.
    public static func isDamped(_ key: String) -> Bool {
        Networks.key(key, is: facts.dampedBatchNorms.split(separator: ".").map(String.init))
    }

    /// Binds every parameter by its checkpoint key; throws a `BindingError` listing every
    /// missing, misshapen and unexpected key. The `omittedKeys` are not unexpected.
    public init(weights: StateDict) throws {
        let binder = WeightBinder(network: Self.name, state: weights, ignoring: Self.isOmitted)
        self.init(binder)
        try binder.finish()
    }

    /// Whether the forward pass never reads the checkpoint key `key`.
    public static func isOmitted(_ key: String) -> Bool { WeightsManifest.matches(key, patterns: omittedKeys) }

    /// Every key the forward pass reads, with its shape, in the order it reads them (builds the
    /// network once on zeros to ask).
    public static var parameterSpec: [(key: String, shape: [Int])] {
        let binder = WeightBinder(network: name, state: StateDict())
        _ = Self(binder)
        return binder.requested
    }

    /// Throws unless `state` fits the network exactly (see `init(weights:)`).
    static func bind(_ state: StateDict) throws { _ = try Self(weights: state) }

    /// What the demo generator needs of this network, for the parameters `parameters`.
    public static func demo(parameters: [(key: String, shape: [Int])]) -> DemoWeights.Network {
        DemoWeights.Network(name: name, omittedKeys: omittedKeys, parameters: parameters, isDamped: isDamped)
    }
}

/// The registry: every network that reads weights, in the order of the paper and of a weights
/// manifest (gaze, texture, attribute, aggregator). Everything else asks it.
public enum Networks {
    public static let all: [any WeightedNetwork.Type] = [GAM.self, TAM.self, AAM.self, PSTA.self]

    public static var names: [String] { all.map { $0.name } }

    public static func named(_ name: String) -> (any WeightedNetwork.Type)? { all.first { $0.name == name } }

    /// Every network's parameter spec (key -> shape), what the demo generator produces.
    public static var parameterSpecs: [String: [(key: String, shape: [Int])]] {
        Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0.parameterSpec) })
    }

    /// The demo generator's view of every network, for the parameters `specs` (by name).
    public static func demo(specs: [String: [(key: String, shape: [Int])]]) -> [DemoWeights.Network] {
        all.map { $0.demo(parameters: specs[$0.name] ?? []) }
    }

    /// Whether `key` names a module by `pattern`'s dot-separated parts, where "layer#" is `layer`
    /// and a number, "#" a number, and any other part itself: the damping rules' common shape.
    static func key(_ key: String, is pattern: [String]) -> Bool {
        let parts = key.split(separator: ".").map(String.init)
        guard parts.count == pattern.count else { return false }
        return zip(parts, pattern).allSatisfy { part, p in
            switch p {
            case "#": Int(part) != nil
            case "layer#": part.hasPrefix("layer") && Int(part.dropFirst(5)) != nil
            default: part == p
            }
        }
    }
}
