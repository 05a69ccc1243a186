import Foundation
import Imaging
import Tensors

/// A sampled frame's face as the response reports it (`face: {box, crop, detected}`).
public struct Face: Hashable, Sendable {
    /// dlib's rectangle: the frame's own best detection, or the one it borrowed.
    public var box: FaceBox
    public var crop: FaceCrop
    /// False when the box was borrowed from `source`.
    public var detected: Bool
    /// The frame (video frame index, or upload index) whose detection gave the box.
    public var source: Int

    public init(box: FaceBox, crop: FaceCrop, detected: Bool, source: Int) {
        (self.box, self.crop, self.detected, self.source) = (box, crop, detected, source)
    }
}

/// A face and its crop as the network reads it: the JPEG round trip of the reference frames.
public struct CroppedFace: Sendable {
    public var face: Face
    /// The crop encoded by `FaceCropping.encode` (quality 95, 4:2:0, accurate DCT).
    public var jpeg: Data
}

/// The faces of one video window (4 sampled frames), see `FaceCropping.window`.
public struct WindowFaces: Sendable {
    /// Every detection of each frame, in dlib's order.
    public var detections: [[FaceDetection]]
    /// One per frame, in order; nil when no frame of the window has a face (not scored: `no_face`).
    public var faces: [CroppedFace]?
}

/// The faces of whole uploaded frames, see `FaceCropping.wholeFrames`.
public struct FrameFaces: Sendable {
    /// Every detection of each uploaded frame, in dlib's order.
    public var detections: [[FaceDetection]]
    /// Each frame's size (width, height) as decoded.
    public var sizes: [(width: Int, height: Int)]
    /// Per uploaded frame: its face and crop when it belongs to a scored clip, else nil.
    public var faces: [CroppedFace?]
    /// The clips to score, as given, in order.
    public var scoredClips: [[Int]]
    /// The clips not scored (reason `no_face`): a frame has no box, or none has a face of its own.
    public var skippedClips: [[Int]]
}

/// Faces found and cropped the way the FaceForensics++ frames DFGaze was trained on were
/// (video fixture SPEC section 3): OpenCV's grayscale, dlib's detector upsampling once, the best
/// detection, the 1.3x square clipped to the frame, a borrowed box for a frame without a face,
/// and the JPEG round trip at quality 95.
///
/// Memory: at most `FaceCropping.framesAtOnce` full frames are held at a time; whole frames are
/// read through a decode closure, twice for those that borrow a box.
public enum FaceCropping {
    public static let jpegQuality = 95
    /// Full-resolution frames held (and detected in parallel) at once.
    public static let framesAtOnce = 4

    /// FaceForensics++ takes `faces[0]`: dlib's first, the highest score (the earlier on a tie).
    public static func best(_ detections: [FaceDetection]) -> FaceDetection? {
        detections.first
    }

    /// The crop of `box` cut from `image` and encoded as the reference's frames were.
    public static func crop(_ image: RGBImage, box: FaceBox, detected: Bool, frame: Int, source: Int) throws
        -> CroppedFace {
        let crop = FaceCrop(box: box, width: image.width, height: image.height)
        guard let pixels = crop.cut(from: image) else { throw FaceError.badCrop(frame: frame, crop: crop) }
        return CroppedFace(face: Face(box: box, crop: crop, detected: detected, source: source),
                           jpeg: try encode(pixels))
    }

    /// `cv2.imencode(".jpg", bgr, [IMWRITE_JPEG_QUALITY, 95])`'s bytes.
    public static func encode(_ crop: RGBImage) throws -> Data {
        try JPEG.encode(crop, quality: jpegQuality)
    }

    /// For each frame without a face of its own (`own[i] == nil`), the nearest frame with one
    /// among those `eligible(i, j)` allows (equal distance: the earlier); nil when there is none.
    public static func lenders(own: [FaceBox?], eligible: (Int, Int) -> Bool) -> [Int?] {
        own.indices.map { i in
            if own[i] != nil { return i }
            for distance in 1 ..< max(own.count, 1) {
                for j in [i - distance, i + distance] where own.indices.contains(j) && own[j] != nil && eligible(i, j) {
                    return j
                }
            }
            return nil
        }
    }

