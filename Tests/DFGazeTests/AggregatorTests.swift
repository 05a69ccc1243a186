import DFGaze
import Foundation
import Tensors
import Weights
import XCTest

/// PSTA against the authors' PyTorch outputs for clip a with the demo weights.
final class AggregatorTests: XCTestCase {
    func fixture() throws -> AggregatorFixture { try AggregatorFixture.shared.get() }

    func testParameterSpecIsExactlyTheGeneratedAggKeysWithCheckpointShapes() throws {
        let f = try fixture()
        let spec = PSTA.parameterSpec
        XCTAssertEqual(spec.count, Set(spec.map(\.key)).count, "a key is requested twice")
        XCTAssertEqual(Set(spec.map(\.key)), f.generatedKeys)
        for (key, shape) in spec {
            XCTAssertEqual(shape, f.checkpointShapes[key], key)
        }
    }

    func testOneClipMatchesTheAuthorsHeads() throws {
        let f = try fixture()
        let out = try XCTUnwrap(f.psta(gaze: f.gaze, texture: f.texture, attribute: f.attribute).first)
        let softmax = out.headSoftmax.flatMap { $0 }, logits = out.headLogits.flatMap { $0 }
        XCTAssertEqual(softmax.count, 6)
        XCTAssertEqual(logits.count, 6)
        var maxSoftmaxError: Float = 0, maxLogitError: Float = 0
        for i in 0..<6 {
            maxSoftmaxError = max(maxSoftmaxError, abs(softmax[i] - f.headSoftmax[i]))
            maxLogitError = max(maxLogitError, abs(logits[i] - f.headLogits[i]) / max(1, abs(f.headLogits[i])))
        }
        XCTAssertLessThanOrEqual(maxSoftmaxError, 1e-5, "softmax \(softmax) vs \(f.headSoftmax)")
        XCTAssertLessThanOrEqual(maxLogitError, 1e-4, "logits \(logits) vs \(f.headLogits)")
        let expectedFake = (0..<3).reduce(0.0) { $0 + Double(f.headSoftmax[2 * $1]) } / 3
        XCTAssertEqual(out.fakeProbability, expectedFake, accuracy: 1e-5)

        let clock = ContinuousClock()
        let times = (0..<3).map { _ in clock.measure { _ = f.psta(gaze: f.gaze, texture: f.texture, attribute: nil) } }
        print("PSTA one clip: max |softmax error| \(maxSoftmaxError), max logit error (rel.) \(maxLogitError), "
              + "wall time \(times.min()!) (best of 3)")
    }

    /// SPEC.md: layer1 reads only the first two maps of each (gaze, texture, attribute) triple.
    func testAttributeMapsNeverChangeTheOutput() throws {
        let f = try fixture()
        let withAttribute = f.psta(gaze: f.gaze, texture: f.texture, attribute: f.attribute)
        var constant = f.attribute
        constant.values = [Float](repeating: 0.75, count: constant.values.count)
        XCTAssertEqual(f.psta(gaze: f.gaze, texture: f.texture, attribute: nil), withAttribute)
        XCTAssertEqual(f.psta(gaze: f.gaze, texture: f.texture, attribute: constant), withAttribute)
    }

    /// Clips batched into one pass score as they do alone. Not bit for bit: OpenBLAS blocks a GEMM
    /// differently for a different column count (measured: the batched `down_channel` output
    /// already differs by ~1 ulp), so the bound is the fixture's float tolerance. A leak between
    /// clips would move the scores by far more: the two clips here differ by > 1e-2.
    func testBatchedClipsMatchOneAtATime() throws {
        let f = try fixture()
        // Clip 1: another clip made of fixture maps, frames reordered (2, 0, 3, 1): AAM maps as
        // gaze, GAM maps as texture.
        let order = [2, 0, 3, 1]
        let (gaze1, texture1) = (f.attribute.selectingFrames(order), f.gaze.selectingFrames(order))
        func twoClips(_ a: FeatureMap, _ b: FeatureMap) -> FeatureMap {
            FeatureMap(nchw: a.nchw() + b.nchw(), batch: 8, channels: 2048, height: 7, width: 7)
        }
        let batched = f.psta(gaze: twoClips(f.gaze, gaze1), texture: twoClips(f.texture, texture1), attribute: nil)
        let alone = f.psta(gaze: f.gaze, texture: f.texture, attribute: nil)
            + f.psta(gaze: gaze1, texture: texture1, attribute: nil)
        XCTAssertEqual(batched.count, 2)
        let clipDifference = zip(alone[0].headSoftmax.joined(), alone[1].headSoftmax.joined()).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(clipDifference, 0.1, "the two clips should score differently")
        for (b, a) in zip(batched, alone) {
            for (x, y) in zip(b.headSoftmax.joined(), a.headSoftmax.joined()) { XCTAssertEqual(x, y, accuracy: 1e-5) }
            for (x, y) in zip(b.headLogits.joined(), a.headLogits.joined()) { XCTAssertEqual(x, y, accuracy: 1e-4 * max(1, abs(y))) }
        }
    }

    func testRemovedKeyIsABindingError() throws {
        var weights = try fixture().weights
        let removed = "layer2.TRAG.theta_channel.0.weight"
        weights[removed] = nil
        XCTAssertThrowsError(try PSTA(weights: weights)) { error in
            guard let e = error as? BindingError else { return XCTFail("not a BindingError: \(error)") }
            XCTAssertEqual(e.network, "agg")
            XCTAssertEqual(e.missing, [removed])
            XCTAssertTrue(e.misshapen.isEmpty)
            XCTAssertTrue(e.unexpected.isEmpty)
            XCTAssertTrue(e.description.contains(removed))
        }
    }

    func testEveryBindingProblemIsListedAndBaseKeysAreIgnored() throws {
        var weights = try fixture().weights
        weights["bottleneck.1.running_var"] = nil
        weights["classifier.2.weight"] = Tensor(zeros: [2, 512])
        weights["layer4.conv_block.0.weight"] = Tensor(zeros: [1])
        weights["base.conv1.weight"] = Tensor(zeros: [64, 3, 7, 7])
        XCTAssertThrowsError(try PSTA(weights: weights)) { error in
            guard let e = error as? BindingError else { return XCTFail("not a BindingError: \(error)") }
            XCTAssertEqual(e.missing, ["bottleneck.1.running_var"])
            XCTAssertEqual(e.misshapen.map(\.key), ["classifier.2.weight"])
            XCTAssertEqual(e.misshapen.first?.expected, [2, 1024])
            XCTAssertEqual(e.unexpected, ["layer4.conv_block.0.weight"])
        }
    }
}

private extension FeatureMap {
    /// The frames in `order` (NCHW round trip keeps the test independent of DFGaze internals).
    func selectingFrames(_ order: [Int]) -> FeatureMap {
        let all = nchw(), frame = channels * planeSize
        return FeatureMap(nchw: order.flatMap { all[($0 * frame)..<(($0 + 1) * frame)] },
                          batch: order.count, channels: channels, height: height, width: width)
    }
}
