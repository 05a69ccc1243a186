import Tensors
import XCTest
@testable import DFGaze

/// The model's work, counted by the layers as they run (the direct count: a convolution as
/// im2col + GEMM would do it, whatever algorithm runs), against published figures.
final class WorkTests: XCTestCase {
    func testMultiplyAccumulatesPerNetworkOnAClip() {
        // Parameters do not change the count: networks bound to zeros.
        let gam = GAM(WeightBinder(network: GAM.name, state: StateDict()))
        let tam = TAM(WeightBinder(network: TAM.name, state: StateDict()))
        let aam = AAM(WeightBinder(network: AAM.name, state: StateDict()))
        let psta = PSTA(WeightBinder(network: PSTA.name, state: StateDict()))

        // The torchvision trunks match their published per-frame figures at 224x224
        // (ResNet-50 4.09 GMAC, ResNet-34 3.66 GMAC).
        BLAS.accounting = true
        let frame = FeatureMap(channels: 3, batch: 1, height: 224, width: 224)
        _ = BLAS.takeMultiplyAccumulates()
        _ = gam.trunk(frame)
        let resnet50 = BLAS.takeMultiplyAccumulates()
        _ = aam.trunk(frame)
        let resnet34 = BLAS.takeMultiplyAccumulates()
        BLAS.accounting = false
        XCTAssertEqual(Double(resnet50) / 1e9, 4.09, accuracy: 0.01)
        XCTAssertEqual(Double(resnet34) / 1e9, 3.66, accuracy: 0.01)

        // Per clip of 4 frames: GAM is the trunk and its two Linear(2048, 90) heads per frame;
        // AAM the trunk and its Linear(512, 2048) over the 7x7 positions of each frame.
        let macs = DFGazeModel.multiplyAccumulates(gam: gam, tam: tam, aam: aam, psta: psta, frames: 4)
        XCTAssertEqual(macs[GAM.name], 4 * (resnet50 + 2 * 2048 * 90))
        XCTAssertEqual(macs[AAM.name], 4 * (resnet34 + 49 * 512 * 2048))
        XCTAssertEqual(Set(macs.keys), [GAM.name, TAM.name, AAM.name, "psta"])
        XCTAssertFalse(BLAS.accounting, "restored")
        print("GMAC per 4-frame clip:", macs.mapValues { Double($0) / 1e9 }, "total", Double(macs.values.reduce(0, +)) / 1e9)
    }
}