    /// One video window's sampled frames (SPEC 3.5): detected in parallel; a frame without a face
    /// borrows the box of the nearest frame of the window that has one. `indices` are the frames'
    /// video frame indices (reported as `Face.source`).
    public static func window(_ frames: [RGBImage], indices: [Int], detector: FaceDetector) throws -> WindowFaces {
        precondition(frames.count == indices.count, "one index per frame")
        let detections = try concurrentMap(frames.count) { i in
            Result { try detector.detect(frames[i]) }
        }.map { try $0.get() }
        let own = detections.map { best($0)?.box }
        guard own.contains(where: { $0 != nil }) else { return WindowFaces(detections: detections, faces: nil) }
        let lenders = lenders(own: own) { _, _ in true }
        let faces = try frames.indices.map { i in
            let lender = lenders[i]!
            return try crop(frames[i], box: own[lender]!, detected: lender == i, frame: indices[i],
                            source: indices[lender])
        }
        return WindowFaces(detections: detections, faces: faces)
    }

    /// Whole frames uploaded with `faces=detect` (SPEC section 5): `decode(i)` gives frame `i` of
    /// `count`; `clips` are the upload's clips (frame indices). Pass 1 decodes, detects and crops
    /// each frame with a face of its own, `framesAtOnce` at a time, and drops it; pass 2 decodes
    /// again only the frames of scored clips that borrow a box (from the nearest frame of the same
    /// width and height, in any clip; equal distance: the earlier). A clip is scored when one of its
    /// frames has a face of its own and every frame has a box.
    /// Throws `decode`'s first error (lowest frame), a `FaceError`, or `FaceError.noFace` when no
    /// clip can be scored.
    public static func wholeFrames(count: Int, clips: [[Int]], detector: FaceDetector,
                                   decode: @Sendable (Int) throws -> RGBImage) throws -> FrameFaces {
        struct Seen: Sendable {
            var width: Int, height: Int, detections: [FaceDetection], own: CroppedFace?
        }
        var seen: [Seen] = []
        seen.reserveCapacity(count)
        for start in stride(from: 0, to: count, by: framesAtOnce) {
            let batch = Array(start ..< min(start + framesAtOnce, count))
            let results = concurrentMap(batch.count) { k in
                Result { () throws -> Seen in
                    let i = batch[k]
                    let image = try decode(i)
                    guard image.width > 0, image.height > 0 else {
                        throw FaceError.emptyImage(width: image.width, height: image.height)
                    }
                    let detections = try detector.detect(image)
                    let own = try best(detections).map {
                        try crop(image, box: $0.box, detected: true, frame: i, source: i)
                    }
                    return Seen(width: image.width, height: image.height, detections: detections, own: own)
                }
            }
            for result in results { seen.append(try result.get()) }
        }

        let own = seen.map { $0.own?.face.box }
        let lenders = lenders(own: own) { i, j in seen[i].width == seen[j].width && seen[i].height == seen[j].height }
        var scored: [[Int]] = [], skipped: [[Int]] = []
        for clip in clips {
            let scorable = clip.allSatisfy { lenders[$0] != nil } && clip.contains { own[$0] != nil }
            if scorable { scored.append(clip) } else { skipped.append(clip) }
        }
        guard !scored.isEmpty else {
            throw FaceError.noFace(frames: seen.indices.filter { own[$0] == nil })
        }

        var faces = [CroppedFace?](repeating: nil, count: count)
        let needed = Set(scored.joined()).sorted()
        var borrowers: [Int] = []
        for i in needed {
            if let face = seen[i].own { faces[i] = face } else { borrowers.append(i) }
        }
        for start in stride(from: 0, to: borrowers.count, by: framesAtOnce) {
            let batch = Array(borrowers[start ..< min(start + framesAtOnce, borrowers.count)])
            let results = concurrentMap(batch.count) { k in
                Result { () throws -> CroppedFace in
                    let i = batch[k], lender = lenders[i]!
                    return try crop(try decode(i), box: own[lender]!, detected: false, frame: i, source: lender)
                }
            }
            for (k, result) in results.enumerated() { faces[batch[k]] = try result.get() }
        }
        return FrameFaces(detections: seen.map(\.detections), sizes: seen.map { ($0.width, $0.height) },
                          faces: faces, scoredClips: scored, skippedClips: skipped)
    }
}
