import Foundation
import Tensors

/// The `dfgaze-demo-v1` weights: a deterministic value for every parameter the forward pass reads,
/// so the service runs with no download and every machine builds the very same bytes.
/// The recipe is fixed by Tests/Fixtures/dfgaze-demo-v1/SPEC.md section 1; do not change it.
public enum DemoWeights {
    public static let name = "dfgaze-demo-v1"

    /// Generates the parameters `keys` (name -> shape) of `network` ("gam", "tam", "aam", "agg"),
    /// tensors in parallel: each has its own seed, so the order of work does not matter.
    public static func generate(network: String, keys: [(key: String, shape: [Int])]) -> StateDict {
        let batchNormModules = Set(keys.compactMap { k -> String? in
            k.key.hasSuffix(".running_mean") ? String(k.key.dropLast(".running_mean".count)) : nil
        })
        let tensors = concurrentMap(keys.count) { i in
            let (key, shape) = keys[i]
            let module = key.split(separator: ".").dropLast().joined(separator: ".")
            let leaf = key.split(separator: ".").last.map(String.init) ?? key
            let rule = Rule(network: network, key: key, leaf: leaf, shape: shape,
                            isBatchNorm: batchNormModules.contains(module))
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

        init(network: String, key: String, leaf: String, shape: [Int], isBatchNorm: Bool) {
            switch (isBatchNorm, leaf) {
            case (true, "weight"): self = .gamma(DemoWeights.isDamped(network: network, key: key) ? 0.25 : 1)
            case (true, "running_var"): self = .variance
            case (true, _), (false, "bias"): self = .shift
            default:
                let fanIn = Double(shape.dropFirst().reduce(1, *))
                // conv (rank 3/4): sqrt(6 / fan_in); linear (rank 2): sqrt(3 / fan_in); sqrt in Float64.
                self = .scaled(Float(((shape.count == 2 ? 3.0 : 6.0) / fanIn).squareRoot()))
            }
        }
    }

    /// The last BatchNorm of every residual branch and STAM conv block starts near zero.
    static func isDamped(network: String, key: String) -> Bool {
        let parts = key.split(separator: ".").map(String.init)
        func isLayer(_ s: String) -> Bool { s.hasPrefix("layer") && Int(s.dropFirst(5)) != nil }
        switch network {
        case "gam", "tam":  // layerN.M.bn3.weight
            return parts.count == 4 && isLayer(parts[0]) && Int(parts[1]) != nil && parts[2] == "bn3" && parts[3] == "weight"
        case "aam":         // base.layerN.M.bn2.weight
            return parts.count == 5 && parts[0] == "base" && isLayer(parts[1]) && Int(parts[2]) != nil
                && parts[3] == "bn2" && parts[4] == "weight"
        case "agg":         // layerN.conv_block.7.weight
            return parts.count == 4 && isLayer(parts[0]) && parts[1] == "conv_block" && parts[2] == "7" && parts[3] == "weight"
        default:
            return false
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
