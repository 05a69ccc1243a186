import DFGaze
import Foundation
import HTTPServer

/// What a `POST /score` asks for, from any body format:
/// - `multipart/form-data`: the frames as file parts in order (any field name), or one file part
///   named `video`; text fields `id`, `faces`, `threshold`, `max_windows`;
/// - `application/json`: `{"frames": ["<base64 JPEG>", ...], "id", "faces", "threshold", "max_windows"}`;
/// - a raw video body (`video/mp4`, `video/quicktime`, `video/webm`, `video/x-matroska`).
/// `faces`, `threshold`, `max_windows` and (for `POST /jobs`) `callback_url` may also be query
/// parameters (a body field wins).
public struct ScoreRequest: Sendable {
    /// `faces=given`: the frames are face crops (as before); `faces=detect`: whole frames, the
    /// service finds and crops the faces (a video is always `detect`).
    public enum Faces: String, Sendable { case given, detect }

    public var frames: [Data]
    public var id: String?
    public var faces: Faces
    /// The upload of a video (raw body or the `video` part); `frames` is then empty.
    public var video: Data?
    /// Per-request threshold (default: the service's).
    public var threshold: Double?
    /// Per-request window count for a video (default and bound: the service's `--max-windows`).
    public var maxWindows: Int?
    /// Where `POST /jobs` posts the finished job (checked there against `--webhook-allow`).
    public var callbackURL: String?

    public init(frames: [Data] = [], id: String? = nil, faces: Faces = .given, video: Data? = nil,
                threshold: Double? = nil, maxWindows: Int? = nil) {
        self.frames = frames
        self.id = id
        self.faces = faces
        self.video = video
        self.threshold = threshold
        self.maxWindows = maxWindows
    }

    /// The settings a query parameter or a body field may carry.
    static let fieldNames: Set<String> = ["faces", "threshold", "max_windows", "callback_url"]

    /// In Unicode scalars (JSON Schema's `maxLength` counts code points), so also at most 1 KiB.
    static let maxIDLength = 256

    /// The raw video bodies accepted.
    public static let videoMediaTypes: Set<String> = ["video/mp4", "video/quicktime", "video/webm", "video/x-matroska"]

    /// Refuses (before any decoding) with a 4xx `APIError`. `maxBodyBytes` applies to a body
    /// that holds no video (a multipart body is let in up to the video limit, since it may hold one).
    static func parse(_ request: HTTPRequest, maxFrames: Int, maxBodyBytes: Int = .max) throws(APIError) -> ScoreRequest {
        try parse(body: request.body, contentType: request.headers["Content-Type"] ?? "", query: request.queryItems,
                  maxFrames: maxFrames, maxBodyBytes: maxBodyBytes)
    }

    static func mediaType(_ contentType: String) -> String {
        contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
    }

    /// The same from a stored request (a job replays its upload through here).
    static func parse(body: [UInt8], contentType: String, query: [(name: String, value: String)],
                      maxFrames: Int, maxBodyBytes: Int = .max) throws(APIError) -> ScoreRequest {
        let mediaType = mediaType(contentType)
        var parsed: ScoreRequest
        var fields: [String: String] = [:]
        for item in query where fieldNames.contains(item.name) { fields[item.name] = item.value }
        switch mediaType {
        case "multipart/form-data":
            parsed = try multipart(body, contentType: contentType, maxFrames: maxFrames, fields: &fields)
        case "application/json":
            parsed = try json(body, maxFrames: maxFrames, fields: &fields)
        case _ where videoMediaTypes.contains(mediaType):
            parsed = ScoreRequest(video: Data(body))
        default:
            throw APIError(.unsupportedMediaType, "send the frames as multipart/form-data or application/json, or a video as \(videoMediaTypes.sorted().joined(separator: ", ")); not '\(mediaType.prefix(100))'")
        }
        if parsed.video == nil, body.count > maxBodyBytes {
            throw APIError(.bodyTooLarge, "a request without a video takes at most \(maxBodyBytes) bytes, got \(body.count)")
        }
        if let id = parsed.id, id.unicodeScalars.count > maxIDLength {
            throw APIError(.badRequest, "id is longer than \(maxIDLength) characters")
        }
        if let faces = fields["faces"] {
            guard let mode = Faces(rawValue: faces) else { throw APIError(.badRequest, "faces must be 'given' or 'detect'") }
            parsed.faces = mode
        }
        if let text = fields["threshold"] {
            guard let t = Double(text), (0...1).contains(t) else { throw APIError(.badRequest, "threshold must be a number in [0, 1]") }
            parsed.threshold = t
        }
        if let text = fields["max_windows"] {
            guard let w = Int(text), w >= 1 else { throw APIError(.badRequest, "max_windows must be a positive integer") }
            parsed.maxWindows = w
        }
        parsed.callbackURL = fields["callback_url"]
        if parsed.video != nil {
            guard parsed.faces == .detect || fields["faces"] == nil else {
                throw APIError(.badRequest, "a video's faces are always found by the service (faces=detect)")
            }
            parsed.faces = .detect
        }
        return parsed
    }

