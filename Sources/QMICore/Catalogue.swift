// The message catalogue: every QMI message qcm speaks, defined once as data.
// Encoders (QMIMessage.set), decoders (QMIMessage.value), the simulator and the
// trace printer all read these definitions and nothing else.
//
// TLV ids and layouts follow the public QMI definitions (libqmi's
// data/qmi-service-*.json); trace names follow quectel-CM's -v output.

public enum QMICatalogue {
    public static let all: [QMIMessageSpec] = CTL.all + WDS.all + DMS.all + NAS.all + UIM.all + WDA.all

    public static func find(service: QMIService, id: UInt16) -> QMIMessageSpec? {
        for m in all where m.service == service && m.id == id { return m }
        return nil
    }

    public static func find(name: String) -> QMIMessageSpec? {
        let wanted = Text.lowercasedASCII(name)
        for m in all where Text.lowercasedASCII(m.fullName).equals(wanted) || Text.lowercasedASCII(m.traceName).equals(wanted) {
            return m
        }
        return nil
    }
}

private let serviceField = QMIType.enum8(QMIEnums.service)

public enum CTL {
    public static let setInstanceID = QMIMessageSpec(
        .ctl, 0x0020, "Set Instance ID", trace: "QMICTL_SET_INSTANCE_ID",
        request: [TLVSpec(0x01, "ID", .u8)],
        response: [TLVSpec(0x01, "Link ID", .u16)])
    public static let getVersionInfo = QMIMessageSpec(
        .ctl, 0x0021, "Get Version Info", trace: "QMICTL_GET_VERSION",
        request: [TLVSpec(0x01, "Service", serviceField)],
        response: [TLVSpec(0x01, "Service List", .array8(.structure([
            QMIField("Service", serviceField), QMIField("Major", .u16), QMIField("Minor", .u16),
        ])))])
    public static let allocateClientID = QMIMessageSpec(
        .ctl, 0x0022, "Allocate Client ID", trace: "QMICTL_GET_CLIENT_ID",
        request: [TLVSpec(0x01, "Service", serviceField)],
        response: [TLVSpec(0x01, "Allocation", .structure([QMIField("Service", serviceField), QMIField("Client ID", .u8)]))])
    public static let releaseClientID = QMIMessageSpec(
        .ctl, 0x0023, "Release Client ID", trace: "QMICTL_RELEASE_CLIENT_ID",
        request: [TLVSpec(0x01, "Release", .structure([QMIField("Service", serviceField), QMIField("Client ID", .u8)]))],
        response: [TLVSpec(0x01, "Release", .structure([QMIField("Service", serviceField), QMIField("Client ID", .u8)]))])
    public static let revokeClientID = QMIMessageSpec(
        .ctl, 0x0024, "Revoke Client ID", trace: "QMICTL_REVOKE_CLIENT_ID",
        indication: [TLVSpec(0x01, "Revoked", .structure([QMIField("Service", serviceField), QMIField("Client ID", .u8)]))],
        indicationOnly: true)
    public static let invalidClientID = QMIMessageSpec(
        .ctl, 0x0025, "Invalid Client ID", trace: "QMICTL_INVALID_CLIENT_ID",
        indication: [TLVSpec(0x01, "Client", .structure([QMIField("Service", serviceField), QMIField("Client ID", .u8)]))],
        indicationOnly: true)
    public static let setDataFormat = QMIMessageSpec(
        .ctl, 0x0026, "Set Data Format", trace: "QMICTL_SET_DATA_FORMAT",
        request: [TLVSpec(0x01, "Format", .enum8(QMIEnums.ctlDataFormat)),
                  TLVSpec(0x10, "Protocol", .enum16(QMIEnums.ctlLinkProtocol))],
        response: [TLVSpec(0x10, "Protocol", .enum16(QMIEnums.ctlLinkProtocol))])
    public static let sync = QMIMessageSpec(
        .ctl, 0x0027, "Sync", trace: "QMICTL_SYNC", indication: [])
    /// libqmi's qmi-proxy handshake: the first message a proxy client sends.
    public static let internalProxyOpen = QMIMessageSpec(
        .ctl, 0xff00, "Internal Proxy Open", trace: "QMICTL_INTERNAL_PROXY_OPEN",
        request: [TLVSpec(0x01, "Device Path", .string)])

