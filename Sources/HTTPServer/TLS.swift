import COpenSSL
import Foundation

/// Server-side OpenSSL context: TLS 1.2 minimum, ECDHE with AEAD ciphers only for 1.2
/// (TLS 1.3 suites are all AEAD), no compression, no renegotiation.
final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer

    // SSL_OP_BIT(n) is a function-like macro, so Swift does not import these; values from ssl.h.
    private static let noCompression: UInt64 = 1 << 17
    private static let cipherServerPreference: UInt64 = 1 << 22
    private static let noRenegotiation: UInt64 = 1 << 30
    private static let tls12Ciphers = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    init(configuration: TLSConfiguration) throws {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw HTTPServerError.tls("SSL_CTX_new: \(openSSLError())") }
        self.context = context
        guard SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(TLS1_2_VERSION), nil) == 1 else {
            throw HTTPServerError.tls("cannot set TLS 1.2 minimum: \(openSSLError())")
        }
        SSL_CTX_set_options(context, Self.noCompression | Self.cipherServerPreference | Self.noRenegotiation)
        SSL_CTX_ctrl(context, SSL_CTRL_MODE, Int(SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER), nil)
        guard SSL_CTX_set_cipher_list(context, Self.tls12Ciphers) == 1 else {
            throw HTTPServerError.tls("cipher list: \(openSSLError())")
        }
        guard SSL_CTX_use_certificate_chain_file(context, configuration.certificateChainPath) == 1 else {
            throw HTTPServerError.tls("certificate \(configuration.certificateChainPath): \(openSSLError())")
        }
        guard SSL_CTX_use_PrivateKey_file(context, configuration.privateKeyPath, SSL_FILETYPE_PEM) == 1,
              SSL_CTX_check_private_key(context) == 1 else {
            throw HTTPServerError.tls("private key \(configuration.privateKeyPath): \(openSSLError())")
        }
    }

    deinit { SSL_CTX_free(context) }
}

/// The oldest queued OpenSSL error of this thread, as text; clears the queue.
func openSSLError() -> String {
    let code = ERR_get_error()
    ERR_clear_error()
    guard code != 0 else { return "unknown error" }
    var buffer = [CChar](repeating: 0, count: 256)
    ERR_error_string_n(code, &buffer, buffer.count)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// TLS over a non-blocking socket: OpenSSL's WANT_READ/WANT_WRITE become poll() waits.
final class TLSTransport: ByteTransport {
    private let ssl: OpaquePointer
    private let fd: Int32
    private let context: TLSContext  // keeps the SSL_CTX alive as long as this session

    init(context: TLSContext, fd: Int32) throws(TransportError) {
        guard let ssl = SSL_new(context.context) else { throw .failed("SSL_new: \(openSSLError())") }
        self.ssl = ssl
        self.fd = fd
        self.context = context
        SSL_set_fd(ssl, fd)
    }

    deinit { SSL_free(ssl) }

    func handshake(deadline: Deadline) throws(TransportError) {
        _ = try retrying(deadline: deadline, wake: nil) { SSL_accept($0) }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline, wake: Int32?) throws(TransportError) -> Int {
        try retrying(deadline: deadline, wake: wake) { SSL_read($0, buffer.baseAddress, Int32(clamping: buffer.count)) }
    }

    func write(_ bytes: [UInt8], deadline: Deadline) throws(TransportError) {
        guard !bytes.isEmpty else { return }
        _ = try retrying(deadline: deadline, wake: nil) { ssl in
            bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32(clamping: $0.count)) }
        }
    }

    func shutdown() {
        ERR_clear_error()
        SSL_shutdown(ssl)
    }

    /// Runs an SSL call until it succeeds (> 0), the peer closes cleanly (0), or it fails.
    private func retrying(deadline: Deadline, wake: Int32?, _ call: (OpaquePointer) -> Int32) throws(TransportError) -> Int {
        while true {
            ERR_clear_error()
            let result = call(ssl)
            if result > 0 { return Int(result) }
            switch SSL_get_error(ssl, result) {
            case SSL_ERROR_WANT_READ: try waitForSocket(fd, events: Int16(POLLIN), deadline: deadline, wake: wake)
            case SSL_ERROR_WANT_WRITE: try waitForSocket(fd, events: Int16(POLLOUT), deadline: deadline, wake: wake)
            case SSL_ERROR_ZERO_RETURN: return 0
            default:
                ERR_clear_error()
                throw .closed
            }
        }
    }
}
