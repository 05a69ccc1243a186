import Tensors
import XCTest
@testable import DFGaze

/// Each backbone reads exactly the parameters the demo weights generate for it (the authors'
/// state dict minus the keys their forward pass never reads), with the checkpoint's shapes.
final class BackboneSpecTests: XCTestCase {
    func check(_ network: String, _ spec: [(key: String, shape: [Int])]) throws {
        let keys = spec.map(\.key)
        XCTAssertEqual(Set(keys).count, keys.count, "\(network): a key is read twice")
        XCTAssertEqual(Set(keys), try Fixture.generatedKeys(network), "\(network): key set differs from the demo weights'")
        let shapes = try Fixture.checkpointShapes(network)
        for (key, shape) in spec {
            XCTAssertEqual(shape, shapes[key], "\(network): \(key)")
        }
    }

    func testGAMReadsExactlyTheCheckpointParameters() throws { try check("gam", GAM.parameterSpec) }
    func testTAMReadsExactlyTheCheckpointParameters() throws { try check("tam", TAM.parameterSpec) }
    func testAAMReadsExactlyTheCheckpointParameters() throws { try check("aam", AAM.parameterSpec) }

    /// One BindingError names the missing, the misshapen and the unexpected key together;
    /// the keys the forward pass legitimately never reads are not reported.
    func testBindingReportsEveryProblemAtOnce() throws {
        var state = Fixture.demoWeights("gam", spec: GAM.parameterSpec)
        state["layer2.1.conv2.weight"] = nil
        state["layer3.0.bn1.running_var"] = Tensor(zeros: [255])
        state["layer5.0.conv1.weight"] = Tensor(zeros: [1])
        state["fc_finetune.weight"] = Tensor(zeros: [3, 2051])
        state["bn1.num_batches_tracked"] = Tensor(zeros: [])
        XCTAssertThrowsError(try GAM(weights: state)) { error in
            guard let e = error as? BindingError else { return XCTFail("not a BindingError: \(error)") }
            XCTAssertEqual(e.network, "gam")
            XCTAssertEqual(e.missing, ["layer2.1.conv2.weight"])
            XCTAssertEqual(e.misshapen.map(\.key), ["layer3.0.bn1.running_var"])
            XCTAssertEqual(e.misshapen.first?.expected, [256])
            XCTAssertEqual(e.misshapen.first?.found, [255])
            XCTAssertEqual(e.unexpected, ["layer5.0.conv1.weight"])
            XCTAssertTrue(e.description.contains("layer2.1.conv2.weight"))
        }
    }

    func testDemoWeightsBindWithoutComplaint() throws {
        XCTAssertNoThrow(try AAM(weights: Fixture.demoWeights("aam", spec: AAM.parameterSpec)))
    }
}
