import Foundation
import Tensors
import Weights

// Fuzz target for SafeTensorsFile(data:) followed by reading every tensor it lists, as float32 and as
// bytes (a throw for the wrong dtype is fine). What it hands back must fit its own header: the values
// fill the shape, the bytes fill the recorded range.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let file = try? SafeTensorsFile(data: Data(bytes: data, count: size)) else { return 0 }
    for name in file.names {
        guard let entry = file.entries[name] else { fatalError("listed tensor \(name) has no entry") }
        if let tensor = try? file.tensor(name) {
            guard tensor.shape == entry.shape, tensor.values.count * 4 == entry.range.count else {
                fatalError("tensor \(name): shape \(tensor.shape), \(tensor.values.count) values, entry \(entry)")
            }
        }
        if let bytes = try? file.bytes(name), bytes.count != entry.range.count {
            fatalError("tensor \(name): \(bytes.count) bytes for the range \(entry.range)")
        }
    }
    _ = try? file.stateDict()
    return 0
}
