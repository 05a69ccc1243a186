extension DemoWeights {
    public static let pinnedManifestJSON = #"""
{}
"""#
}
