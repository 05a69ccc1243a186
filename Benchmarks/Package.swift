// swift-tools-version:6.1
import PackageDescription

// Micro-benchmarks, apart from the product: `swift package benchmark` here (cd Benchmarks) runs
// them; CI and `make test` do not build this package, so ordo-one/benchmark costs the main
// build nothing. The end-to-end figure users run is `dfgaze bench`.
let package = Package(
    name: "dfgaze-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "dfgaze-serve", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Benchmarks/Kernels: sgemm, the networks' 3x3 convolutions (Winograd against im2col)
        // and each network's forward pass on one clip.
        .executableTarget(
            name: "Kernels",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "DFGazeLibrary", package: "dfgaze-serve"),
            ],
            path: "Benchmarks/Kernels",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