    public static let all = [setInstanceID, getVersionInfo, allocateClientID, releaseClientID, revokeClientID,
                             invalidClientID, setDataFormat, sync, internalProxyOpen]
}

private let pinRetries = QMIType.structure([QMIField("Verify Retries Left", .u8), QMIField("Unblock Retries Left", .u8)])
private let dmsPinStatus = QMIType.structure([
    QMIField("Status", .enum8(QMIEnums.dmsPinStatus)),
    QMIField("Verify Retries Left", .u8), QMIField("Unblock Retries Left", .u8),
])

public enum DMS {
    public static let getManufacturer = QMIMessageSpec(
        .dms, 0x0021, "Get Manufacturer", trace: "QMIDMS_GET_DEVICE_MFR",
        response: [TLVSpec(0x01, "Manufacturer", .string)])
    public static let getModel = QMIMessageSpec(
        .dms, 0x0022, "Get Model", trace: "QMIDMS_GET_DEVICE_MODEL_ID",
        response: [TLVSpec(0x01, "Model", .string)])
    public static let getRevision = QMIMessageSpec(
        .dms, 0x0023, "Get Revision", trace: "QMIDMS_GET_DEVICE_REV_ID",
        response: [TLVSpec(0x01, "Revision", .string)])
    public static let getIDs = QMIMessageSpec(
        .dms, 0x0025, "Get IDs", trace: "QMIDMS_GET_DEVICE_SERIAL_NUMBERS",
        response: [TLVSpec(0x10, "ESN", .string), TLVSpec(0x11, "IMEI", .string),
                   TLVSpec(0x12, "MEID", .string), TLVSpec(0x13, "IMEI SV", .string)])
    public static let uimVerifyPIN = QMIMessageSpec(
        .dms, 0x0028, "UIM Verify PIN", trace: "QMIDMS_UIM_VERIFY_PIN",
        request: [TLVSpec(0x01, "Info", .structure([QMIField("PIN ID", .enum8(QMIEnums.dmsPinId)),
                                                     QMIField("PIN", .string8)]), secret: true)],
        response: [TLVSpec(0x10, "Retries", pinRetries)])
    public static let uimGetPINStatus = QMIMessageSpec(
        .dms, 0x002b, "UIM Get PIN Status", trace: "QMIDMS_UIM_GET_PIN_STATUS",
        response: [TLVSpec(0x11, "PIN1 Status", dmsPinStatus), TLVSpec(0x12, "PIN2 Status", dmsPinStatus)])
    public static let getOperatingMode = QMIMessageSpec(
        .dms, 0x002d, "Get Operating Mode", trace: "QMIDMS_GET_OPERATING_MODE",
        response: [TLVSpec(0x01, "Mode", .enum8(QMIEnums.dmsOperatingMode)),
                   TLVSpec(0x10, "Offline Reason", .u16),
                   TLVSpec(0x11, "Hardware Restricted", .boolean)])
    public static let setOperatingMode = QMIMessageSpec(
        .dms, 0x002e, "Set Operating Mode", trace: "QMIDMS_SET_OPERATING_MODE",
        request: [TLVSpec(0x01, "Mode", .enum8(QMIEnums.dmsOperatingMode))])
    public static let uimGetICCID = QMIMessageSpec(
        .dms, 0x003c, "UIM Get ICCID", trace: "QMIDMS_UIM_GET_ICCID",
        response: [TLVSpec(0x01, "ICCID", .string)])

