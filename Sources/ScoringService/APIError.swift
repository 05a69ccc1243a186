import DFGaze
import Foundation
import HTTPServer

/// Every error code the API sends, with its status: the one home of the list (README's list of
/// stable codes is checked against it by a test). A new code is one case here.
public enum APIErrorCode: String, CaseIterable, Sendable {
    // The request's frames (from the model's typed errors).
    case tooFewFrames = "too_few_frames"
    case tooManyFrames = "too_many_frames"
    case notAJPEG = "not_a_jpeg"
    case imageTooLarge = "image_too_large"
    // Faces and videos (issues 17, 18).
    case noFace = "no_face"
    case videoTooShort = "video_too_short"
    case unsupportedVideo = "unsupported_video"
    case corruptVideo = "corrupt_video"
    case videoTooLong = "video_too_long"
    case videoTimeout = "video_timeout"
    // The request's body and form.
    case badRequest = "bad_request"
    case badJSON = "bad_json"
    case badMultipart = "bad_multipart"
    case unsupportedMediaType = "unsupported_media_type"
    case lengthRequired = "length_required"
    case bodyTooLarge = "body_too_large"
    case uriTooLong = "uri_too_long"
    case headersTooLarge = "headers_too_large"
    case expectationFailed = "expectation_failed"
    case requestTimeout = "request_timeout"
    case unauthorized = "unauthorized"
    case notFound = "not_found"
    case methodNotAllowed = "method_not_allowed"
    case notImplemented = "not_implemented"
    case httpVersionNotSupported = "http_version_not_supported"
    // The service's state.
    case overloaded = "overloaded"
    case draining = "draining"
    case notReady = "not_ready"
    case serviceUnavailable = "service_unavailable"
    case internalError = "internal_error"
    // Jobs (issue 19).
    case jobNotFound = "job_not_found"
    case idempotencyConflict = "idempotency_conflict"
    case jobsQueueFull = "jobs_queue_full"
    case badCallbackURL = "bad_callback_url"
    case badIdempotencyKey = "bad_idempotency_key"
    /// The caller withdrew the work (a job cancelled, the server's drain grace ran out).
    case cancelled = "cancelled"

    public var status: Int {
        switch self {
        case .tooFewFrames, .tooManyFrames, .notAJPEG, .imageTooLarge: 422
        // A video whose decoding outlives its wall-clock budget is the video's doing (too complex, or
        // a stream that never ends): retrying the same file fails the same way, so 422, not 5xx.
        case .noFace, .videoTooShort, .corruptVideo, .videoTimeout: 422
        case .unsupportedVideo: 415
        case .videoTooLong: 413
        case .badRequest, .badJSON, .badMultipart, .badCallbackURL, .badIdempotencyKey: 400
        case .unauthorized: 401
        case .notFound, .jobNotFound: 404
        case .methodNotAllowed: 405
        case .requestTimeout: 408
        case .lengthRequired: 411
        case .bodyTooLarge: 413
        case .uriTooLong: 414
        case .unsupportedMediaType: 415
        case .idempotencyConflict: 409
        case .expectationFailed: 417
        case .headersTooLarge: 431
        case .internalError: 500
        case .notImplemented: 501
        case .overloaded, .draining, .notReady, .serviceUnavailable, .jobsQueueFull, .cancelled: 503
        case .httpVersionNotSupported: 505
        }
    }

    /// The model's typed error as an API code.
    init(_ code: ScoringError.Code) {
        switch code {
        case .tooFewFrames: self = .tooFewFrames
        case .tooManyFrames: self = .tooManyFrames
        case .notAJPEG: self = .notAJPEG
        case .imageTooLarge: self = .imageTooLarge
        }
    }
}

/// A refusal as the API reports it: `{"error": {"code", "message", "frame"?}, "request_id"}`,
/// the one envelope of every error body, including those the HTTP layer raises.
public struct APIError: Error, Sendable, Equatable {
    public var code: APIErrorCode
    public var message: String
    /// The 0-based index of the offending frame, when one frame is at fault.
    public var frame: Int?
    /// The frames concerned, when several are (`no_face`: the frames where no face was found).
    public var frames: [Int]?

    public init(_ code: APIErrorCode, _ message: String, frame: Int? = nil, frames: [Int]? = nil) {
        self.code = code
        self.message = message
        self.frame = frame
        self.frames = frames
    }

    init(_ error: ScoringError) { self.init(APIErrorCode(error.code), error.message, frame: error.frame) }

    /// An error the HTTP layer raised; a code we do not list is a bug, reported as internal.
    init(_ error: HTTPError) {
        self.init(APIErrorCode(rawValue: error.code) ?? .internalError, error.message)
    }

    struct Body: Encodable {
        struct Detail: Encodable { var code: String; var message: String; var frame: Int?; var frames: [Int]? }
        var error: Detail
        var requestID: String
        enum CodingKeys: String, CodingKey { case error; case requestID = "request_id" }
    }

    /// The envelope as JSON bytes (also what a job's failure will embed).
    public func json(requestID: String) -> [UInt8] {
        let body = Body(error: .init(code: code.rawValue, message: message, frame: frame, frames: frames), requestID: requestID)
        // Encoding strings and an optional Int cannot fail.
        return Array((try? ScoreJSON.encoder.encode(body)) ?? Data())
    }

    public func response(requestID: String) -> HTTPResponse { .json(json(requestID: requestID), status: code.status) }

    /// What the HTTP server calls for its own refusals (408, 413, 431, 400 from the parser, ...).
    @Sendable static func render(_ error: HTTPError, requestID: String) -> HTTPResponse {
        APIError(error).response(requestID: requestID)
    }
}
