import Foundation
import Tensors

/// The `dfgaze-demo-v1` weights: a deterministic value for every parameter the forward pass reads,
/// so the service runs with no download and every machine builds the very same bytes.
/// The recipe is fixed by Tests/Fixtures/dfgaze-demo-v1/SPEC.md section 1; do not change it.
public enum DemoWeights {
    public static let name = "dfgaze-demo-v1"

    /// What the recipe needs to know of one network; the model's registry tells it.
    public struct Network: Sendable {
        public var name: String
        /// Checkpoint keys left out (recorded in the manifest).
        public var omittedKeys: [String]
        /// The parameters to generate (name -> shape).
        public var parameters: [(key: String, shape: [Int])]
        /// Which BatchNorm weights start near zero (the last of each residual branch).
        public var isDamped: @Sendable (String) -> Bool

        public init(name: String, omittedKeys: [String], parameters: [(key: String, shape: [Int])],
                    isDamped: @escaping @Sendable (String) -> Bool) {
            self.name = name
            self.omittedKeys = omittedKeys
            self.parameters = parameters
            self.isDamped = isDamped
        }
    }

    /// Generates `network`'s parameters, tensors in parallel: each has its own seed, so the
    /// order of work does not matter.
    public static func generate(_ network: Network) -> StateDict {
        generate(network: network.name, keys: network.parameters, isDamped: network.isDamped)
    }

    /// Generates the parameters `keys` (name -> shape) of the network named `network`.
    public static func generate(network: String, keys: [(key: String, shape: [Int])],
                                isDamped: (String) -> Bool) -> StateDict {
        let batchNormModules = Set(keys.compactMap { k -> String? in
            k.key.hasSuffix(".running_mean") ? String(k.key.dropLast(".running_mean".count)) : nil
        })
        let damped = keys.map { isDamped($0.key) }
        let tensors = concurrentMap(keys.count) { i in
            let (key, shape) = keys[i]
            let module = key.split(separator: ".").dropLast().joined(separator: ".")
            let leaf = key.split(separator: ".").last.map(String.init) ?? key
            let rule = Rule(leaf: leaf, shape: shape, isBatchNorm: batchNormModules.contains(module),
                            isDamped: damped[i])
            return Tensor(shape: shape, values: values(seed: fnv1a64("\(name)/\(network)/\(key)"),
                                                       count: shape.reduce(1, *), rule: rule))
        }
        var state = StateDict()
        for (k, t) in zip(keys, tensors) { state[k.key] = t }
        return state
    }

    /// How one key's uniform draws become values.
    enum Rule: Equatable {
        case gamma(Float)          // g * (1 + 0.25 v)
        case shift                 // 0.125 v  (BN beta, running_mean, any other bias)
        case variance              // 1 + 0.5 u
        case scaled(Float)         // v * a   (conv and linear weights)

        init(leaf: String, shape: [Int], isBatchNorm: Bool, isDamped: Bool) {
            switch (isBatchNorm, leaf) {
            case (true, "weight"): self = .gamma(isDamped ? 0.25 : 1)
            case (true, "running_var"): self = .variance
            case (true, _), (false, "bias"): self = .shift
            default:
                let fanIn = Double(shape.dropFirst().reduce(1, *))
                // conv (rank 3/4): sqrt(6 / fan_in); linear (rank 2): sqrt(3 / fan_in); sqrt in Float64.
                self = .scaled(Float(((shape.count == 2 ? 3.0 : 6.0) / fanIn).squareRoot()))
            }
        }
    }

    static func values(seed: UInt64, count: Int, rule: Rule) -> [Float] {
        // One loop per rule, so that each compiles to straight-line vector code.
        switch rule {
        case .gamma(let g): fill(seed: seed, count: count) { _, v in g * (1 + 0.25 * v) }
        case .shift: fill(seed: seed, count: count) { _, v in 0.125 * v }
        case .variance: fill(seed: seed, count: count) { u, _ in 1 + 0.5 * u }
        case .scaled(let a): fill(seed: seed, count: count) { _, v in v * a }
        }
    }

    /// Element i-1 from the i-th output of splitmix64: u in [0, 1), v = 2u - 1, both exact.
    @inline(__always)
    private static func fill(seed: UInt64, count: Int, _ value: (_ u: Float, _ v: Float) -> Float) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { out, initialized in
            for i in 0..<count {
                // seed + i·golden computed directly rather than accumulated: no loop-carried chain.
                var z = seed &+ UInt64(truncatingIfNeeded: i + 1) &* 0x9E37_79B9_7F4A_7C15
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z = z ^ (z >> 31)
                let u = Float(Int32(truncatingIfNeeded: z >> 40)) * 0x1p-24  // < 2^24: exact
                out[i] = value(u, 2 * u - 1)
            }
            initialized = count
        }
    }

    static func fnv1a64(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in s.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}
