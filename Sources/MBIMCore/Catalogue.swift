import Base

/// The MBIM messages qcm speaks, each defined once as data (libmbim's
/// data/mbim-service-basic-connect.json and the MBIM 1.0 specification give the layouts):
/// the daemon builds and reads them, the simulator answers with them, the trace and
/// `qcm decode` print them, and the typed views (`MBIM.Connect.Set`... in MBIMMessages,
/// generated from these layouts by `qcm-codegen --mbim`) read and write them by name.
///
/// The index and value constants left below (`Connect.activated`, `Connect.nwError`...) are
/// what Sources/QCM/MBIMSession.swift still reads fields with; the views replace them
/// (`MBIM.Connect.Response(decoding:).activationState == .activated`).
public enum MBIMCatalogue {
    public struct Entry {
        public let service: MBIMUUID
        public let cid: UInt32
        public let name: String
        /// The COMMAND query body, the COMMAND set body, and COMMAND_DONE / INDICATE_STATUS.
        public let query: MBIMLayout?
        public let set: MBIMLayout?
        public let response: MBIMLayout?
    }

    public static let all: [Entry] = [
        Entry(service: .basicConnect, cid: DeviceCaps.cid, name: "DEVICE_CAPS", query: nil, set: nil, response: DeviceCaps.response),
        Entry(service: .basicConnect, cid: SubscriberReady.cid, name: "SUBSCRIBER_READY_STATUS", query: nil, set: nil, response: SubscriberReady.response),
        Entry(service: .basicConnect, cid: Radio.cid, name: "RADIO_STATE", query: nil, set: Radio.set, response: Radio.response),
        Entry(service: .basicConnect, cid: Pin.cid, name: "PIN", query: nil, set: Pin.set, response: Pin.response),
        Entry(service: .basicConnect, cid: Register.cid, name: "REGISTER_STATE", query: nil, set: Register.set, response: Register.response),
        Entry(service: .basicConnect, cid: PacketService.cid, name: "PACKET_SERVICE", query: nil, set: PacketService.set, response: PacketService.response),
        Entry(service: .basicConnect, cid: SignalState.cid, name: "SIGNAL_STATE", query: nil, set: SignalState.set, response: SignalState.response),
        Entry(service: .basicConnect, cid: Connect.cid, name: "CONNECT", query: Connect.state, set: Connect.set, response: Connect.state),
        Entry(service: .basicConnect, cid: IPConfiguration.cid, name: "IP_CONFIGURATION", query: IPConfiguration.layout, set: nil, response: IPConfiguration.layout),
        Entry(service: .basicConnect, cid: DeviceServices.cid, name: "DEVICE_SERVICES", query: nil, set: nil, response: DeviceServices.response),
        Entry(service: .basicConnect, cid: PacketStatistics.cid, name: "PACKET_STATISTICS", query: nil, set: nil, response: PacketStatistics.response),
        Entry(service: .proxyControl, cid: ProxyConfiguration.cid, name: "CONFIGURATION", query: nil, set: ProxyConfiguration.set, response: nil),
    ]

    public static func find(_ service: MBIMUUID, _ cid: UInt32) -> Entry? { all.first { $0.service == service && $0.cid == cid } }

    /// Which of an entry's layouts.
    public enum Part { case query, set, response }

    /// The layout of (service, CID, part) — what the typed views encode and decode with. A
    /// layout missing from the catalogue yields an empty one whose name says so (the
    /// generated views are checked against the catalogue by a test). Not inlined: each
    /// view's accessor stays one call.
    @inline(never)
    public static func layout(_ service: MBIMUUID, _ cid: UInt32, _ part: Part) -> MBIMLayout {
        let e = find(service, cid)
        let layout: MBIMLayout?
        switch part {
        case .query: layout = e?.query
        case .set: layout = e?.set
        case .response: layout = e?.response
        }
        return layout ?? MBIMLayout("\(service.name) CID \(cid): not in the catalogue", [])
    }

    // MARK: Basic Connect

    public enum DeviceCaps {
        public static let cid: UInt32 = 1
        public static let response = MBIMLayout("DEVICE_CAPS", [
            .u32("DeviceType", MBIMNames.deviceType), .u32("CellularClass", MBIMNames.cellularClass), .u32("VoiceClass"),
            .u32("SimClass"), .u32("DataClass", MBIMNames.dataClass), .u32("SmsCaps"), .u32("ControlCaps"), .u32("MaxSessions"),
            .string("CustomDataClass"), .string("DeviceId"), .string("FirmwareInfo"), .string("HardwareInfo"),
        ])
    }

