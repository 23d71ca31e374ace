import XCTest

final class USBDiscoveryPlaceholder: XCTestCase {
    func testBuilds() {}
}
