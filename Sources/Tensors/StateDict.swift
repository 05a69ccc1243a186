/// Named parameters of one network, as in a PyTorch state dict, and the binding of a
/// network's layers to them by key.
///
/// Binding collects every problem before failing, so one error lists each missing,
/// misshapen and unexpected key at once.
public struct StateDict: Sendable {
    public var tensors: [String: Tensor]

    public init(_ tensors: [String: Tensor] = [:]) { self.tensors = tensors }

    public subscript(key: String) -> Tensor? {
        get { tensors[key] }
        set { tensors[key] = newValue }
    }

    public var keys: [String] { tensors.keys.sorted() }
}

public struct BindingError: Error, CustomStringConvertible, Sendable {
    public let network: String
    public let missing: [String]
    public let misshapen: [(key: String, expected: [Int], found: [Int])]
    public let unexpected: [String]

    public var description: String {
        var lines = ["weights for \(network) do not fit the network:"]
        for k in missing { lines.append("  missing key \(k)") }
        for m in misshapen { lines.append("  key \(m.key) has shape \(m.found), expected \(m.expected)") }
        for k in unexpected { lines.append("  unexpected key \(k)") }
        return lines.joined(separator: "\n")
    }
}

/// Hands out parameters by key and records what was asked for.
public final class WeightBinder {
    public let network: String
    private let state: StateDict
    /// Keys present in the file that the forward pass legitimately never reads.
    private let ignored: (String) -> Bool
    private var used = Set<String>()
    /// Every key asked for, in order, with its shape: the network's parameter spec.
    public private(set) var requested: [(key: String, shape: [Int])] = []
    private var missing: [String] = []
    private var misshapen: [(key: String, expected: [Int], found: [Int])] = []

    public init(network: String, state: StateDict, ignoring ignored: @escaping (String) -> Bool = { _ in false }) {
        self.network = network
        self.state = state
        self.ignored = ignored
    }

    /// The tensor stored under `key`, which must have `shape`. On a problem, records it and
    /// returns zeros of that shape so binding can go on and report everything.
    public func take(_ key: String, shape: [Int]) -> Tensor {
        if used.insert(key).inserted { requested.append((key, shape)) }
        guard let t = state[key] else {
            missing.append(key)
            return Tensor(zeros: shape)
        }
        guard t.shape == shape else {
            misshapen.append((key, shape, t.shape))
            return Tensor(zeros: shape)
        }
        return t
    }

    /// `prefix.weight`, `prefix.bias`, `prefix.running_mean`, `prefix.running_var`.
    public func batchNorm(_ prefix: String, channels: Int) -> BatchNorm {
        BatchNorm(weight: take(prefix + ".weight", shape: [channels]),
                  bias: take(prefix + ".bias", shape: [channels]),
                  runningMean: take(prefix + ".running_mean", shape: [channels]),
                  runningVar: take(prefix + ".running_var", shape: [channels]))
    }

    /// A bias-free convolution `conv` followed by the BatchNorm `bn`, folded.
    public func conv(_ conv: String, batchNorm bn: String?, out: Int, in inChannels: Int, kernel: Int,
                     stride: Int = 1, padding: Int = 0) -> Conv2d {
        Conv2d(weight: take(conv + ".weight", shape: [out, inChannels, kernel, kernel]),
               batchNorm: bn.map { batchNorm($0, channels: out) }, stride: stride, padding: padding)
    }

    public func linear(_ prefix: String, out: Int, in inFeatures: Int, bias: Bool = true) -> Linear {
        Linear(weight: take(prefix + ".weight", shape: [out, inFeatures]),
               bias: bias ? take(prefix + ".bias", shape: [out]) : nil)
    }

    /// Throws a `BindingError` listing every missing, misshapen and unexpected key.
    /// `num_batches_tracked` counters and keys matched by `ignoring` are not unexpected.
    public func finish() throws {
        let unexpected = state.keys.filter {
            !used.contains($0) && !$0.hasSuffix("num_batches_tracked") && !ignored($0)
        }
        if !missing.isEmpty || !misshapen.isEmpty || !unexpected.isEmpty {
            throw BindingError(network: network, missing: missing, misshapen: misshapen, unexpected: unexpected)
        }
    }
}
