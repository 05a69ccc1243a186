import Foundation

/// SIGTERM/SIGINT as Dispatch events, for the executable's graceful shutdown.
public enum TerminationSignals {
    /// Ignores the default disposition of SIGTERM and SIGINT and calls `handler` with the signal
    /// number on `queue` each time one arrives. Keep the returned sources alive as long as needed.
    public static func observe(queue: DispatchQueue = .global(),
                               _ handler: @escaping @Sendable (Int32) -> Void) -> [DispatchSourceSignal] {
        [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler(number) }
            source.resume()
            return source
        }
    }
}