    public enum SubscriberReady {
        public static let cid: UInt32 = 2
        public static let response = MBIMLayout("SUBSCRIBER_READY_STATUS", [
            .u32("ReadyState", MBIMNames.readyState), .string("SubscriberId"), .string("SimIccId"), .u32("ReadyInfo"),
            .u32("TelephoneNumbersCount"), .strings("TelephoneNumbers", count: 4),
        ])
    }

    public enum Radio {
        public static let cid: UInt32 = 3
        public static let set = MBIMLayout("RADIO_STATE set", [.u32("RadioState", MBIMNames.onOff)])
        public static let response = MBIMLayout("RADIO_STATE", [.u32("HwRadioState", MBIMNames.onOff), .u32("SwRadioState", MBIMNames.onOff)])
    }

    public enum Pin {
        public static let cid: UInt32 = 4
        public static let set = MBIMLayout("PIN set", [.u32("PinType", MBIMNames.pinType), .u32("PinOperation", MBIMNames.pinOperation),
                                                       .secret("Pin"), .secret("NewPin")])
        public static let response = MBIMLayout("PIN", [.u32("PinType", MBIMNames.pinType), .u32("PinState", MBIMNames.pinState),
                                                        .u32("RemainingAttempts")])
    }

    public enum Register {
        public static let cid: UInt32 = 9
        public static let set = MBIMLayout("REGISTER_STATE set", [.string("ProviderId"), .u32("RegisterAction"), .u32("DataClass")])
        public static let response = MBIMLayout("REGISTER_STATE", [
            .u32("NwError", MBIMNames.nwError), .u32("RegisterState", MBIMNames.registerState), .u32("RegisterMode"),
            .u32("AvailableDataClasses", MBIMNames.dataClass), .u32("CurrentCellularClass", MBIMNames.cellularClass),
            .string("ProviderId"), .string("ProviderName"), .string("RoamingText"), .u32("RegistrationFlag"),
        ])
    }

    public enum PacketService {
        public static let cid: UInt32 = 10
        public static let set = MBIMLayout("PACKET_SERVICE set", [.u32("PacketServiceAction", MBIMNames.attachAction)])
        public static let response = MBIMLayout("PACKET_SERVICE", [
            .u32("NwError", MBIMNames.nwError), .u32("PacketServiceState", MBIMNames.packetServiceState),
            .u32("HighestAvailableDataClass", MBIMNames.dataClass), .u64("UplinkSpeed"), .u64("DownlinkSpeed"),
        ])
    }

    public enum SignalState {
        public static let cid: UInt32 = 11
        public static let response = MBIMLayout("SIGNAL_STATE", [
            .u32("Rssi"), .u32("ErrorRate"), .u32("SignalStrengthInterval"), .u32("RssiThreshold"), .u32("ErrorRateThreshold"),
        ])
        /// What makes the modem report: every SignalStrengthInterval seconds (0: not by time),
        /// an RSSI change of RssiThreshold coded steps (0: not by RSSI), an error-rate change
        /// of ErrorRateThreshold (`unspecified`: not by error rate).
        public static let set = MBIMLayout("SIGNAL_STATE set", [
            .u32("SignalStrengthInterval"), .u32("RssiThreshold"), .u32("ErrorRateThreshold"),
        ])
        /// In a set, for the interval and the RSSI threshold: the modem's default; for the
        /// error-rate threshold: no reports (as libmbim and Wireshark read it).
        public static let unspecified: UInt32 = 0xffff_ffff

        /// A coded RSSI in dBm: 0 is -113 dBm or less, 31 is -51 dBm or more, 2 dB a step;
        /// 99 is "unknown", and anything else is no value either.
        public static func dBm(_ coded: UInt32) -> Int? { coded <= 31 ? -113 + 2 * Int(coded) : nil }
    }

    /// The function's counters since the device was opened (query only).
    public enum PacketStatistics {
        public static let cid: UInt32 = 20
        public static let response = MBIMLayout("PACKET_STATISTICS", [
            .u32("InDiscards"), .u32("InErrors"), .u64("InOctets"), .u64("InPackets"), .u64("OutOctets"), .u64("OutPackets"),
            .u32("OutErrors"), .u32("OutDiscards"),
        ])
    }

    public enum Connect {
        public static let cid: UInt32 = 12
        public static let set = MBIMLayout("CONNECT set", [
            .u32("SessionId"), .u32("ActivationCommand", MBIMNames.activationCommand), .string("AccessString"), .string("UserName"),
            .secret("Password"), .u32("Compression"), .u32("AuthProtocol", MBIMNames.auth), .u32("IpType", MBIMNames.ipType),
            .uuid("ContextType"),
        ])
        /// Query, response and indication.
        public static let state = MBIMLayout("CONNECT", [
            .u32("SessionId"), .u32("ActivationState", MBIMNames.activationState), .u32("VoiceCallState"),
            .u32("IpType", MBIMNames.ipType), .uuid("ContextType"), .u32("NwError", MBIMNames.nwError),
        ])
    }

