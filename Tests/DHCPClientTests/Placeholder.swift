import XCTest

final class DHCPClientPlaceholder: XCTestCase {
    func testBuilds() {}
}
