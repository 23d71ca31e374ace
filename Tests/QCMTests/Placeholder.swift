import XCTest

final class QCMPlaceholder: XCTestCase {
    func testBuilds() {}
}
