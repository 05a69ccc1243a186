import Foundation

/// What a clip's gaze estimate looks like over its frames: how spread the gaze directions are and
/// how far they move from frame to frame. Descriptions of the gaze estimate (the paper finds real
/// videos' gaze concentrated and fakes' dispersed), not the classifier's reason for its score.
public struct GazeStatistics: Equatable, Sendable {
    /// Mean angle, in degrees, between each frame's gaze vector and the clip's mean direction
    /// (the normalised sum of the frames' unit gaze vectors).
    public var dispersionDeg: Double
    /// Mean angle, in degrees, between consecutive frames' gaze vectors.
    public var stepDeg: Double

    /// The statistics of a clip's gaze vectors in frame order (each `[x, y, z]`, normalised here).
    /// Nil when they are undefined: fewer than 2 frames, a zero vector, or vectors that sum to zero
    /// (no mean direction).
    public init?(gaze: [[Double]]) {
        guard gaze.count >= 2, gaze.allSatisfy({ $0.count == 3 }) else { return nil }
        let unit = gaze.map(Self.normalized)
        guard unit.allSatisfy({ $0 != nil }) else { return nil }
        let vectors = unit.map { $0! }
        let sum = vectors.reduce([0.0, 0, 0]) { [$0[0] + $1[0], $0[1] + $1[1], $0[2] + $1[2]] }
        guard let mean = Self.normalized(sum) else { return nil }
        dispersionDeg = vectors.map { Self.angleDeg($0, mean) }.reduce(0, +) / Double(vectors.count)
        stepDeg = zip(vectors, vectors.dropFirst()).map { Self.angleDeg($0, $1) }.reduce(0, +)
            / Double(vectors.count - 1)
    }

    static func normalized(_ v: [Double]) -> [Double]? {
        let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).squareRoot()
        guard norm > 0, norm.isFinite else { return nil }
        return v.map { $0 / norm }
    }

    /// The angle between two unit vectors; atan2 of the cross and dot products stays accurate
    /// near 0 and 180 degrees, where acos of the dot product does not.
    static func angleDeg(_ a: [Double], _ b: [Double]) -> Double {
        let cross = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
        let sine = (cross[0] * cross[0] + cross[1] * cross[1] + cross[2] * cross[2]).squareRoot()
        let cosine = a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
        return atan2(sine, cosine) * 180 / .pi
    }
}