    public static let all = [getManufacturer, getModel, getRevision, getIDs, uimVerifyPIN, uimGetPINStatus,
                             getOperatingMode, setOperatingMode, uimGetICCID]
}

private let radioInterfaces = QMIType.array8(.senum8(QMIEnums.nasRadioInterface))
private let servingSystemTLV = TLVSpec(0x01, "Serving System", .structure([
    QMIField("Registration State", .enum8(QMIEnums.nasRegistrationState)),
    QMIField("CS Attach State", .enum8(QMIEnums.nasAttachState)),
    QMIField("PS Attach State", .enum8(QMIEnums.nasAttachState)),
    QMIField("Selected Network", .enum8(QMIEnums.nasNetworkType)),
    QMIField("Radio Interfaces", radioInterfaces),
]))
private let plmnTLV = TLVSpec(0x12, "Current PLMN", .structure([
    QMIField("MCC", .u16), QMIField("MNC", .u16), QMIField("Description", .string8),
]))
private let serviceStatus = QMIType.structure([
    QMIField("Service Status", .enum8(QMIEnums.nasServiceStatus)),
    QMIField("True Service Status", .enum8(QMIEnums.nasServiceStatus)),
    QMIField("Preferred Data Path", .boolean),
])
/// The common head of the GSM/WCDMA/LTE/NR5G system info TLVs (v2 layouts).
private func systemInfo(_ tail: [QMIField]) -> QMIType {
    .structure([
        QMIField("Domain Valid", .boolean), QMIField("Domain", .enum8(QMIEnums.nasServiceDomain)),
        QMIField("Service Capability Valid", .boolean), QMIField("Service Capability", .enum8(QMIEnums.nasServiceDomain)),
        QMIField("Roaming Status Valid", .boolean), QMIField("Roaming Status", .enum8(QMIEnums.nasRoamingStatus)),
        QMIField("Forbidden Valid", .boolean), QMIField("Forbidden", .boolean),
        QMIField("LAC Valid", .boolean), QMIField("LAC", .u16),
        QMIField("CID Valid", .boolean), QMIField("CID", .u32),
        QMIField("Registration Reject Info Valid", .boolean),
        QMIField("Registration Reject Domain", .enum8(QMIEnums.nasServiceDomain)),
        QMIField("Registration Reject Cause", .u8),
        QMIField("Network ID Valid", .boolean), QMIField("MCC", .fixedString(3)), QMIField("MNC", .fixedString(3)),
    ] + tail)
}
private let sysInfoTLVs: [TLVSpec] = [
    TLVSpec(0x12, "GSM Service Status", serviceStatus),
    TLVSpec(0x13, "WCDMA Service Status", serviceStatus),
    TLVSpec(0x14, "LTE Service Status", serviceStatus),
    TLVSpec(0x17, "GSM System Info", systemInfo([
        QMIField("EGPRS Support Valid", .boolean), QMIField("EGPRS Support", .boolean),
        QMIField("DTM Support Valid", .boolean), QMIField("DTM Support", .boolean)])),
    TLVSpec(0x18, "WCDMA System Info", systemInfo([
        QMIField("HS Call Status Valid", .boolean), QMIField("HS Call Status", .u8),
        QMIField("HS Service Valid", .boolean), QMIField("HS Service", .u8),
        QMIField("Primary Scrambling Code Valid", .boolean), QMIField("Primary Scrambling Code", .u16)])),
    TLVSpec(0x19, "LTE System Info", systemInfo([QMIField("TAC Valid", .boolean), QMIField("TAC", .u16)])),
    TLVSpec(0x21, "LTE Voice Support", .boolean),
    TLVSpec(0x4a, "NR5G Service Status", serviceStatus),
    TLVSpec(0x4b, "NR5G System Info", systemInfo([QMIField("TAC Valid", .boolean), QMIField("TAC", .u16)])),
]

