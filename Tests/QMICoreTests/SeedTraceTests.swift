import Base
import XCTest
@testable import QMICore

/// The real quectel-CM -v trace from ../shared/seeds/001 decodes to the names printed there.
final class SeedTraceTests: XCTestCase {
    func testSeed001DecodesToQuectelNames() throws {
        let text = try String(contentsOfFile: fixture("seed001-quectel-cm-v.txt"), encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        var pairs = 0
        for (i, line) in lines.enumerated() {
            let found = HexScan.scan(line: line)
            guard found.count == 1, case let .frame(bytes) = found[0] else {
                XCTAssertTrue(found.isEmpty, "unexpected frames/broken in: \(line)")
                continue
            }
            let m = try QMIMessage.decode(bytes)
            // quectel-CM prints the decoded line right after the hex line.
            let next = lines[i + 1]
            guard let start = next.range(of: "TransactionId:") else { return XCTFail("no decoded line after \(line)") }
            let theirs = String(next[start.lowerBound...]).split(separator: " ").joined(separator: " ")
            XCTAssertEqual(QMITrace.quectelLine(m), theirs)
            pairs += 1
        }
        // SYNC req/resp, GET_VERSION, 5 x GET_CLIENT_ID, DMS/WDA/UIM/WDS/NAS/WDS requests
        XCTAssertEqual(pairs, 14)
    }

    func testSeed001FlattenedLineYieldsEveryFrame() throws {
        let text = try String(contentsOfFile: fixture("seed001-flattened.txt"), encoding: .utf8)
        let found = HexScan.scan(line: text)
        let frames = found.compactMap { f -> QMIMessage? in
            if case let .frame(b) = f { return try? QMIMessage.decode(b) }
            return nil
        }
        XCTAssertEqual(found.count, 14, "\(found)")
        XCTAssertEqual(frames.map { QMITrace.traceName($0) }, [
            "QMICTL_SYNC_REQ", "QMICTL_SYNC_RESP", "QMICTL_GET_VERSION_REQ",
            "QMICTL_GET_CLIENT_ID_REQ", "QMICTL_GET_CLIENT_ID_REQ", "QMICTL_GET_CLIENT_ID_REQ",
            "QMICTL_GET_CLIENT_ID_REQ", "QMICTL_GET_CLIENT_ID_REQ",
            "QMIDMS_GET_DEVICE_REV_ID_REQ", "QMIWDS_ADMIN_SET_DATA_FORMAT_REQ", "QMIUIM_GET_CARD_STATUS_REQ",
            "QMIWDS_GET_PROFILE_SETTINGS_REQ", "QMINAS_GET_SYS_INFO_REQ", "QMIWDS_GET_PKT_SRVC_STATUS_REQ",
        ])
        let services = frames.compactMap { try? $0.value("Service")?.uint }
        XCTAssertEqual(services, [0xff, 1, 2, 3, 11, 26])
    }
}
