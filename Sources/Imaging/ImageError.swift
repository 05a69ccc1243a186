/// Why an upload could not be turned into pixels. Every case carries a message fit for an API client.
public enum ImageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Empty input, or bytes that do not start with the JPEG SOI marker (FF D8).
    case notAJPEG
    /// A JPEG in a colourspace we do not convert (CMYK, YCCK or unknown).
    case unsupportedColorspace(String)
    /// The header declares more pixels, or a longer side, than the caller's limits allow.
    case tooLarge(width: Int, height: Int)
    /// The JPEG data is damaged, truncated or otherwise undecodable; the decoder's message.
    case corrupt(String)

    public var description: String {
        switch self {
        case .notAJPEG:
            return "not a JPEG image (empty, or no SOI marker)"
        case .unsupportedColorspace(let name):
            return "unsupported JPEG colourspace \(name); only YCbCr, RGB and grayscale JPEGs are accepted"
        case .tooLarge(let width, let height):
            return "image of \(width)x\(height) pixels exceeds the size limits"
        case .corrupt(let reason):
            return "corrupt JPEG data: \(reason)"
        }
    }
}
