import DFGaze
import Foundation
import HTTPServer

/// The frames (and optional client id) of a `POST /score`, from either body format:
/// `multipart/form-data` with the frames as file parts in order (any field name) and an optional
/// text field `id`, or `application/json` `{"frames": ["<base64 JPEG>", ...], "id": "..."}`.
struct ScoreRequest {
    var frames: [Data]
    var id: String?

    /// In Unicode scalars (JSON Schema's `maxLength` counts code points), so also at most 1 KiB.
    static let maxIDLength = 256

    /// Refuses (before any decoding) with a 4xx `APIError`.
    static func parse(_ request: HTTPRequest, maxFrames: Int) throws(APIError) -> ScoreRequest {
        try parse(body: request.body, contentType: request.headers["Content-Type"] ?? "", query: request.queryItems,
                  maxFrames: maxFrames)
    }

    /// The same from a stored request (a job replays its upload through here).
    static func parse(body: [UInt8], contentType: String, query: [(name: String, value: String)],
                      maxFrames: Int) throws(APIError) -> ScoreRequest {
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        let parsed: ScoreRequest
        switch mediaType {
        case "multipart/form-data":
            parsed = try multipart(body, contentType: contentType, maxFrames: maxFrames)
        case "application/json":
            parsed = try json(body, maxFrames: maxFrames)
        default:
            throw APIError(.unsupportedMediaType, "send the frames as multipart/form-data or application/json, not '\(mediaType.prefix(100))'")
        }
        if let id = parsed.id, id.unicodeScalars.count > maxIDLength {
            throw APIError(.badRequest, "id is longer than \(maxIDLength) characters")
        }
        return parsed
    }

    private static func multipart(_ body: [UInt8], contentType: String, maxFrames: Int) throws(APIError) -> ScoreRequest {
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
        var id: String?
        for part in parts {
            if part.isFile {
                frames.append(Data(part.body))
            } else if part.name == "id" {
                id = String(decoding: part.body, as: UTF8.self)
            }
        }
        return ScoreRequest(frames: frames, id: id)
    }

    private struct JSONBody: Decodable {
        var frames: [String]
        var id: String?
    }

    private static func json(_ body: [UInt8], maxFrames: Int) throws(APIError) -> ScoreRequest {
        let decoded: JSONBody
        do { decoded = try JSONDecoder().decode(JSONBody.self, from: Data(body)) }
        catch { throw APIError(.badJSON, "expected {\"frames\": [\"<base64 JPEG>\", ...], \"id\": \"...\"}") }
        // Before any base64 is decoded.
        do { try DFGazeModel.checkFrameCount(max(decoded.frames.count, DFGazeModel.framesPerClip), maxFrames: maxFrames) }
        catch { throw APIError(error) }
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
