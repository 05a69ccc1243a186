// swift-tools-version:6.1
import PackageDescription

// One module per concern; dependencies point one way:
//   Tensors <- Weights <- DFGaze (networks + pipeline) <- ScoringService -> HTTPServer
//   Imaging <- DFGaze;   the `dfgaze` executable sits on top.
// HTTPServer knows nothing of the model, the model knows nothing of HTTP.
let package = Package(
    name: "dfgaze-serve",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "dfgaze", targets: ["dfgaze"]),
        // For the micro-benchmarks in Benchmarks/ (their own package, depending on this one by path).
        .library(name: "DFGazeLibrary", targets: ["DFGaze", "Weights", "Tensors"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.1.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.19"),
    ],
    targets: [
        // System libraries (Debian: libopenblas-dev libturbojpeg0-dev libssl-dev).
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG"),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL"),
        // glibc's mallopt (the process's malloc arenas, set by the executable).
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        // Job store clients (Debian: libsqlite3-dev libpq-dev).
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        .systemLibrary(name: "CPostgres", path: "Sources/CPostgres"),

        // The one JSON string quoting function (logs, hand-written bodies, job records, safetensors headers).
        .target(name: "JSONText"),
        // Tensors and kernels: float32 activations, convolution via cblas_sgemm, pooling.
        .target(name: "Tensors", dependencies: ["CBLAS"]),
        // Weights: safetensors, manifest, SHA-256, demo generator, PyTorch checkpoint import.
        .target(name: "Weights", dependencies: [
            "Tensors", "COpenSSL", "JSONText",
            .product(name: "ZIPFoundation", package: "ZIPFoundation"),
        ]),
        // Image decoding (TurboJPEG) and Pillow-exact preprocessing.
        .target(name: "Imaging", dependencies: ["CTurboJPEG"]),
        // dlib 19.24's HOG frontal face detector behind a C interface (Debian: libdlib-dev).
        // -O2 even in debug builds (dlib's templates are unusably slow at -O0); no fused
        // multiply-adds, which move dlib's scores by up to 4e-3 (see the video fixture's SPEC).
        .target(name: "CDlibFaces",
                cxxSettings: [.unsafeFlags(["-O2", "-ffp-contract=off"])],
                linkerSettings: [.linkedLibrary("dlib")]),
        // Faces found and cropped as the training data was: grayscale, detection, the 1.3x crop.
        .target(name: "Faces", dependencies: ["CDlibFaces", "Imaging", "Tensors"]),
        // Video: ffprobe/ffmpeg as limited child processes, the authors' 8-frame windows (no HTTP, no faces).
        .target(name: "Video", dependencies: ["Imaging"]),
        // The four networks (GAM, TAM, AAM, PSTA) and the scoring pipeline.
        .target(name: "DFGaze", dependencies: ["Tensors", "Weights", "Imaging"]),
        // HTTP/1.1 on POSIX sockets, Foundation and Dispatch: parser, multipart, routing, TLS.
        .target(name: "HTTPServer", dependencies: [
            "COpenSSL", "JSONText",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The scoring service: routes, inference queue, metrics.
        .target(name: "ScoringService", dependencies: [
            "HTTPServer", "DFGaze", "Weights",
            "Imaging",
            "Jobs", "JSONText", "Faces", "Video",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], exclude: ["ReviewPage"]),
        // Durable jobs (SQLite or PostgreSQL): leases, idempotency, webhooks. Knows nothing of HTTP
        // routes or the model: it stores opaque request bytes and opaque result JSON.
        .target(name: "Jobs", dependencies: ["CSQLite", "CPostgres", "COpenSSL", "JSONText"]),
        .executableTarget(name: "dfgaze", dependencies: [
            "ScoringService", "DFGaze", "Weights", "Imaging", "Tensors", "CMalloc",
            "Faces", "Video",  // dfgaze score --face-detection, bench --faces / --video
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // The fixture's locator and readers, shared by the test targets.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "TestSupport"]),
        .testTarget(name: "WeightsTests", dependencies: ["Weights", "Tensors", "TestSupport"], exclude: ["Resources"]),
        // Data/: small Pillow-made reference files, read via #filePath.
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "Weights", "TestSupport"], exclude: ["Data"]),
        .testTarget(name: "FacesTests", dependencies: ["Faces", "Imaging", "Weights", "TestSupport"]),
        .testTarget(name: "DFGazeTests", dependencies: ["DFGaze", "Weights", "Imaging", "Tensors", "Faces", "TestSupport"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer"]),
        .testTarget(name: "VideoTests", dependencies: ["Video", "Imaging"]),
        .testTarget(name: "JobsTests", dependencies: ["Jobs", "JSONText"]),
        .testTarget(name: "ScoringServiceTests", dependencies: ["ScoringService", "HTTPServer", "DFGaze", "Weights", "Jobs"]),
    ]
)
