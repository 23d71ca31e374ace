import Foundation
import XCTest
import Base
@testable import QMICore
import QMIMessages
@testable import QMISim
import TestSupport

/// The simulated SDX35 checks WDS Start Network's APN type TLVs the way the simulator reads
/// the modem's rules: one way to bring a call up at a time, by name with an APN, by type
/// with a type that a profile has; an EC25 ignores the TLVs it does not know.
final class APNTypeSimTests: XCTestCase {
    func sdx35(_ c: inout SimConfig) {
        c.apnTypeInStartNetwork = true
        c.profilesCarryAPNType = true
        c.profiles = [SimConfig.Profile(apn: "cmnet", apnTypeMask: 1), SimConfig.Profile(apn: "ims", apnTypeMask: 2)]
    }

    func start(_ rig: Rig, _ wds: UInt8, _ fill: (inout QMIMessage) throws -> Void) throws -> Result<QMIMessage, QMIError> {
        try rig.call(WDS.StartNetwork.spec, cid: wds, fill)
    }

    func testAnSDX35BringsUpByTypeOrNameAndRefusesWhatIsWrong() throws {
        let rig = try Rig(sdx35)
        let wds = try rig.allocate(.wds)
        rig.wait(100) { rig.sim.isRegistered }
        // By type without a type: missing argument.
        var r = try start(rig, wds) { try $0.set("Bring Up By APN Type", .uint(2)) }
        XCTAssertEqual(rig.errorCode(r), QMIProtocolError.missingArgument.rawValue)
        // By type and by profile at once: refused.
        r = try start(rig, wds) {
            try $0.set("Bring Up By APN Type", .uint(2)); try $0.set("APN Type", .uint(2)); try $0.set("Profile Index 3GPP", .uint(1))
        }
        XCTAssertEqual(rig.errorCode(r), QMIProtocolError.invalidArgument.rawValue)
        // An APN type the modem does not know.
        r = try start(rig, wds) { try $0.set("APN Type", .uint(7)) }
        XCTAssertEqual(rig.errorCode(r), QMIProtocolError.invalidArgument.rawValue)
        // By name without an APN.
        r = try start(rig, wds) { try $0.set("Bring Up By APN Name", .bool(true)) }
        XCTAssertEqual(rig.errorCode(r), QMIProtocolError.missingArgument.rawValue)
        XCTAssertEqual(rig.sim.activeCalls, 0)
        // By type IMS: the call takes the IMS profile (2), so its address.
        let ok = try rig.ok(WDS.StartNetwork.spec, cid: wds) { try $0.set("Bring Up By APN Type", .uint(2)); try $0.set("APN Type", .uint(2)) }
        XCTAssertNotNil(WDS.StartNetwork.Response(ok).packetDataHandle)
        let rs = try rig.ok(WDS.GetRuntimeSettings.spec, cid: wds) { try $0.set("Requested Settings", .uint(0x2310)) }
        XCTAssertEqual(WDS.GetRuntimeSettings.Response(rs).ipv4Address, IPAddress("10.90.2.113")!.ipv4!)
    }

    func testProfilesKeepTheirAPNTypeWhereTheModemHasOne() throws {
        let rig = try Rig { $0.profilesCarryAPNType = true }
        let wds = try rig.allocate(.wds)
        _ = try rig.ok(WDS.ModifyProfile.spec, cid: wds) {
            try $0.set("Profile Identifier", .structure([.uint(0), .uint(2)])); try $0.set("APN Type Mask", .uint(2))
        }
        let p = try rig.ok(WDS.GetProfileSettings.spec, cid: wds) { try $0.set("Profile Identifier", .structure([.uint(0), .uint(2)])) }
        XCTAssertEqual(WDS.GetProfileSettings.Response(p).apnTypeMask, .ims)
        // An EC25 (no APN types in its profiles) reports none.
        let ec25 = try Rig()
        let w = try ec25.allocate(.wds)
        let q = try ec25.ok(WDS.GetProfileSettings.spec, cid: w) { try $0.set("Profile Identifier", .structure([.uint(0), .uint(1)])) }
        XCTAssertNil(WDS.GetProfileSettings.Response(q).apnTypeMask)
        // And ignores Start Network's APN type TLVs, which it does not know: the call comes up by profile.
        ec25.wait(100) { ec25.sim.isRegistered }
        _ = try ec25.ok(WDS.StartNetwork.spec, cid: w) { try $0.set("Bring Up By APN Type", .uint(2)); try $0.set("Profile Index 3GPP", .uint(1)) }
        XCTAssertEqual(ec25.sim.activeCalls, 1)
    }
}
