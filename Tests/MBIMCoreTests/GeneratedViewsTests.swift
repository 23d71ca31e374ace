import Foundation
import XCTest
import Base
import MBIMCore
import MBIMMessages
@testable import QMICodegen

/// The typed MBIM views are derived from the layouts, and nothing else.
final class MBIMViewsTests: XCTestCase {
    typealias C = MBIMCatalogue

    /// The checked-in file is exactly what the generator writes from today's layouts.
    func testGeneratedFileIsUpToDate() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/MBIMMessages/Messages.generated.swift").standardized.path
        let checkedIn = try String(contentsOfFile: path, encoding: .utf8)
        let fresh = MBIMGenerator.generate()
        if checkedIn != fresh {
            let a = checkedIn.components(separatedBy: "\n"), b = fresh.components(separatedBy: "\n")
            let first = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
            XCTFail("""
                Sources/MBIMMessages/Messages.generated.swift is stale: run
                  swift run qcm-codegen --mbim Sources/MBIMMessages/Messages.generated.swift
                first difference at line \(first + 1):
                  checked in: \(first < a.count ? a[first] : "<end>")
                  generated:  \(first < b.count ? b[first] : "<end>")
                """)
        }
    }

    /// A typed set encodes to the bytes the layout gives for the same values.
    func testTypedSetEncodesAsTheLayout() throws {
        let view = MBIM.Connect.Set(sessionID: 0, activationCommand: .activate, accessString: "internet", userName: "u",
                                    password: "p", authProtocol: .pap, ipType: .ipv4v6, contextType: .contextInternet)
        let layout = C.Connect.set.encode([.number(0), .number(1), .text("internet"), .text("u"), .text("p"), .number(0), .number(1),
                                           .number(3), .uuid(.contextInternet)])
        XCTAssertEqual(view.encode(), layout)
        XCTAssertEqual(view.encode().count, 84, "as mbimcli --connect lays it out")
        XCTAssertTrue(view.description.contains("Password='***'"), view.description)

        // Built field by field, the same bytes.
        var stepwise = MBIM.Connect.Set()
        stepwise.activationCommand = .activate
        stepwise.accessString = "internet"
        stepwise.userName = "u"
        stepwise.password = "p"
        stepwise.authProtocol = .pap
        stepwise.ipType = .ipv4v6
        stepwise.contextType = .contextInternet
        XCTAssertEqual(stepwise.encode(), layout)

        // Every layout's all-zero view is the layout's all-zero buffer.
        XCTAssertEqual(MBIM.Pin.Set().encode(), C.Pin.set.encode([]))
        XCTAssertEqual(MBIM.IPConfiguration.Query(sessionID: 3).encode(), C.IPConfiguration.layout.encode([.number(3)]))
        XCTAssertEqual(MBIM.SignalState.Set(signalStrengthInterval: 0, rssiThreshold: 2, errorRateThreshold: C.SignalState.unspecified).encode(),
                       [0, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])
        XCTAssertEqual(MBIM.ProxyControl.Configuration.Set(devicePath: "/dev/cdc-wdm0", timeout: 30).encode(),
                       C.ProxyConfiguration.set.encode([.text("/dev/cdc-wdm0"), .number(30)]))
        XCTAssertEqual(MBIM.Connect.cid, C.Connect.cid)
        XCTAssertEqual(MBIM.ProxyControl.Configuration.service, .proxyControl)
    }

    /// A buffer the layout built reads back as typed values, lists and addresses included.
    func testLayoutBuiltBuffersDecodeToTypedValues() throws {
        let a = IPAddress("10.0.0.2")!, g = IPAddress("10.0.0.1")!, d1 = IPAddress("8.8.8.8")!, d2 = IPAddress("8.8.4.4")!
        let six = IPAddress("2001:db8::2")!
        let b = C.IPConfiguration.layout.encode([
            .number(0), .number(15), .number(1), .number(0), .addresses([MBIMAddress(prefix: 24, address: a)]),
            .number(0), .addresses([MBIMAddress(prefix: 64, address: six)]), .addresses([MBIMAddress(g)]), .addresses([]),
            .number(0), .addresses([MBIMAddress(d1), MBIMAddress(d2)]), .number(0), .addresses([]), .number(1500), .number(0)])
        let ip = try MBIM.IPConfiguration.Response(decoding: b)
        XCTAssertEqual(ip.ipv4ConfigurationAvailable, [.address, .gateway, .dns, .mtu])
        XCTAssertEqual(ip.ipv6ConfigurationAvailable, .address)
        XCTAssertEqual(ip.ipv4Address, [MBIMAddress(prefix: 24, address: a)])
        XCTAssertEqual(ip.ipv6Address, [MBIMAddress(prefix: 64, address: six)])
        XCTAssertEqual(ip.ipv4Gateway, g)
        XCTAssertNil(ip.ipv6Gateway)
        XCTAssertEqual(ip.ipv4DNSServer, [d1, d2])
        XCTAssertEqual(ip.ipv6DNSServer, [])
        XCTAssertEqual(ip.ipv4MTU, 1500)
        // And the view built from those values lays them out the same way.
        let rebuilt = MBIM.IPConfiguration.Response(
            sessionID: 0, ipv4ConfigurationAvailable: [.address, .gateway, .dns, .mtu], ipv6ConfigurationAvailable: .address,
            ipv4Address: [MBIMAddress(prefix: 24, address: a)], ipv6Address: [MBIMAddress(prefix: 64, address: six)],
            ipv4Gateway: g, ipv4DNSServer: [d1, d2], ipv4MTU: 1500)
        XCTAssertEqual(rebuilt.encode(), b)

        let ready = try MBIM.SubscriberReadyStatus.Response(decoding: C.SubscriberReady.response.encode(
            [.number(1), .text("460011234567890"), .text("8986"), .number(0), .number(0), .texts(["+8613800000000", ""])]))
        XCTAssertEqual(ready.readyState, .initialized)
        XCTAssertEqual(ready.subscriberID, "460011234567890")
        XCTAssertEqual(ready.simICCID, "8986")
        XCTAssertEqual(ready.telephoneNumbers, ["+8613800000000", ""])

        let services = try MBIM.DeviceServices.Response(decoding: C.DeviceServices.response.encode(
            [.number(0), .number(1), .services([MBIMDeviceService(service: .basicConnect, cids: [1, 2, 12]), MBIMDeviceService(service: .qmi, cids: [1])])]))
        XCTAssertEqual(services.maxDssSessions, 1)
        XCTAssertEqual(services.deviceServices, [MBIMDeviceService(service: .basicConnect, cids: [1, 2, 12]), MBIMDeviceService(service: .qmi, cids: [1])])

        let stats = try MBIM.PacketStatistics.Response(decoding: C.PacketStatistics.response.encode(
            [.number(1), .number(2), .number(0x1_0000_0003), .number(4), .number(5), .number(6), .number(7), .number(8)]))
        XCTAssertEqual(stats.inOctets, 0x1_0000_0003)
        XCTAssertEqual(stats.outDiscards, 8)

        let register = try MBIM.RegisterState.Response(decoding: C.Register.response.encode(
            [.number(0), .number(4), .number(1), .number(0x60), .number(1), .text("46001"), .text("CHN-UNICOM"), .text(nil), .number(0)]))
        XCTAssertEqual(register.registerState, .roaming)
        XCTAssertEqual(register.availableDataClasses, [.lte, .`5gNsa`])
        XCTAssertEqual(register.availableDataClasses.name, "lte, 5g-nsa")
        XCTAssertEqual(register.providerName, "CHN-UNICOM")
        XCTAssertNil(register.roamingText)
        XCTAssertEqual(register.nwError, .noneValue)
    }

    /// Numbers a table does not know survive a round trip; names come from the one table.
    func testUnknownValuesSurvive() throws {
        let odd = MBIM.Connect.Response(sessionID: 7, activationState: MBIM.ActivationState(rawValue: 9), ipType: .ipv6,
                                        contextType: .contextInternet, nwError: MBIM.NwError(rawValue: 200))
        let back = try MBIM.Connect.Response(decoding: odd.encode())
        XCTAssertEqual(back.sessionID, 7)
        XCTAssertEqual(back.activationState.rawValue, 9)
        XCTAssertEqual(back.activationState.name, "9")
        XCTAssertEqual(back.nwError.rawValue, 200)
        XCTAssertEqual(back.contextType, .contextInternet)
        XCTAssertEqual(MBIM.ActivationState.activated.name, MBIMNames.activationState.describe(1))
        XCTAssertEqual(MBIM.DataClass(rawValue: 0x20 | 0x4000).name, "lte, 0x00004000")
        XCTAssertEqual(MBIM.IPAvailable().name, "none")
        XCTAssertEqual(MBIM.Status.invalidAccessString.name, MBIMNames.status(18))
        XCTAssertEqual(MBIM.ProtocolError.notOpened.rawValue, 5)
    }

    /// The decoding initializer fails as the layout decoder does.
    func testHostileBuffersThrowTheLayoutsError() {
        var b = C.Register.response.encode([.number(0), .number(3), .number(1), .number(0x20), .number(1), .text("46001"), .text("X"), .text(nil), .number(0)])
        b[28] = 0xf0                                                                    // ProviderName offset far away
        XCTAssertThrowsError(try MBIM.RegisterState.Response(decoding: b)) { e in
            XCTAssertEqual(e as? MBIMError, C.Register.response.decode(b).failure)
            XCTAssertTrue((e as? MBIMError)?.description.contains("ProviderName") == true, "\(e)")
        }
        XCTAssertThrowsError(try MBIM.DeviceCaps.Response(decoding: [1, 2, 3]))
        // A view over too few values reads zeros and writes what it is given, never traps.
        var short = MBIM.Connect.Response(values: [])
        XCTAssertEqual(short.nwError, .noneValue)
        short.nwError = .congestion
        XCTAssertEqual(short.values.count, 6)
        XCTAssertEqual(try MBIM.Connect.Response(decoding: short.encode()).nwError, .congestion)
    }

    /// Swift names from libmbim's.
    func testNames() {
        XCTAssertEqual(MBIMNaming.property("SessionId"), "sessionID")
        XCTAssertEqual(MBIMNaming.property("IPv4DnsServer"), "ipv4DNSServer")
        XCTAssertEqual(MBIMNaming.property("IpType"), "ipType")
        XCTAssertEqual(MBIMNaming.type("IP_CONFIGURATION"), "IPConfiguration")
        XCTAssertEqual(MBIMNaming.type("ipAvailable"), "IPAvailable")
        XCTAssertEqual(MBIMNaming.caseName("sim-not-inserted"), "simNotInserted")
        XCTAssertEqual(MBIMNaming.caseName("InvalidAccessString"), "invalidAccessString")
        XCTAssertEqual(MBIMNaming.caseName("5g-nsa"), "`5gNsa`")
        XCTAssertEqual(MBIMNaming.caseName("default"), "defaultValue")
    }
}

private extension Result {
    var failure: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}