public enum NAS {
    public static let getServingSystem = QMIMessageSpec(
        .nas, 0x0024, "Get Serving System", trace: "QMINAS_GET_SERVING_SYSTEM",
        response: [servingSystemTLV,
                   TLVSpec(0x10, "Roaming Indicator", .enum8(QMIEnums.nasRoamingIndicator)),
                   TLVSpec(0x11, "Data Service Capability", .array8(.enum8(QMIEnums.nasDataCapability))),
                   plmnTLV,
                   TLVSpec(0x1c, "LAC 3GPP", .u16),
                   TLVSpec(0x1d, "CID 3GPP", .u32),
                   TLVSpec(0x24, "LTE TAC", .u16)],
        indication: [servingSystemTLV,
                     TLVSpec(0x10, "Roaming Indicator", .enum8(QMIEnums.nasRoamingIndicator)),
                     TLVSpec(0x11, "Data Service Capability", .array8(.enum8(QMIEnums.nasDataCapability))),
                     plmnTLV,
                     TLVSpec(0x1d, "LAC 3GPP", .u16),
                     TLVSpec(0x1e, "CID 3GPP", .u32),
                     TLVSpec(0x25, "LTE TAC", .u16)])
    public static let getSystemInfo = QMIMessageSpec(
        .nas, 0x004d, "Get System Info", trace: "QMINAS_GET_SYS_INFO", response: sysInfoTLVs)
    public static let systemInfoIndication = QMIMessageSpec(
        .nas, 0x004e, "System Info", trace: "QMINAS_SYS_INFO", indication: sysInfoTLVs, indicationOnly: true)
    public static let getSignalInfo = QMIMessageSpec(
        .nas, 0x004f, "Get Signal Info", trace: "QMINAS_GET_SIG_INFO",
        response: [TLVSpec(0x12, "GSM Signal Strength", .i8),
                   TLVSpec(0x13, "WCDMA Signal Strength", .structure([QMIField("RSSI", .i8), QMIField("ECIO", .i16)])),
                   TLVSpec(0x14, "LTE Signal Strength", .structure([
                       QMIField("RSSI", .i8), QMIField("RSRQ", .i8), QMIField("RSRP", .i16), QMIField("SNR", .i16)])),
                   TLVSpec(0x17, "5G Signal Strength", .structure([QMIField("RSRP", .i16), QMIField("SNR", .i16)]))])

    public static let all = [getServingSystem, getSystemInfo, systemInfoIndication, getSignalInfo]
}

private let uimSession = TLVSpec(0x01, "Session", .structure([
    QMIField("Session Type", .enum8(QMIEnums.uimSessionType)),
    QMIField("Application Identifier", .bytes8),
]))
private let uimCardStatus = QMIType.structure([
    QMIField("Index GW Primary", .u16), QMIField("Index 1X Primary", .u16),
    QMIField("Index GW Secondary", .u16), QMIField("Index 1X Secondary", .u16),
    QMIField("Cards", .array8(.structure([
        QMIField("Card State", .enum8(QMIEnums.uimCardState)),
        QMIField("UPIN State", .enum8(QMIEnums.uimPinState)),
        QMIField("UPIN Retries", .u8), QMIField("UPUK Retries", .u8),
        QMIField("Error Code", .enum8(QMIEnums.uimCardError)),
        QMIField("Applications", .array8(.structure([
            QMIField("Type", .enum8(QMIEnums.uimApplicationType)),
            QMIField("State", .enum8(QMIEnums.uimApplicationState)),
            QMIField("Personalization State", .u8),
            QMIField("Personalization Feature", .u8),
            QMIField("Personalization Retries", .u8),
            QMIField("Personalization Unblock Retries", .u8),
            QMIField("Application Identifier", .bytes8),
            QMIField("UPIN Replaces PIN1", .boolean),
            QMIField("PIN1 State", .enum8(QMIEnums.uimPinState)),
            QMIField("PIN1 Retries", .u8), QMIField("PUK1 Retries", .u8),
            QMIField("PIN2 State", .enum8(QMIEnums.uimPinState)),
            QMIField("PIN2 Retries", .u8), QMIField("PUK2 Retries", .u8),
        ]))),
    ]))),
])