    private static func multipart(_ body: [UInt8], contentType: String, maxFrames: Int,
                                  fields: inout [String: String]) throws(APIError) -> ScoreRequest {
        let parts: [MultipartPart]
        do {
            // Frames are counted as they arrive: one past the limit is refused at once.
            parts = try MultipartParser.parse(body: body, contentType: contentType,
                                              limits: MultipartLimits(maxParts: maxFrames + 8, maxFileParts: maxFrames, maxPartHeaderBytes: 8 * 1024))
        } catch {
            if let limit = error.tooManyFiles { throw APIError(.tooManyFrames, "at most \(limit) frames per request, got more") }
            throw APIError(.badMultipart, error.message)
        }
        var frames: [Data] = []
        var video: Data?
        var id: String?
        for part in parts {
            if part.name == "video" {
                guard video == nil else { throw APIError(.badMultipart, "more than one part named 'video'") }
                video = Data(part.body)
            } else if part.isFile {
                frames.append(Data(part.body))
            } else if part.name == "id" {
                id = String(decoding: part.body, as: UTF8.self)
            } else if fieldNames.contains(part.name) {
                fields[part.name] = String(decoding: part.body, as: UTF8.self)
            }
        }
        if video != nil, !frames.isEmpty { throw APIError(.badMultipart, "send either frames or one video, not both") }
        return ScoreRequest(frames: frames, id: id, video: video)
    }

    private struct JSONBody: Decodable {
        var frames: [String]
        var id: String?
        var faces: String?
        var threshold: Double?
        var maxWindows: Int?
        var callbackURL: String?
        enum CodingKeys: String, CodingKey { case frames, id, faces, threshold, maxWindows = "max_windows", callbackURL = "callback_url" }
    }

    private static func json(_ body: [UInt8], maxFrames: Int, fields: inout [String: String]) throws(APIError) -> ScoreRequest {
        let decoded: JSONBody
        do { decoded = try JSONDecoder().decode(JSONBody.self, from: Data(body)) }
        catch { throw APIError(.badJSON, "expected {\"frames\": [\"<base64 JPEG>\", ...], \"id\": \"...\", \"faces\": \"given|detect\"}") }
        // Before any base64 is decoded.
        do { try DFGazeModel.checkFrameCount(max(decoded.frames.count, DFGazeModel.framesPerClip), maxFrames: maxFrames) }
        catch { throw APIError(error) }
        if let faces = decoded.faces { fields["faces"] = faces }
        if let threshold = decoded.threshold { fields["threshold"] = String(threshold) }
        if let windows = decoded.maxWindows { fields["max_windows"] = String(windows) }
        if let callback = decoded.callbackURL { fields["callback_url"] = callback }
        var frames: [Data] = []
        for (i, text) in decoded.frames.enumerated() {
            guard let data = Data(base64Encoded: text, options: .ignoreUnknownCharacters) else {
                throw APIError(.badJSON, "frame \(i) is not valid base64")
            }
            frames.append(data)
        }
        return ScoreRequest(frames: frames, id: decoded.id)
    }
}
