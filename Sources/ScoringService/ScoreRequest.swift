import DFGaze
import Foundation
import HTTPServer

/// The frames (and optional client id) of a `POST /score`, from either body format:
/// `multipart/form-data` with the frames as file parts in order (any field name) and an optional
/// text field `id`, or `application/json` `{"frames": ["<base64 JPEG>", ...], "id": "..."}`.
struct ScoreRequest {
    var frames: [Data]
    var id: String?

    static let maxIDLength = 256

    /// A refusal before any decoding: always a 4xx with a stable code.
    struct Refusal: Error {
        var status: Int
        var code: String
        var message: String
    }

    static func parse(_ request: HTTPRequest, maxFrames: Int) throws(Refusal) -> ScoreRequest {
        let contentType = request.headers["Content-Type"] ?? ""
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        let parsed: ScoreRequest
        switch mediaType {
        case "multipart/form-data":
            parsed = try multipart(request.body, contentType: contentType, maxFrames: maxFrames)
        case "application/json":
            parsed = try json(request.body, maxFrames: maxFrames)
        default:
            throw Refusal(status: 415, code: "unsupported_media_type",
                          message: "send the frames as multipart/form-data or application/json, not '\(mediaType.prefix(100))'")
        }
        if let id = parsed.id, id.count > maxIDLength {
            throw Refusal(status: 400, code: "bad_request", message: "id is longer than \(maxIDLength) characters")
        }
        return parsed
    }

    private static func multipart(_ body: [UInt8], contentType: String, maxFrames: Int) throws(Refusal) -> ScoreRequest {
        let parts: [MultipartPart]
        do {
            parts = try MultipartParser.parse(body: body, contentType: contentType,
                                              limits: MultipartLimits(maxParts: maxFrames + 8, maxPartHeaderBytes: 8 * 1024))
        } catch {
            throw Refusal(status: 400, code: "bad_multipart", message: error.message)
        }
        var frames: [Data] = []
        var id: String?
        for part in parts {
            if part.filename != nil || (part.contentType?.lowercased().hasPrefix("image/") ?? false) {
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

    private static func json(_ body: [UInt8], maxFrames: Int) throws(Refusal) -> ScoreRequest {
        let decoded: JSONBody
        do { decoded = try JSONDecoder().decode(JSONBody.self, from: Data(body)) }
        catch { throw Refusal(status: 400, code: "bad_json", message: "expected {\"frames\": [\"<base64 JPEG>\", ...], \"id\": \"...\"}") }
        guard decoded.frames.count <= maxFrames else {
            throw Refusal(status: 422, code: ScoringError.Code.tooManyFrames.rawValue,
                          message: "at most \(maxFrames) frames per request, got \(decoded.frames.count)")
        }
        var frames: [Data] = []
        for (i, text) in decoded.frames.enumerated() {
            guard let data = Data(base64Encoded: text, options: .ignoreUnknownCharacters) else {
                throw Refusal(status: 400, code: "bad_json", message: "frame \(i) is not valid base64")
            }
            frames.append(data)
        }
        return ScoreRequest(frames: frames, id: decoded.id)
    }
}
