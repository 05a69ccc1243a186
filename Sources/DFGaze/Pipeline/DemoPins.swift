import Weights

// Written by scripts/pin-demo-manifest.sh from weights-manifest.json; do not edit.
extension Networks {
    /// The dfgaze-demo-v1 files for what the networks read, by size and SHA-256: a start keeps a
    /// cached copy only when it has exactly these, and generates them afresh otherwise.
    public static let demoPins: [DemoWeights.Pin] = [
        .init(network: "gam", sha256: "67be5e5669ac8a665ee75a21d0c95291e57a46bb9c010112ede03e79bc49c8e5", bytes: 95744208),
        .init(network: "tam", sha256: "fb218b3b9e750c2c3b1de15b98e8d8d559c62223f322995e2ce909b260830dc6", bytes: 173263544),
        .init(network: "aam", sha256: "844cddc232b8dcfc037de19ac2aad6e5f25734ecc07ca657524a331ee49143b1", bytes: 89426472),
        .init(network: "agg", sha256: "90b0c56ad56358e5e4e3dd1cd743ed4b4cbd591a4d07925feb41a161978c66a7", bytes: 39651832),
    ]
}
