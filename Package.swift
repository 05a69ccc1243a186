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

        // Tensors and kernels: float32 activations, convolution via cblas_sgemm, pooling.
        .target(name: "Tensors", dependencies: ["CBLAS"]),
        // Weights: safetensors, manifest, SHA-256, demo generator, PyTorch checkpoint import.
        .target(name: "Weights", dependencies: [
            "Tensors", "COpenSSL",
            .product(name: "ZIPFoundation", package: "ZIPFoundation"),
        ]),
        // Image decoding (TurboJPEG) and Pillow-exact preprocessing.
        .target(name: "Imaging", dependencies: ["CTurboJPEG"]),
        // The four networks (GAM, TAM, AAM, PSTA) and the scoring pipeline.
        .target(name: "DFGaze", dependencies: ["Tensors", "Weights", "Imaging"]),
        // HTTP/1.1 on POSIX sockets, Foundation and Dispatch: parser, multipart, routing, TLS.
        .target(name: "HTTPServer", dependencies: [
            "COpenSSL",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The scoring service: routes, inference queue, metrics.
        .target(name: "ScoringService", dependencies: [
            "HTTPServer", "DFGaze", "Weights",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], exclude: ["ReviewPage"]),
        .executableTarget(name: "dfgaze", dependencies: [
            "ScoringService", "DFGaze", "Weights", "Imaging", "Tensors", "CMalloc",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .testTarget(name: "TensorsTests", dependencies: ["Tensors"]),
        .testTarget(name: "WeightsTests", dependencies: ["Weights", "Tensors"], exclude: ["Resources"]),
        // Data/: small Pillow-made reference files, read via #filePath.
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "Weights"], exclude: ["Data"]),
        .testTarget(name: "DFGazeTests", dependencies: ["DFGaze", "Weights", "Imaging", "Tensors"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer"]),
        .testTarget(name: "ScoringServiceTests", dependencies: ["ScoringService", "HTTPServer", "DFGaze", "Weights"]),
    ]
)