public enum UIM {
    public static let verifyPIN = QMIMessageSpec(
        .uim, 0x0026, "Verify PIN", trace: "QMIUIM_VERIFY_PIN",
        request: [uimSession,
                  TLVSpec(0x02, "Info", .structure([QMIField("PIN ID", .enum8(QMIEnums.uimPinId)),
                                                    QMIField("PIN", .string8)]), secret: true)],
        response: [TLVSpec(0x10, "Retries", pinRetries),
                   TLVSpec(0x13, "Card Result", .structure([QMIField("SW1", .u8), QMIField("SW2", .u8)]))])
    public static let getCardStatus = QMIMessageSpec(
        .uim, 0x002f, "Get Card Status", trace: "QMIUIM_GET_CARD_STATUS",
        response: [TLVSpec(0x10, "Card Status", uimCardStatus)])
    public static let statusChange = QMIMessageSpec(
        .uim, 0x0032, "Card Status", trace: "QMIUIM_STATUS_CHANGE",
        indication: [TLVSpec(0x10, "Card Status", uimCardStatus)], indicationOnly: true)

    public static let all = [verifyPIN, getCardStatus, statusChange]
}

private let endpointInfo = QMIType.structure([
    QMIField("Endpoint Type", .enum32(QMIEnums.dataEndpointType)), QMIField("Interface Number", .u32),
])
private let linkProtocol = QMIType.enum32(QMIEnums.wdaLinkLayerProtocol)
private let aggregation = QMIType.enum32(QMIEnums.wdaAggregationProtocol)
private let dataFormatOut: [TLVSpec] = [
    TLVSpec(0x10, "QoS Format", .boolean),
    TLVSpec(0x11, "Link Layer Protocol", linkProtocol),
    TLVSpec(0x12, "Uplink Data Aggregation Protocol", aggregation),
    TLVSpec(0x13, "Downlink Data Aggregation Protocol", aggregation),
    TLVSpec(0x14, "NDP Signature", .u32),
    TLVSpec(0x15, "Downlink Data Aggregation Max Datagrams", .u32),
    TLVSpec(0x16, "Downlink Data Aggregation Max Size", .u32),
    TLVSpec(0x17, "Uplink Data Aggregation Max Datagrams", .u32),
    TLVSpec(0x18, "Uplink Data Aggregation Max Size", .u32),
    TLVSpec(0x1a, "Downlink Minimum Padding", .u32),
    TLVSpec(0x1b, "Flow Control", .u8),
]

public enum WDA {
    public static let setDataFormat = QMIMessageSpec(
        .wda, 0x0020, "Set Data Format", trace: "QMIWDS_ADMIN_SET_DATA_FORMAT",
        request: [TLVSpec(0x10, "QoS Format", .boolean),
                  TLVSpec(0x11, "Link Layer Protocol", linkProtocol),
                  TLVSpec(0x12, "Uplink Data Aggregation Protocol", aggregation),
                  TLVSpec(0x13, "Downlink Data Aggregation Protocol", aggregation),
                  TLVSpec(0x14, "NDP Signature", .u32),
                  TLVSpec(0x15, "Downlink Data Aggregation Max Datagrams", .u32),
                  TLVSpec(0x16, "Downlink Data Aggregation Max Size", .u32),
                  TLVSpec(0x17, "Endpoint Info", endpointInfo),
                  TLVSpec(0x1b, "Uplink Data Aggregation Max Datagrams", .u32),
                  TLVSpec(0x1c, "Uplink Data Aggregation Max Size", .u32)],
        response: dataFormatOut)
    public static let getDataFormat = QMIMessageSpec(
        .wda, 0x0021, "Get Data Format", trace: "QMIWDS_ADMIN_GET_DATA_FORMAT",
        request: [TLVSpec(0x10, "Endpoint Info", endpointInfo)],
        response: dataFormatOut)