    public enum IPConfiguration {
        public static let cid: UInt32 = 15
        /// Query (only SessionId matters), response and indication.
        public static let layout = MBIMLayout("IP_CONFIGURATION", [
            .u32("SessionId"), .u32("IPv4ConfigurationAvailable", MBIMNames.ipAvailable), .u32("IPv6ConfigurationAvailable", MBIMNames.ipAvailable),
            .u32("IPv4AddressCount"), .addresses("IPv4Address", v6: false, count: 3),
            .u32("IPv6AddressCount"), .addresses("IPv6Address", v6: true, count: 5),
            .addressRef("IPv4Gateway", v6: false), .addressRef("IPv6Gateway", v6: true),
            .u32("IPv4DnsServerCount"), .addressList("IPv4DnsServer", v6: false, count: 9),
            .u32("IPv6DnsServerCount"), .addressList("IPv6DnsServer", v6: true, count: 11),
            .u32("IPv4Mtu"), .u32("IPv6Mtu"),
        ])
    }

    public enum DeviceServices {
        public static let cid: UInt32 = 16
        public static let response = MBIMLayout("DEVICE_SERVICES", [
            .u32("DeviceServicesCount"), .u32("MaxDssSessions"), .services("DeviceServices", count: 0),
        ])
    }

    // MARK: libmbim's proxy

    public enum ProxyConfiguration {
        public static let cid: UInt32 = 1
        public static let set = MBIMLayout("CONFIGURATION set", [.string("DevicePath"), .u32("Timeout")])
    }
}

/// Value names for the trace and the log.
public enum MBIMNames {
    /// A value table. `name` is the table's name here (`MBIMNames.dataClass`): the typed
    /// views (MBIMMessages) name their value type after it and read its names from it.
    /// A class, built once: a layout field holds a reference, not a copy of every entry.
    public final class Table {
        public let name: String
        public let entries: [(UInt32, String)]
        public let flags: Bool

        init(_ name: String, entries: [(UInt32, String)], flags: Bool) {
            self.name = name
            self.entries = entries
            self.flags = flags
        }

        public func name(_ v: UInt32) -> String? { entries.first { $0.0 == v }?.1 }

        public func describe(_ v: UInt32) -> String {
            guard flags else { return name(v) ?? "\(v)" }
            if v == 0 { return "none" }
            var parts: [String] = []
            var rest = v
            for (bit, n) in entries where bit != 0 && v & bit == bit {
                parts.append(n)
                rest &= ~bit
            }
            if rest != 0 { parts.append("0x" + Text.hex(rest, 8)) }
            return parts.joined(separator: ", ")
        }
    }

    public static let deviceType = Table("deviceType", entries: [(0, "unknown"), (1, "embedded"), (2, "removable"), (3, "remote")], flags: false)
    public static let cellularClass = Table("cellularClass", entries: [(1, "gsm"), (2, "cdma")], flags: true)
    public static let dataClass = Table("dataClass", entries: [(0x1, "gprs"), (0x2, "edge"), (0x4, "umts"), (0x8, "hsdpa"), (0x10, "hsupa"),
                                                  (0x20, "lte"), (0x40, "5g-nsa"), (0x80, "5g-sa"), (0x1_0000, "1xrtt"), (0x2_0000, "1xevdo"),
                                                  (0x8000_0000, "custom")], flags: true)
    public static let readyState = Table("readyState", entries: [(0, "not-initialized"), (1, "initialized"), (2, "sim-not-inserted"), (3, "bad-sim"),
                                                   (4, "failure"), (5, "not-activated"), (6, "device-locked"), (7, "no-esim-profile")], flags: false)
    public static let onOff = Table("onOff", entries: [(0, "off"), (1, "on")], flags: false)
    public static let pinType = Table("pinType", entries: [(0, "unknown"), (1, "custom"), (2, "pin1"), (3, "pin2"), (4, "device-sim-pin"),
                                                (11, "puk1"), (12, "puk2")], flags: false)
    public static let pinOperation = Table("pinOperation", entries: [(0, "enter"), (1, "enable"), (2, "disable"), (3, "change")], flags: false)
    public static let pinState = Table("pinState", entries: [(0, "unlocked"), (1, "locked")], flags: false)
    public static let registerState = Table("registerState", entries: [(0, "unknown"), (1, "deregistered"), (2, "searching"), (3, "home"), (4, "roaming"),
                                                      (5, "partner"), (6, "denied")], flags: false)
    public static let attachAction = Table("attachAction", entries: [(0, "attach"), (1, "detach")], flags: false)
    public static let packetServiceState = Table("packetServiceState", entries: [(0, "unknown"), (1, "attaching"), (2, "attached"), (3, "detaching"), (4, "detached")],
                                                 flags: false)
    public static let activationCommand = Table("activationCommand", entries: [(0, "deactivate"), (1, "activate")], flags: false)
    public static let activationState = Table("activationState", entries: [(0, "unknown"), (1, "activated"), (2, "activating"), (3, "deactivated"), (4, "deactivating")],
                                              flags: false)
    public static let auth = Table("auth", entries: [(0, "none"), (1, "pap"), (2, "chap"), (3, "mschapv2")], flags: false)
    public static let ipType = Table("ipType", entries: [(0, "default"), (1, "ipv4"), (2, "ipv6"), (3, "ipv4v6"), (4, "ipv4-and-ipv6")], flags: false)
    public static let ipAvailable = Table("ipAvailable", entries: [(1, "address"), (2, "gateway"), (4, "dns"), (8, "mtu")], flags: true)
    public static let nwError = Table("nwError", entries: [(0, "none"), (2, "imsi-unknown-in-hlr"), (3, "illegal-ms"), (6, "illegal-me"),
                                                (7, "gprs-not-allowed"), (8, "gprs-and-non-gprs-not-allowed"), (11, "plmn-not-allowed"),
                                                (12, "location-area-not-allowed"), (13, "roaming-not-allowed-in-location-area"),
                                                (14, "gprs-not-allowed-in-plmn"), (15, "no-cells-in-location-area"), (17, "network-failure"),
                                                (22, "congestion"), (26, "insufficient-resources"), (27, "missing-or-unknown-apn"),
                                                (29, "user-authentication-failed"), (30, "activation-rejected-by-ggsn-or-gw"),
                                                (31, "activation-rejected-unspecified"), (32, "service-option-not-supported"),
                                                (33, "requested-service-option-not-subscribed"), (34, "service-option-temporarily-out-of-order"),
                                                (36, "regular-deactivation")], flags: false)

