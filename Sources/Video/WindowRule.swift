/// The authors' clips (SPEC.md section 2): 32-frame windows, frames +0, +8, +16, +24 of each,
/// at most `maxWindows` of them spread evenly over the whole video. Pure arithmetic.
public enum WindowRule {
    /// Frames per window, spacing of the sampled frames, sampled frames per window.
    public static let windowLength = 32
    public static let spacing = 8
    public static let framesPerWindow = 4
    /// Fewer decoded frames than this: `video_too_short`.
    public static let minimumFrames = 25
    /// The default and usual bound of `max_windows`.
    public static let defaultMaxWindows = 32

    /// `K`: `floor(n / 32)` windows; one window when `25 <= n < 32`; zero when `n < 25`.
    public static func windowCount(frames n: Int) -> Int {
        if n < minimumFrames { return 0 }
        return max(1, n / windowLength)
    }

    /// The video frame indices window `k` samples: `32k, 32k+8, 32k+16, 32k+24`.
    public static func frames(ofWindow k: Int) -> [Int] {
        (0..<framesPerWindow).map { windowLength * k + spacing * $0 }
    }

    /// The windows scored, increasing: all `K` when `K <= maxWindows`, otherwise
    /// `round_half_even(j * (K - 1) / (maxWindows - 1))` for `j = 0 ..< maxWindows` on exact
    /// rationals, duplicates dropped (`maxWindows == 1`: window 0). Throws `tooShort` when `n < 25`.
    public static func windows(frames n: Int, maxWindows: Int) throws(VideoError) -> [Int] {
        precondition(maxWindows >= 1, "maxWindows must be at least 1")
        let k = windowCount(frames: n)
        if k == 0 { throw VideoError.tooShort(frames: n) }
        if k <= maxWindows { return Array(0..<k) }
        if maxWindows == 1 { return [0] }
        var chosen: [Int] = []
        chosen.reserveCapacity(maxWindows)
        let d = maxWindows - 1
        for j in 0..<maxWindows {
            let (p, overflow) = j.multipliedReportingOverflow(by: k - 1)
            precondition(!overflow, "window arithmetic overflow")
            let w = roundHalfEven(p, d)
            if chosen.last != w { chosen.append(w) }   // increasing in j, so duplicates are adjacent
        }
        return chosen
    }

    /// `p / d` rounded half to even, for `p >= 0`, `d > 0`.
    static func roundHalfEven(_ p: Int, _ d: Int) -> Int {
        let q = p / d, r = p % d
        if 2 * r < d { return q }
        if 2 * r > d { return q + 1 }
        return q % 2 == 0 ? q : q + 1
    }
}