    public static let all = [setDataFormat, getDataFormat]
}

private let callEndReason = TLVSpec(0x10, "Call End Reason", .enum16(QMIEnums.wdsCallEndReason))
private let verboseCallEndReason = TLVSpec(0x11, "Verbose Call End Reason", .structure([
    QMIField("Type", .enum16(QMIEnums.wdsVerboseType)), QMIField("Reason", .i16),
]))
private let profileID = QMIType.structure([
    QMIField("Profile Type", .enum8(QMIEnums.wdsProfileType)), QMIField("Profile Index", .u8),
])
private let profileSettings: [TLVSpec] = [
    TLVSpec(0x10, "Profile Name", .string),
    TLVSpec(0x11, "PDP Type", .enum8(QMIEnums.wdsPdpType)),
    TLVSpec(0x14, "APN Name", .string),
    TLVSpec(0x15, "Primary IPv4 DNS Address", .ipv4),
    TLVSpec(0x16, "Secondary IPv4 DNS Address", .ipv4),
    TLVSpec(0x1b, "Username", .string),
    TLVSpec(0x1c, "Password", .string, secret: true),
    TLVSpec(0x1d, "Authentication", .flags(.w8, QMIEnums.wdsAuthentication)),
]
private let profileError = TLVSpec(0xe0, "Extended Error Code", .enum16(QMIEnums.wdsProfileError))
private let ipv6WithPrefix = QMIType.structure([QMIField("Address", .ipv6), QMIField("Prefix Length", .u8)])
private let dataBearer = QMIType.structure([
    QMIField("Network Type", .enum8(QMIEnums.wdsNetworkType)), QMIField("RAT Mask", .u32), QMIField("SO Mask", .u32),
])

