import Foundation
import Weights

// Fuzz target for the restricted unpickler alone (Pickle.load), with the globals a state dict uses.
// The checkpoint target reaches it too, but a zip's CRC-32 turns away almost every mutation of the
// data.pkl inside; here every mutation lands in the pickle. A throw is an acceptable answer.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? Pickle.load(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
