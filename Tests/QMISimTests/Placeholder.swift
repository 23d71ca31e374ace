import XCTest

final class QMISimPlaceholder: XCTestCase {
    func testBuilds() {}
}
