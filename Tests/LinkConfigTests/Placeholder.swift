import XCTest

final class LinkConfigPlaceholder: XCTestCase {
    func testBuilds() {}
}
