import COpenSSL
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The TLS client side of one https webhook attempt, on the connected blocking socket whose
/// SO_RCVTIMEO/SO_SNDTIMEO bound each read and write (the plain attempt's timeouts): TLS 1.2
/// minimum, SNI for host names (not IP literals), the server's chain verified against the system
/// CA store plus `caFile`, and its certificate checked for the host name or IP address as written.
/// Any failure is an `OutboundHTTP.Failure` (a recorded, retried attempt, like a connect failure).
final class TLSClientSession {
    private let context: OpaquePointer
    private let ssl: OpaquePointer

    // SSL_OP_BIT(n) is a function-like macro, so Swift does not import these; values from ssl.h.
    private static let ignoreUnexpectedEOF: UInt64 = 1 << 7  // only the status line is read
    private static let noCompression: UInt64 = 1 << 17
    private static let noRenegotiation: UInt64 = 1 << 30
    // X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS (openssl/x509v3.h, which the COpenSSL shim does not include).
    private static let noPartialWildcards: UInt32 = 0x4

    init(fd: Int32, target: WebhookTarget, caFile: String?) throws {
        // OpenSSL writes with write(2): a peer that went away must be EPIPE, not a process-killing
        // SIGPIPE. Blocked for this (webhook) thread only; the server ignores it process-wide.
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)

        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw Self.failure("SSL_CTX_new") }
        guard let ssl = SSL_new(context) else {
            SSL_CTX_free(context)
            throw Self.failure("SSL_new")
        }
        self.context = context
        self.ssl = ssl  // from here on, deinit frees both

        guard SSL_ctrl(ssl, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(TLS1_2_VERSION), nil) == 1 else {
            throw Self.failure("cannot set TLS 1.2 minimum")
        }
        SSL_set_options(ssl, Self.ignoreUnexpectedEOF | Self.noCompression | Self.noRenegotiation)
        SSL_set_verify(ssl, SSL_VERIFY_PEER, nil)
        guard SSL_CTX_set_default_verify_paths(context) == 1 else { throw Self.failure("cannot load the system CA store") }
        if let caFile {
            guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else { throw Self.failure("cannot read --webhook-ca-file \(caFile)") }
        }
        var ipv4 = in_addr()
        if target.isIPv6Literal || inet_pton(AF_INET, target.host, &ipv4) == 1 {
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), target.host) == 1 else { throw Self.failure("bad IP \(target.host)") }
        } else {
            SSL_set_hostflags(ssl, Self.noPartialWildcards)
            guard SSL_set1_host(ssl, target.host) == 1,
                  target.host.withCString({ SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name), UnsafeMutableRawPointer(mutating: $0)) }) == 1 else {
                throw Self.failure("bad host name \(target.host)")
            }
        }
        guard SSL_set_fd(ssl, fd) == 1 else { throw Self.failure("SSL_set_fd") }

        ERR_clear_error()
        let result = SSL_connect(ssl)
        guard result == 1 else {
            let verification = SSL_get_verify_result(ssl)
            if verification != Int(X509_V_OK) {
                ERR_clear_error()
                throw OutboundHTTP.Failure(message: "TLS certificate verification failed: \(String(cString: X509_verify_cert_error_string(verification)))")
            }
            let code = SSL_get_error(ssl, result)
            if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE {
                ERR_clear_error()
                throw OutboundHTTP.Failure(message: "TLS handshake timed out")
            }
            throw Self.failure("TLS handshake failed")
        }
    }

    deinit {
        // No close_notify: the request said `Connection: close` and the socket is closed next.
        SSL_free(ssl)
        SSL_CTX_free(context)
    }

    /// Writes all bytes.
    func send(_ raw: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < raw.count {
            ERR_clear_error()
            let n = SSL_write(ssl, raw.baseAddress! + offset, Int32(clamping: raw.count - offset))
            if n > 0 {
                offset += Int(n)
                continue
            }
            let code = SSL_get_error(ssl, n)
            ERR_clear_error()
            throw OutboundHTTP.Failure(message: code == SSL_ERROR_WANT_WRITE || code == SSL_ERROR_WANT_READ ? "send timed out" : "send failed")
        }
    }

    /// Reads some bytes; 0 at the end of the answer.
    func receive(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        ERR_clear_error()
        let n = SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count))
        if n > 0 { return Int(n) }
        let code = SSL_get_error(ssl, n)
        ERR_clear_error()
        switch code {
        case SSL_ERROR_ZERO_RETURN: return 0
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: throw OutboundHTTP.Failure(message: "response timed out")
        default: throw OutboundHTTP.Failure(message: "TLS read failed")
        }
    }

    /// `what: <the oldest queued OpenSSL error>`; clears the queue.
    private static func failure(_ what: String) -> OutboundHTTP.Failure {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return OutboundHTTP.Failure(message: what) }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return OutboundHTTP.Failure(message: "\(what): " + String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}
