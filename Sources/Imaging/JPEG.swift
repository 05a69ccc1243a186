import CTurboJPEG
import Foundation

/// Size limits checked against the JPEG header before any pixel is decoded.
public struct JPEGLimits: Equatable, Sendable {
    public var maxPixels: Int
    public var maxSide: Int

    public init(maxPixels: Int = 40_000_000, maxSide: Int = 16_384) {
        self.maxPixels = maxPixels
        self.maxSide = maxSide
    }

    public static let `default` = JPEGLimits()

    func admit(width: Int, height: Int) throws {
        guard max(width, height) <= maxSide, width * height <= maxPixels else {
            throw ImageError.tooLarge(width: width, height: height)
        }
    }
}

/// The colourspace a JPEG is stored in (its components before conversion to RGB).
public enum JPEGColorspace: String, Equatable, Sendable {
    case rgb, ycbcr, grayscale, cmyk, ycck
}

public struct JPEGHeader: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let colorspace: JPEGColorspace
}

/// JPEG decoding with TurboJPEG, set up to give the pixels Pillow's decoder gives:
/// accurate integer DCT and fancy (smooth) chroma upsampling.
public enum JPEG {
    /// Reads the frame header only: size and colourspace. Nothing is decoded.
    public static func header(_ data: Data) throws -> JPEGHeader {
        try withDecompressor(data) { handle, bytes in try readHeader(handle, bytes) }
    }

    /// Decodes a baseline or progressive JPEG to 8-bit RGB; grayscale is expanded to R = G = B.
    /// The header's size is checked against `limits` before the pixel buffer is allocated.
    public static func decode(_ data: Data, limits: JPEGLimits = .default) throws -> RGBImage {
        try withDecompressor(data) { handle, bytes in
            let header = try readHeader(handle, bytes)
            try limits.admit(width: header.width, height: header.height)
            guard header.colorspace != .cmyk, header.colorspace != .ycck else {
                throw ImageError.unsupportedColorspace(header.colorspace.rawValue.uppercased())
            }
            let (width, height) = (header.width, header.height)
            // A warning (e.g. premature end of data) stops decoding and counts as an error:
            // Pillow refuses truncated files too. LIMITSCANS bounds the work of progressive files.
            let flags = TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS
            var status: Int32 = 0
            let pixels = [UInt8](unsafeUninitializedCapacity: width * height * 3) { buffer, count in
                status = tjDecompress2(handle, bytes.baseAddress, UInt(bytes.count), buffer.baseAddress,
                                       Int32(width), Int32(width * 3), Int32(height),
                                       Int32(TJPF_RGB.rawValue), flags)
                count = status == 0 ? buffer.count : 0
            }
            guard status == 0 else { throw ImageError.corrupt(errorMessage(handle)) }
            return RGBImage(width: width, height: height, pixels: pixels)
        }
    }

    /// Encodes 8-bit RGB as a baseline JPEG with 4:2:0 chroma and the accurate integer DCT: the bytes
    /// OpenCV's `cv2.imencode(".jpg", bgr, [IMWRITE_JPEG_QUALITY, quality])` and Pillow's
    /// `save(quality=)` write. Without `TJFLAG_ACCURATEDCT`, TurboJPEG takes its fast DCT below
    /// quality 96 and the bytes (and the scores of the decoded crop) differ.
    public static func encode(_ image: RGBImage, quality: Int = 95) throws -> Data {
        guard image.width > 0, image.height > 0 else {
            throw ImageError.corrupt("cannot encode an empty \(image.width)x\(image.height) image")
        }
        guard (1...100).contains(quality) else { throw ImageError.corrupt("JPEG quality \(quality) is outside 1...100") }
        guard image.width <= Int(Int32.max) / 3, image.height <= Int(Int32.max) else {
            throw ImageError.tooLarge(width: image.width, height: image.height)
        }
        guard let handle = tjInitCompress() else {
            throw ImageError.corrupt("the TurboJPEG compressor could not be created")
        }
        defer { tjDestroy(handle) }
        let (width, height) = (Int32(image.width), Int32(image.height))
        let samp = Int32(TJSAMP_420.rawValue)
        // A buffer of the worst-case size, so TurboJPEG never reallocates it.
        let capacity = tjBufSize(width, height, samp)
        guard capacity != UInt(bitPattern: -1), let buffer = tjAlloc(Int32(clamping: capacity)) else {
            throw ImageError.tooLarge(width: image.width, height: image.height)
        }
        var jpeg: UnsafeMutablePointer<UInt8>? = buffer
        defer { tjFree(jpeg) }
        var size = capacity
        let status = image.pixels.withUnsafeBufferPointer { rgb in
            tjCompress2(handle, rgb.baseAddress, width, width * 3, height, Int32(TJPF_RGB.rawValue),
                        &jpeg, &size, samp, Int32(quality), TJFLAG_ACCURATEDCT | TJFLAG_NOREALLOC)
        }
        guard status == 0, let jpeg else { throw ImageError.corrupt(errorMessage(handle)) }
        return Data(bytes: jpeg, count: Int(size))
    }

    /// Checks the SOI marker, then runs `body` with a fresh TurboJPEG decompressor and the bytes.
    private static func withDecompressor<T>(
        _ data: Data, _ body: (tjhandle, UnsafeBufferPointer<UInt8>) throws -> T
    ) throws -> T {
        guard data.count >= 2, data[data.startIndex] == 0xFF, data[data.startIndex + 1] == 0xD8 else {
            throw ImageError.notAJPEG
        }
        guard let handle = tjInitDecompress() else {
            throw ImageError.corrupt("the TurboJPEG decompressor could not be created")
        }
        defer { tjDestroy(handle) }
        return try data.withUnsafeBytes { raw in
            try body(handle, raw.bindMemory(to: UInt8.self))
        }
    }

    private static func readHeader(_ handle: tjhandle, _ bytes: UnsafeBufferPointer<UInt8>) throws -> JPEGHeader {
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        guard tjDecompressHeader3(handle, bytes.baseAddress, UInt(bytes.count),
                                  &width, &height, &subsampling, &colorspace) == 0 else {
            throw ImageError.corrupt(errorMessage(handle))
        }
        guard width > 0, height > 0 else { throw ImageError.corrupt("the header declares an empty image") }
        return JPEGHeader(width: Int(width), height: Int(height), colorspace: try jpegColorspace(colorspace))
    }

    private static func jpegColorspace(_ code: Int32) throws -> JPEGColorspace {
        switch code {
        case Int32(TJCS_RGB.rawValue): return .rgb
        case Int32(TJCS_YCbCr.rawValue): return .ycbcr
        case Int32(TJCS_GRAY.rawValue): return .grayscale
        case Int32(TJCS_CMYK.rawValue): return .cmyk
        case Int32(TJCS_YCCK.rawValue): return .ycck
        default: throw ImageError.unsupportedColorspace("code \(code)")
        }
    }

    private static func errorMessage(_ handle: tjhandle) -> String {
        guard let message = tjGetErrorStr2(handle) else { return "unknown TurboJPEG error" }
        return String(cString: message)
    }
}
