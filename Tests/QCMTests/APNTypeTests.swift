import Foundation
import XCTest
import Base
import CSystem
@testable import QMICore
import QMIMessages
import MBIMCore
import QMISim
import TestSupport
@testable import QCM

/// -a 1|2 and -y TYPE: on an SDX35 in WDS Start Network (quectel-CM's TLVs), elsewhere in
/// the profile's APN Type Mask where the modem keeps one, on MBIM as CONNECT's context type;
/// refused where nothing can carry them.
final class APNTypeTests: XCTestCase {
    func testOptions() throws {
        var p = try Options.parse(["-a", "2", "-y", "ims"]).pdn
        XCTAssertEqual(p.bringUp, .byType)
        XCTAssertEqual(p.apnType, 2)
        XCTAssertFalse(p.defaultRoute, "an IMS PDN takes no default route unless told to")
        p = try Options.parse(["--bring-up", "name", "-s", "cmnet", "--apn-type", "internet"]).pdn
        XCTAssertEqual(p.bringUp, .byName)
        XCTAssertEqual(p.apnType, 1)
        XCTAssertTrue(p.defaultRoute)
        let two = try Options.parse(["-n", "1", "-s", "cmnet", "-y", "1", "-n", "2", "-a", "2", "-y", "2"]).pdns
        XCTAssertEqual(two.map { $0.apnType }, [1, 2], "-a and -y belong to their PDN group")
        XCTAssertEqual(two.map { $0.bringUp }, [nil, .byType])
        XCTAssertEqual(PDNOptions.apnTypeName(0), "unspecified")
    }

    func testOnlyAnSDX35BringsUpByType() {
        let byType = try! Options.parse(["-a", "2", "-y", "2"]).pdns
        XCTAssertNil(APNTypeRules.problem(byType, productID: 0x0316))
        XCTAssertEqual(APNTypeRules.problem(byType, productID: 0x0125),
                       "-a 2: bringing a call up by APN type is a feature of SDX35 modules (2c7c:0316, Start Network TLV 0x3D); 2c7c:0125 is dialed by profile: give the profile of that APN type with -n N (with -y, qcm writes the type into the profile where the modem keeps one)")
        XCTAssertNil(APNTypeRules.problem(try! Options.parse(["-a", "1", "-s", "x", "-y", "2"]).pdns, productID: 0x0125),
                     "-a 1 is what Start Network does with -s anyway")
        XCTAssertEqual(APNTypeRules.mask(1), 1)
        XCTAssertEqual(APNTypeRules.mask(2), 2)
        XCTAssertNil(APNTypeRules.mask(0), "unspecified: the profile's type is left alone")
    }

    func sdx35(_ c: inout SimConfig) {
        c.apnTypeInStartNetwork = true
        c.profilesCarryAPNType = true
        c.profiles = [SimConfig.Profile(apn: "cmnet", apnTypeMask: 1), SimConfig.Profile(apn: "ims", apnTypeMask: 2)]
    }

    func starts(_ h: QMIHarness) -> [WDS.StartNetwork.Request] {
        h.sent.filter { $0.displayName == "WDS Start Network" }.map { WDS.StartNetwork.Request($0) }
    }

    func testSDX35ByTypeAndByName() throws {
        var h = try QMIHarness(["-a", "2", "-y", "2"], noLink: false, productID: 0x0316, sdx35)
        h.connect()
        XCTAssertEqual(h.phases, [.connected])
        var s = try XCTUnwrap(starts(h).first)
        XCTAssertEqual(s.bringUpByAPNType, 2, "quectel-CM's value")
        XCTAssertEqual(s.apnType, .ims)
        XCTAssertNil(s.profileIndex3GPP, "a call brought up by type names no profile")
        XCTAssertNil(s.bringUpByAPNName)
        XCTAssertFalse(h.sentNames.contains("WDS Modify Profile"))
        XCTAssertTrue(h.log.contains("the call is brought up by APN type (SDX35: WDS Start Network TLV 0x3D), not by profile 1: the profile is not written"))
        let plan = h.actions.compactMap { a -> String? in if case let .applyLink(_, p, _, _) = a { return p.ipv4?.address.text }; return nil }
        XCTAssertEqual(plan, ["10.90.2.113"], "the modem chose its IMS profile (2)")

        h = try QMIHarness(["-a", "1", "-s", "ims"], noLink: false, productID: 0x0316, sdx35)
        h.connect()
        XCTAssertEqual(h.phases, [.connected])
        s = try XCTUnwrap(starts(h).first)
        XCTAssertEqual(s.bringUpByAPNName, true)
        XCTAssertEqual(s.apn, "ims")
        XCTAssertNil(s.profileIndex3GPP)
        XCTAssertNil(s.apnType, "no -y: no APN type TLV")

        // -y alone: the type goes with the profile's call.
        h = try QMIHarness(["-y", "1"], noLink: false, productID: 0x0316, sdx35)
        h.connect()
        s = try XCTUnwrap(starts(h).first)
        XCTAssertEqual(s.apnType, .internet)
        XCTAssertEqual(s.profileIndex3GPP, 1)
    }

