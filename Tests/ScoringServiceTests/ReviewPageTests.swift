import Foundation
@testable import ScoringService
import Weights
import XCTest

/// The review page the binary serves at GET / is the repo's Sources/ScoringService/ReviewPage/review.html
/// (embedded by scripts/embed-review-page.py), and its Content-Security-Policy lets exactly that page run:
/// its inline script and style by their SHA-256, nothing from elsewhere.
final class ReviewPageTests: XCTestCase {
    static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/ScoringService/ReviewPage/review.html")

    func testEmbeddedPageIsTheSourceFile() throws {
        let file = try String(contentsOf: Self.source, encoding: .utf8)
        XCTAssertEqual(ReviewPage.html, file, "the embedded page differs from review.html: run scripts/embed-review-page.py")
    }

    /// A page whose script or style was edited without regenerating would be blocked by the browser:
    /// the policy must carry the hashes of the file's own inline blocks.
    func testPolicyAllowsTheFilesInlineScriptAndStyleByHash() throws {
        let file = try String(contentsOf: Self.source, encoding: .utf8)
        let policy = ReviewPage.contentSecurityPolicy
        for tag in ["script", "style"] {
            let open = try XCTUnwrap(file.range(of: "<\(tag)>"), "no <\(tag)> in the page")
            let close = try XCTUnwrap(file.range(of: "</\(tag)>", range: open.upperBound..<file.endIndex))
            XCTAssertNil(file.range(of: "<\(tag)", range: close.upperBound..<file.endIndex), "a second <\(tag)> would be blocked")
            let hash = Data(SHA256.digest(Array(file[open.upperBound..<close.lowerBound].utf8))).base64EncodedString()
            XCTAssertTrue(policy.contains("\(tag)-src 'sha256-\(hash)'"), "\(tag)-src lacks the hash of the page's \(tag)")
        }
    }

    func testPolicyIsSelfOnlyAndWidenedOnlyForBlobs() {
        let directives = Dictionary(uniqueKeysWithValues: ReviewPage.contentSecurityPolicy
            .split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            .map { d -> (String, String) in
                let parts = d.split(separator: " ", maxSplits: 1).map(String.init)
                return (parts[0], parts.count > 1 ? parts[1] : "")
            })
        XCTAssertEqual(directives["default-src"], "'self'")
        XCTAssertEqual(directives["img-src"], "'self' blob:")
        XCTAssertEqual(directives["media-src"], "'self' blob:")
        XCTAssertEqual(directives["connect-src"], "'self'")
        XCTAssertEqual(directives["object-src"], "'none'")
        XCTAssertEqual(directives["frame-ancestors"], "'none'")
        XCTAssertFalse(ReviewPage.contentSecurityPolicy.contains("unsafe"), "no unsafe-inline or unsafe-eval")
        XCTAssertFalse(ReviewPage.contentSecurityPolicy.contains("http"), "no other origin")
    }

    /// No request leaves for another host: no absolute URLs in src/href/fetch, no CDN.
    func testPageLoadsNothingFromElsewhere() throws {
        let html = ReviewPage.html
        XCTAssertNil(html.range(of: #"(src|href)\s*=\s*["']?(https?:)?//"#, options: .regularExpression))
        XCTAssertNil(html.range(of: #"fetch\(\s*["']https?:"#, options: .regularExpression))
        for hook in ["file-input", "faces-detect", "submit", "progress", "verdict", "demo-warning", "timeline", "error"] {
            XCTAssertTrue(html.contains("data-testid=\"\(hook)\""), "the stable test hook \(hook) is missing")
        }
    }
}
