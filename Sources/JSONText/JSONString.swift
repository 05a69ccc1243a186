import Foundation

/// A quoted JSON string literal for `s` (RFC 8259): the one quoting function of the package, for
/// log lines, hand-written bodies, job records and safetensors headers. Control characters, DEL and
/// the two JavaScript line separators are escaped; everything else passes through as UTF-8.
public func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x2028 || scalar.value == 0x2029:
            out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
