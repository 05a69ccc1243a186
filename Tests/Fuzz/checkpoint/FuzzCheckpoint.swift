import Foundation
import Tensors
import Weights

// Fuzz target for PyTorchCheckpoint.load(data:): the zip reader, the restricted unpickler and the
// legacy (pre-1.6) format, whichever the bytes select. A throw is an acceptable answer; a returned
// tensor whose values do not fill its shape, or a key both kept and set aside, is not.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let checkpoint = try? PyTorchCheckpoint.load(data: Data(bytes: data, count: size)) else { return 0 }
    for key in checkpoint.floatTensors.keys {
        guard let tensor = checkpoint.floatTensors[key] else { fatalError("listed key \(key) has no tensor") }
        let (count, overflow) = tensor.shape.reduce((1, false)) { acc, d in
            let (m, o) = acc.0.multipliedReportingOverflow(by: d); return (m, acc.1 || o)
        }
        guard !overflow, tensor.shape.allSatisfy({ $0 >= 0 }), count == tensor.values.count else {
            fatalError("tensor \(key): shape \(tensor.shape) with \(tensor.values.count) values")
        }
    }
    guard Set(checkpoint.floatTensors.keys).isDisjoint(with: checkpoint.otherKeys) else {
        fatalError("a key is both a float tensor and set aside")
    }
    return 0
}