public enum WDS {
    public static let setEventReport = QMIMessageSpec(
        .wds, 0x0001, "Set Event Report", trace: "QMIWDS_SET_EVENT_REPORT",
        request: [TLVSpec(0x10, "Channel Rate", .boolean),
                  TLVSpec(0x12, "Data Bearer Technology", .boolean),
                  TLVSpec(0x13, "Dormancy Status", .boolean),
                  TLVSpec(0x15, "Current Data Bearer Technology", .boolean),
                  TLVSpec(0x17, "Data Call Status", .boolean)],
        indication: [TLVSpec(0x16, "Channel Rates", .structure([QMIField("TX Rate bps", .u32), QMIField("RX Rate bps", .u32)])),
                     TLVSpec(0x17, "Data Bearer Technology", .senum8(QMIEnums.wdsDataBearerTechnology)),
                     TLVSpec(0x18, "Dormancy Status", .enum8(QMIEnums.wdsDormancyStatus)),
                     TLVSpec(0x19, "TX Bytes OK", .u64),
                     TLVSpec(0x1a, "RX Bytes OK", .u64),
                     TLVSpec(0x1d, "Current Data Bearer Technology", dataBearer),
                     TLVSpec(0x1f, "Data Call Status", .enum8(QMIEnums.wdsDataCallStatus))])
    public static let startNetwork = QMIMessageSpec(
        .wds, 0x0020, "Start Network", trace: "QMIWDS_START_NETWORK_INTERFACE",
        request: [TLVSpec(0x10, "Primary DNS Preference", .ipv4),
                  TLVSpec(0x11, "Secondary DNS Preference", .ipv4),
                  TLVSpec(0x14, "APN", .string),
                  TLVSpec(0x15, "IPv4 Address Preference", .ipv4),
                  TLVSpec(0x16, "Authentication Preference", .flags(.w8, QMIEnums.wdsAuthentication)),
                  TLVSpec(0x17, "Username", .string),
                  TLVSpec(0x18, "Password", .string, secret: true),
                  TLVSpec(0x19, "IP Family Preference", .enum8(QMIEnums.wdsIpFamily)),
                  TLVSpec(0x30, "Technology Preference", .flags(.w8, QMIEnums.wdsTechnologyPreference)),
                  TLVSpec(0x31, "Profile Index 3GPP", .u8),
                  TLVSpec(0x32, "Profile Index 3GPP2", .u8),
                  TLVSpec(0x33, "Enable Autoconnect", .boolean),
                  TLVSpec(0x34, "Extended Technology Preference", .enum16(QMIEnums.wdsExtendedTechnologyPreference)),
                  TLVSpec(0x35, "Call Type", .enum8(QMIEnums.wdsCallType))],
        response: [TLVSpec(0x01, "Packet Data Handle", .u32), callEndReason, verboseCallEndReason])
    public static let stopNetwork = QMIMessageSpec(
        .wds, 0x0021, "Stop Network", trace: "QMIWDS_STOP_NETWORK_INTERFACE",
        request: [TLVSpec(0x01, "Packet Data Handle", .u32), TLVSpec(0x10, "Disable Autoconnect", .boolean)])
    public static let getPacketServiceStatus = QMIMessageSpec(
        .wds, 0x0022, "Get Packet Service Status", trace: "QMIWDS_GET_PKT_SRVC_STATUS",
        response: [TLVSpec(0x01, "Connection Status", .enum8(QMIEnums.wdsConnectionStatus))],
        indication: [TLVSpec(0x01, "Connection Status", .structure([
                         QMIField("Status", .enum8(QMIEnums.wdsConnectionStatus)),
                         QMIField("Reconfiguration Required", .boolean)])),
                     callEndReason, verboseCallEndReason,
                     TLVSpec(0x12, "IP Family", .enum8(QMIEnums.wdsIpFamily)),
                     TLVSpec(0x14, "Bearer ID", .u8),
                     TLVSpec(0x15, "XLAT Capability", .boolean)])
    public static let createProfile = QMIMessageSpec(
        .wds, 0x0027, "Create Profile", trace: "QMIWDS_CREATE_PROFILE",
        request: [TLVSpec(0x01, "Profile Type", .enum8(QMIEnums.wdsProfileType))] + profileSettings,
        response: [TLVSpec(0x01, "Profile Identifier", profileID), profileError])
    public static let modifyProfile = QMIMessageSpec(
        .wds, 0x0028, "Modify Profile", trace: "QMIWDS_MODIFY_PROFILE_SETTINGS",
        request: [TLVSpec(0x01, "Profile Identifier", profileID)] + profileSettings,
        response: [profileError])
    public static let getProfileSettings = QMIMessageSpec(
        .wds, 0x002b, "Get Profile Settings", trace: "QMIWDS_GET_PROFILE_SETTINGS",
        request: [TLVSpec(0x01, "Profile Identifier", profileID)],
        response: profileSettings + [profileError])
    public static let getRuntimeSettings = QMIMessageSpec(
        .wds, 0x002d, "Get Runtime Settings", trace: "QMIWDS_GET_RUNTIME_SETTINGS",
        request: [TLVSpec(0x10, "Requested Settings", .flags(.w32, QMIEnums.wdsRequestedSettings))],
        response: [TLVSpec(0x10, "Profile Name", .string),
                   TLVSpec(0x11, "PDP Type", .enum8(QMIEnums.wdsPdpType)),
                   TLVSpec(0x14, "APN Name", .string),
                   TLVSpec(0x15, "IPv4 Primary DNS", .ipv4),
                   TLVSpec(0x16, "IPv4 Secondary DNS", .ipv4),
                   TLVSpec(0x1b, "Username", .string),
                   TLVSpec(0x1d, "Authentication", .flags(.w8, QMIEnums.wdsAuthentication)),
                   TLVSpec(0x1e, "IPv4 Address", .ipv4),
                   TLVSpec(0x1f, "Profile ID", profileID),
                   TLVSpec(0x20, "IPv4 Gateway", .ipv4),
                   TLVSpec(0x21, "IPv4 Subnet Mask", .ipv4),
                   TLVSpec(0x25, "IPv6 Address", ipv6WithPrefix),
                   TLVSpec(0x26, "IPv6 Gateway", ipv6WithPrefix),
                   TLVSpec(0x27, "IPv6 Primary DNS", .ipv6),
                   TLVSpec(0x28, "IPv6 Secondary DNS", .ipv6),
                   TLVSpec(0x29, "MTU", .u32),
                   TLVSpec(0x2a, "Domain Names", .array8(.string16)),
                   TLVSpec(0x2b, "IP Family", .enum8(QMIEnums.wdsIpFamily))])
    public static let getDataBearerTechnology = QMIMessageSpec(
        .wds, 0x0037, "Get Data Bearer Technology", trace: "QMIWDS_GET_DATA_BEARER",
        response: [TLVSpec(0x01, "Current", .senum8(QMIEnums.wdsDataBearerTechnology)),
                   TLVSpec(0x10, "Last", .senum8(QMIEnums.wdsDataBearerTechnology))])
    public static let getCurrentDataBearerTechnology = QMIMessageSpec(
        .wds, 0x0044, "Get Current Data Bearer Technology", trace: "QMIWDS_GET_CURRENT_DATA_BEARER",
        response: [TLVSpec(0x01, "Current", dataBearer), TLVSpec(0x10, "Last", dataBearer)])
    public static let setIPFamily = QMIMessageSpec(
        .wds, 0x004d, "Set IP Family", trace: "QMIWDS_SET_CLIENT_IP_FAMILY_PREF",
        request: [TLVSpec(0x01, "Preference", .enum8(QMIEnums.wdsIpFamily))])
    public static let bindMuxDataPort = QMIMessageSpec(
        .wds, 0x00a2, "Bind Mux Data Port", trace: "QMIWDS_BIND_MUX_DATA_PORT",
        request: [TLVSpec(0x10, "Endpoint Info", endpointInfo),
                  TLVSpec(0x11, "Mux ID", .u8),
                  TLVSpec(0x13, "Client Type", .enum32(QMIEnums.wdsClientType))])