    public static let statusTable = Table("statusTable", entries: [
        (0, "None"), (1, "Busy"), (2, "Failure"), (3, "SimNotInserted"), (4, "BadSim"), (5, "PinRequired"), (6, "PinDisabled"),
        (7, "NotRegistered"), (8, "ProvidersNotFound"), (9, "NoDeviceSupport"), (10, "ProviderNotVisible"),
        (11, "DataClassNotAvailable"), (12, "PacketServiceDetached"), (13, "MaxActivatedContexts"), (14, "NotInitialized"),
        (15, "VoiceCallInProgress"), (16, "ContextNotActivated"), (17, "ServiceNotActivated"), (18, "InvalidAccessString"),
        (19, "InvalidUserNamePwd"), (20, "RadioPowerOff"), (21, "InvalidParameters"), (22, "ReadFailure"), (23, "WriteFailure"),
        (25, "NoPhonebook"), (26, "ParameterTooLong"), (27, "StkBusy"), (28, "OperationNotAllowed"), (29, "MemoryFailure"),
        (30, "InvalidMemoryIndex"), (31, "MemoryFull"), (32, "FilterNotSupported"), (33, "DssInstanceLimit"),
        (34, "InvalidDeviceServiceOperation"), (35, "AuthIncorrectAutn"), (36, "AuthSyncFailure"), (37, "AuthAmfNotSet"),
        (38, "ContextNotSupported"),
    ], flags: false)
    public static let protocolTable = Table("protocolTable", entries: [(0, "Invalid"), (1, "TimeoutFragment"), (2, "FragmentOutOfSequence"), (3, "LengthMismatch"),
                                               (4, "DuplicatedTid"), (5, "NotOpened"), (6, "Unknown"), (7, "Cancel"), (8, "MaxTransfer")], flags: false)

    public static func status(_ s: UInt32) -> String { statusTable.name(s) ?? "Unknown" }
    public static func protocolError(_ e: UInt32) -> String { protocolTable.name(e) ?? "Unknown" }
}

/// What qcm-fuzz and the fuzz test feed arbitrary bytes through: message and fragment
/// parsing, the trace, and every layout's decoder and describer.
public enum MBIMFuzz {
    public static func one(_ bytes: [UInt8]) {
        if case .success(let m) = MBIMMessage.decode(bytes) {
            _ = MBIMTrace.describe(m)
            _ = MBIMTrace.masked(bytes, m)
        }
        if case .success(let f) = MBIMMessage.fragment(bytes) {
            _ = MBIMMessage.assemble(kind: f.kind, transactionID: f.transactionID, payload: f.payload)
        }
        for e in MBIMCatalogue.all {
            for layout in [e.query, e.set, e.response].compactMap({ $0 }) {
                if case .success(let v) = layout.decode(bytes) { _ = layout.describe(v); _ = layout.encode(v) }
            }
        }
        _ = MBIMText.string(bytes)
    }
}