    func testOtherModemsGetTheTypeInTheirProfile() throws {
        // A modem whose profiles carry an APN type: -y writes it, Start Network carries none of SDX35's TLVs.
        var h = try QMIHarness(["-n", "2", "-s", "ims", "-y", "2"], noLink: false, productID: 0x0125) { $0.profilesCarryAPNType = true }
        h.connect()
        XCTAssertEqual(h.phases, [.connected])
        let modify = h.sent.filter { $0.displayName == "WDS Modify Profile" }.map { WDS.ModifyProfile.Request($0) }
        XCTAssertEqual(modify.count, 1)
        XCTAssertEqual(modify.first?.apnTypeMask, .ims)
        XCTAssertEqual(modify.first?.apnName, "ims")
        XCTAssertEqual(modify.first?.message.tlv(0xdd)?.value, [2, 0, 0, 0, 0, 0, 0, 0], "libqmi's APN Type Mask: a guint64, the IMS bit")
        XCTAssertEqual(h.sim.profile(2)?.apnTypeMask, 2)
        XCTAssertTrue(h.log.contains("requestSetProfile[2] ims///0 apn-type IMS"), "\(h.log)")
        let s = try XCTUnwrap(starts(h).first)
        XCTAssertEqual(s.profileIndex3GPP, 2)
        XCTAssertNil(s.apnType)
        XCTAssertNil(s.bringUpByAPNType)
        XCTAssertNil(s.bringUpByAPNName)
        XCTAssertFalse(s.message.tlvs.contains { $0.type == 0x38 || $0.type == 0x3c || $0.type == 0x3d })

        // Already of that type: nothing to write.
        h = try QMIHarness(["-n", "2", "-y", "2"], noLink: false) {
            $0.profilesCarryAPNType = true
            $0.profiles[1].apnTypeMask = 2
        }
        h.connect()
        XCTAssertFalse(h.sentNames.contains("WDS Modify Profile"))

        // Only the type differs: Modify Profile carries the type alone.
        h = try QMIHarness(["-y", "2"], noLink: false) { $0.profilesCarryAPNType = true; $0.profiles[0].apnTypeMask = 1 }
        h.connect()
        let only = h.sent.filter { $0.displayName == "WDS Modify Profile" }.map { WDS.ModifyProfile.Request($0) }
        XCTAssertEqual(only.first?.apnTypeMask, .ims)
        XCTAssertNil(only.first?.apnName, "the APN is left as it is")

        // The EC25 of the captures keeps no type in its profiles: said once, the call goes on by profile.
        h = try QMIHarness(["-y", "2"], noLink: false)
        h.connect()
        XCTAssertEqual(h.phases, [.connected])
        XCTAssertFalse(h.sentNames.contains("WDS Modify Profile"))
        XCTAssertTrue(h.log.contains { $0.hasPrefix("-y 2 (IMS): profile 1 carries no APN type on this modem") }, "\(h.log)")
    }

    // MARK: end to end

    func startNetworks(_ rig: DaemonRig) -> [QMIMessage] {
        rig.sim.transcript.entries.filter { $0.incoming && $0.message?.displayName == "WDS Start Network" }.compactMap { $0.message }
    }

    func testSDX35EndToEnd() throws {
        let rig = try DaemonRig(product: "0316") { c in
            c.apnTypeInStartNetwork = true
            c.profilesCarryAPNType = true
            c.profiles = [SimConfig.Profile(apn: "cmnet", apnTypeMask: 1), SimConfig.Profile(apn: "ims", apnTypeMask: 2)]
        }
        rig.start(["-a", "2", "-y", "2", "-v"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        let s = try XCTUnwrap(startNetworks(rig).first)
        XCTAssertEqual(s.tlv(0x3d)?.value, [2], "on the wire: bring up by APN type")
        XCTAssertEqual(s.tlv(0x38)?.value, [2, 0, 0, 0], "APN type IMS, 32 bits little-endian")
        XCTAssertNil(s.tlv(0x31), "no profile index")
        XCTAssertTrue(rig.log.contains("[0x38] APN Type: ims (2)") && rig.log.contains("[0x3d] Bring Up By APN Type: 2"), "the -v trace names the TLVs: " + rig.log)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
        XCTAssertTrue(rig.waitSim { $0.isClean })
    }

    func testRefusalsBeforeTheModemIsTouched() throws {
        // By type on an EC25.
        var rig = try DaemonRig()
        rig.start(["-a", "2", "-y", "2"])
        XCTAssertEqual(rig.waitExit(), 3, rig.log)
        XCTAssertTrue(rig.log.contains("-a 2: bringing a call up by APN type is a feature of SDX35 modules (2c7c:0316"), rig.log)
        XCTAssertEqual(rig.sim.connectionCount, 0)
        // AT modules.
        rig = try DaemonRig(at: ATSimConfig(product: .ec200u))
        rig.start(["-y", "1"])
        XCTAssertEqual(rig.waitExit(), 2, rig.log)
        XCTAssertTrue(rig.log.contains("-a and -y choose how a QMI or MBIM call is brought up; the AT commands of UNISOC and ASR modules"), rig.log)
    }

    func testMBIMConnectCarriesTheTypeAsItsContext() throws {
        let rig = try DaemonRig(mbim: MBIMSimulator.Config())
        rig.start(["-s", "ims", "-y", "2"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(rig.mbimSim?.contextType(), MBIMUUID.contextIMS)
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)

        rig.start(["-s", "cmnet"])
        XCTAssertTrue(rig.waitLog("] connected"), rig.log)
        XCTAssertEqual(rig.mbimSim?.contextType(), MBIMUUID.contextInternet, "the default: Internet")
        rig.signal(SIGTERM)
        XCTAssertEqual(rig.waitExit(), 0, rig.log)
    }
}
