import XCTest
import CSystem
@testable import Base

final class FilesTests: XCTestCase {
    /// Only sysfs attribute writes accept a FIFO (the simulator's stand-in for an attribute);
    /// reading a file and rewriting one in place never touch anything but a regular file.
    func testWhichCallsAcceptAFIFO() throws {
        let dir = NSTemporaryDirectory() + "qcm-files-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fifo = dir + "/fifo"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let reader = open(fifo, O_RDWR | O_NONBLOCK)          // a reader, so writers are not refused with ENXIO
        defer { close(reader) }
        XCTAssertNil(Files.readSmall(fifo), "reading a FIFO is refused")
        XCTAssertThrowsError(try Files.writeInPlace(fifo, Array("x".utf8)), "rewriting a FIFO in place is refused")
        XCTAssertNoThrow(try Files.writeAttribute(fifo, "1\n"), "an attribute write reaches the FIFO")
        var b = [UInt8](repeating: 0, count: 8)
        XCTAssertEqual(read(reader, &b, 8), 2)
        let file = dir + "/file"
        try "old".write(toFile: file, atomically: false, encoding: .utf8)
        XCTAssertEqual(Files.readSmall(file), Array("old".utf8))
    }
}