    public static let all = [setEventReport, startNetwork, stopNetwork, getPacketServiceStatus, createProfile,
                             modifyProfile, getProfileSettings, getRuntimeSettings, getDataBearerTechnology,
                             getCurrentDataBearerTechnology, setIPFamily, bindMuxDataPort]
}

/// Names for the verbose call-end reason, whose meaning depends on its type.
public enum CallEndReason {
    public static func verboseName(type: UInt16, reason: Int16) -> String {
        let r = Int64(reason)
        let table: QMIEnum?
        switch type {
        case 1: table = QMIEnums.wdsVerboseMip
        case 2: table = QMIEnums.wdsVerboseInternal
        case 3: table = QMIEnums.wdsVerboseCm
        case 6: table = QMIEnums.wdsVerbose3gpp
        case 7: table = QMIEnums.wdsVerbosePpp
        case 8: table = QMIEnums.wdsVerboseEhrpd
        case 9: table = QMIEnums.wdsVerboseIpv6
        default: table = nil
        }
        let typeName = QMIEnums.wdsVerboseType.name(of: Int64(type)) ?? "type-\(type)"
        let reasonName = table?.name(of: r) ?? "reason-\(reason)"
        return "\(typeName)/\(reasonName) (\(type)/\(reason))"
    }

    public static func name(_ code: UInt16) -> String {
        "\(QMIEnums.wdsCallEndReason.name(of: Int64(code)) ?? "unknown") (\(code))"
    }
}
