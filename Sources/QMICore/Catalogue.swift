// The message catalogue: every QMI message qcm speaks, defined once as data.
// Encoders (QMIMessage.set), decoders (QMIMessage.value), the simulator and the
// trace printer all read these definitions and nothing else.
//
// TLV ids and layouts follow the public QMI definitions (libqmi's
// data/qmi-service-*.json); trace names follow quectel-CM's -v output.
import Base

public enum QMICatalogue {
    /// Every message in `text`, parsed on first use.
    public static let all: [QMIMessageSpec] = text.withUTF8Buffer { QMISchema.messages($0) }

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

    /// The definitions named in CTL, WDS, DMS, NAS, UIM and WDA below. A message missing from
    /// the text yields an empty definition whose `schemaProblem` says so (the tests check
    /// every name). Not inlined: the accessors stay one call each.
    @inline(never)
    public static func spec(_ service: QMIService, _ id: UInt16) -> QMIMessageSpec {
        find(service: service, id: id)
            ?? QMIMessageSpec(service: service, id: id, name: "Unknown", traceName: "QMI_UNKNOWN", request: [], response: [],
                              indication: nil, hasRequest: true, schemaProblem: "not in the catalogue")
    }

    /// The catalogue, in the notation described in SchemaText.swift: "$name" blocks are
    /// shared layouts, every other block is one message.
    static let text: StaticString = """
        $client = {Service: enum8 service, Client ID: u8}
        $pinRetries = {Verify Retries Left: u8, Unblock Retries Left: u8}
        $dmsPinStatus = {Status: enum8 dmsPinStatus, Verify Retries Left: u8, Unblock Retries Left: u8}
        $servingSystem = 01 Serving System: {
            Registration State: enum8 nasRegistrationState, CS Attach State: enum8 nasAttachState,
            PS Attach State: enum8 nasAttachState, Selected Network: enum8 nasNetworkType,
            Radio Interfaces: array8 senum8 nasRadioInterface}
          10 Roaming Indicator: enum8 nasRoamingIndicator
          11 Data Service Capability: array8 enum8 nasDataCapability
          12 Current PLMN: {MCC: u16, MNC: u16, Description: string8}
        $serviceStatus = {Service Status: enum8 nasServiceStatus, True Service Status: enum8 nasServiceStatus,
          Preferred Data Path: bool}
        $systemInfoHead = Domain Valid: bool, Domain: enum8 nasServiceDomain,
          Service Capability Valid: bool, Service Capability: enum8 nasServiceDomain,
          Roaming Status Valid: bool, Roaming Status: enum8 nasRoamingStatus,
          Forbidden Valid: bool, Forbidden: bool, LAC Valid: bool, LAC: u16, CID Valid: bool, CID: u32,
          Registration Reject Info Valid: bool, Registration Reject Domain: enum8 nasServiceDomain,
          Registration Reject Cause: u8, Network ID Valid: bool, MCC: fixed 3, MNC: fixed 3
        $systemInfo = 12 GSM Service Status: $serviceStatus
          13 WCDMA Service Status: $serviceStatus
          14 LTE Service Status: $serviceStatus
          17 GSM System Info: {$systemInfoHead, EGPRS Support Valid: bool, EGPRS Support: bool,
            DTM Support Valid: bool, DTM Support: bool}
          18 WCDMA System Info: {$systemInfoHead, HS Call Status Valid: bool, HS Call Status: u8,
            HS Service Valid: bool, HS Service: u8,
            Primary Scrambling Code Valid: bool, Primary Scrambling Code: u16}
          19 LTE System Info: {$systemInfoHead, TAC Valid: bool, TAC: u16}
          21 LTE Voice Support: bool
          4a NR5G Service Status: $serviceStatus
          4b NR5G System Info: {$systemInfoHead, TAC Valid: bool, TAC: u16}
        $signalInfo = 10 CDMA Signal Strength: {RSSI: i8, ECIO: i16}
          11 HDR Signal Strength: {RSSI: i8, ECIO: i16, SINR: enum8 nasEvdoSinrLevel, IO: i32}
          12 GSM Signal Strength: i8
          13 WCDMA Signal Strength: {RSSI: i8, ECIO: i16}
          14 LTE Signal Strength: {RSSI: i8, RSRQ: i8, RSRP: i16, SNR: i16}
          15 TDMA Signal Strength: i8
          17 5G Signal Strength: {RSRP: i16, SNR: i16}
          18 5G Signal Strength Extended: i16
          19 WCDMA RSCP: i16
        $cardStatus = {Index GW Primary: u16, Index 1X Primary: u16, Index GW Secondary: u16, Index 1X Secondary: u16,
          Cards: array8 {
            Card State: enum8 uimCardState, UPIN State: enum8 uimPinState, UPIN Retries: u8, UPUK Retries: u8,
            Error Code: enum8 uimCardError,
            Applications: array8 {
              Type: enum8 uimApplicationType, State: enum8 uimApplicationState,
              Personalization State: u8, Personalization Feature: u8, Personalization Retries: u8,
              Personalization Unblock Retries: u8, Application Identifier: bytes8, UPIN Replaces PIN1: bool,
              PIN1 State: enum8 uimPinState, PIN1 Retries: u8, PUK1 Retries: u8,
              PIN2 State: enum8 uimPinState, PIN2 Retries: u8, PUK2 Retries: u8}}}
        $endpointInfo = {Endpoint Type: enum32 dataEndpointType, Interface Number: u32}
        $dataFormat = 10 QoS Format: bool
          11 Link Layer Protocol: enum32 wdaLinkLayerProtocol
          12 Uplink Data Aggregation Protocol: enum32 wdaAggregationProtocol
          13 Downlink Data Aggregation Protocol: enum32 wdaAggregationProtocol
          14 NDP Signature: u32
          15 Downlink Data Aggregation Max Datagrams: u32
          16 Downlink Data Aggregation Max Size: u32
        $dataFormatOut = $dataFormat
          17 Uplink Data Aggregation Max Datagrams: u32
          18 Uplink Data Aggregation Max Size: u32
          1a Downlink Minimum Padding: u32
          1b Flow Control: u8
        $callEnd = 10 Call End Reason: enum16 wdsCallEndReason
          11 Verbose Call End Reason: {Type: enum16 wdsVerboseType, Reason: i16}
        $profileID = {Profile Type: enum8 wdsProfileType, Profile Index: u8}
        $profileSettings = 10 Profile Name: string
          11 PDP Type: enum8 wdsPdpType
          14 APN Name: string
          15 Primary IPv4 DNS Address: ipv4
          16 Secondary IPv4 DNS Address: ipv4
          1b Username: string
          1c Password: secret string
          1d Authentication: flags8 wdsAuthentication
        $profileError = e0 Extended Error Code: enum16 wdsProfileError
        $ipv6WithPrefix = {Address: ipv6, Prefix Length: u8}
        $dataBearer = {Network Type: enum8 wdsNetworkType, RAT Mask: u32, SO Mask: u32}

        ctl 0020 Set Instance ID = QMICTL_SET_INSTANCE_ID
          request: 01 ID: u8
          response: 01 Link ID: u16
        ctl 0021 Get Version Info = QMICTL_GET_VERSION
          request: 01 Service: enum8 service
          response: 01 Service List: array8 {Service: enum8 service, Major: u16, Minor: u16}
        ctl 0022 Allocate Client ID = QMICTL_GET_CLIENT_ID
          request: 01 Service: enum8 service
          response: 01 Allocation: $client
        ctl 0023 Release Client ID = QMICTL_RELEASE_CLIENT_ID
          request: 01 Release: $client
          response: 01 Release: $client
        ctl 0024 Revoke Client ID = QMICTL_REVOKE_CLIENT_ID (indication only)
          indication: 01 Revoked: $client
        ctl 0025 Invalid Client ID = QMICTL_INVALID_CLIENT_ID (indication only)
          indication: 01 Client: $client
        ctl 0026 Set Data Format = QMICTL_SET_DATA_FORMAT
          request:
            01 Format: enum8 ctlDataFormat
            10 Protocol: enum16 ctlLinkProtocol
          response: 10 Protocol: enum16 ctlLinkProtocol
        ctl 0027 Sync = QMICTL_SYNC
          indication:
        ctl ff00 Internal Proxy Open = QMICTL_INTERNAL_PROXY_OPEN
          request: 01 Device Path: string

        wds 0001 Set Event Report = QMIWDS_SET_EVENT_REPORT
          request:
            10 Channel Rate: bool
            12 Data Bearer Technology: bool
            13 Dormancy Status: bool
            15 Current Data Bearer Technology: bool
            17 Data Call Status: bool
          indication:
            16 Channel Rates: {TX Rate bps: u32, RX Rate bps: u32}
            17 Data Bearer Technology: senum8 wdsDataBearerTechnology
            18 Dormancy Status: enum8 wdsDormancyStatus
            19 TX Bytes OK: u64
            1a RX Bytes OK: u64
            1d Current Data Bearer Technology: $dataBearer
            1f Data Call Status: enum8 wdsDataCallStatus
        wds 0020 Start Network = QMIWDS_START_NETWORK_INTERFACE
          request:
            10 Primary DNS Preference: ipv4
            11 Secondary DNS Preference: ipv4
            14 APN: string
            15 IPv4 Address Preference: ipv4
            16 Authentication Preference: flags8 wdsAuthentication
            17 Username: string
            18 Password: secret string
            19 IP Family Preference: enum8 wdsIpFamily
            30 Technology Preference: flags8 wdsTechnologyPreference
            31 Profile Index 3GPP: u8
            32 Profile Index 3GPP2: u8
            33 Enable Autoconnect: bool
            34 Extended Technology Preference: enum16 wdsExtendedTechnologyPreference
            35 Call Type: enum8 wdsCallType
          response:
            01 Packet Data Handle: u32
            $callEnd
        wds 0021 Stop Network = QMIWDS_STOP_NETWORK_INTERFACE
          request:
            01 Packet Data Handle: u32
            10 Disable Autoconnect: bool
        wds 0022 Get Packet Service Status = QMIWDS_GET_PKT_SRVC_STATUS
          response: 01 Connection Status: enum8 wdsConnectionStatus
          indication:
            01 Connection Status: {Status: enum8 wdsConnectionStatus, Reconfiguration Required: bool}
            $callEnd
            12 IP Family: enum8 wdsIpFamily
            14 Bearer ID: u8
            15 XLAT Capability: bool
        wds 0024 Get Packet Statistics = QMIWDS_GET_PKT_STATISTICS
          request: 01 Mask: flags32 wdsPacketStatisticsMask
          response:
            10 Tx Packets Ok: u32
            11 Rx Packets Ok: u32
            12 Tx Packets Error: u32
            13 Rx Packets Error: u32
            14 Tx Overflows: u32
            15 Rx Overflows: u32
            19 Tx Bytes Ok: u64
            1a Rx Bytes Ok: u64
            1b Last Call Tx Bytes Ok: u64
            1c Last Call Rx Bytes Ok: u64
            1d Tx Packets Dropped: u32
            1e Rx Packets Dropped: u32
        wds 0027 Create Profile = QMIWDS_CREATE_PROFILE
          request:
            01 Profile Type: enum8 wdsProfileType
            $profileSettings
          response:
            01 Profile Identifier: $profileID
            $profileError
        wds 0028 Modify Profile = QMIWDS_MODIFY_PROFILE_SETTINGS
          request:
            01 Profile Identifier: $profileID
            $profileSettings
          response: $profileError
        wds 002b Get Profile Settings = QMIWDS_GET_PROFILE_SETTINGS
          request: 01 Profile Identifier: $profileID
          response:
            $profileSettings
            $profileError
        wds 002d Get Runtime Settings = QMIWDS_GET_RUNTIME_SETTINGS
          request: 10 Requested Settings: flags32 wdsRequestedSettings
          response:
            10 Profile Name: string
            11 PDP Type: enum8 wdsPdpType
            14 APN Name: string
            15 IPv4 Primary DNS: ipv4
            16 IPv4 Secondary DNS: ipv4
            1b Username: string
            1d Authentication: flags8 wdsAuthentication
            1e IPv4 Address: ipv4
            1f Profile ID: $profileID
            20 IPv4 Gateway: ipv4
            21 IPv4 Subnet Mask: ipv4
            25 IPv6 Address: $ipv6WithPrefix
            26 IPv6 Gateway: $ipv6WithPrefix
            27 IPv6 Primary DNS: ipv6
            28 IPv6 Secondary DNS: ipv6
            29 MTU: u32
            2a Domain Names: array8 string16
            2b IP Family: enum8 wdsIpFamily
        wds 0037 Get Data Bearer Technology = QMIWDS_GET_DATA_BEARER
          response:
            01 Current: senum8 wdsDataBearerTechnology
            10 Last: senum8 wdsDataBearerTechnology
        wds 0044 Get Current Data Bearer Technology = QMIWDS_GET_CURRENT_DATA_BEARER
          response:
            01 Current: $dataBearer
            10 Last: $dataBearer
        wds 004d Set IP Family = QMIWDS_SET_CLIENT_IP_FAMILY_PREF
          request: 01 Preference: enum8 wdsIpFamily
        wds 00a2 Bind Mux Data Port = QMIWDS_BIND_MUX_DATA_PORT
          request:
            10 Endpoint Info: $endpointInfo
            11 Mux ID: u8
            13 Client Type: enum32 wdsClientType

        dms 0021 Get Manufacturer = QMIDMS_GET_DEVICE_MFR
          response: 01 Manufacturer: string
        dms 0022 Get Model = QMIDMS_GET_DEVICE_MODEL_ID
          response: 01 Model: string
        dms 0023 Get Revision = QMIDMS_GET_DEVICE_REV_ID
          response: 01 Revision: string
        dms 0025 Get IDs = QMIDMS_GET_DEVICE_SERIAL_NUMBERS
          response:
            10 ESN: string
            11 IMEI: string
            12 MEID: string
            13 IMEI SV: string
        dms 0028 UIM Verify PIN = QMIDMS_UIM_VERIFY_PIN
          request: 01 Info: secret {PIN ID: enum8 dmsPinId, PIN: string8}
          response: 10 Retries: $pinRetries
        dms 002b UIM Get PIN Status = QMIDMS_UIM_GET_PIN_STATUS
          response:
            11 PIN1 Status: $dmsPinStatus
            12 PIN2 Status: $dmsPinStatus
        dms 002d Get Operating Mode = QMIDMS_GET_OPERATING_MODE
          response:
            01 Mode: enum8 dmsOperatingMode
            10 Offline Reason: u16
            11 Hardware Restricted: bool
        dms 002e Set Operating Mode = QMIDMS_SET_OPERATING_MODE
          request: 01 Mode: enum8 dmsOperatingMode
        dms 003c UIM Get ICCID = QMIDMS_UIM_GET_ICCID
          response: 01 ICCID: string
        dms 0043 UIM Get IMSI = QMIDMS_UIM_GET_IMSI
          response: 01 IMSI: string

        nas 0024 Get Serving System = QMINAS_GET_SERVING_SYSTEM
          response:
            $servingSystem
            1c LAC 3GPP: u16
            1d CID 3GPP: u32
            24 LTE TAC: u16
          indication:
            $servingSystem
            1d LAC 3GPP: u16
            1e CID 3GPP: u32
            25 LTE TAC: u16
        nas 004d Get System Info = QMINAS_GET_SYS_INFO
          response: $systemInfo
        nas 004e System Info = QMINAS_SYS_INFO (indication only)
          indication: $systemInfo
        nas 0003 Register Indications = QMINAS_INDICATION_REGISTER
          request:
            10 System Selection Preference: bool
            12 DDTM Events: bool
            13 Serving System Events: bool
            14 Dual Standby Preference: bool
            15 Subscription Info: bool
            17 Network Time: bool
            18 System Info: bool
            19 Signal Info: bool
            1a Error Rate: bool
            1b HDR New UATI Assigned: bool
            1c HDR Session Closed: bool
            1d Managed Roaming: bool
            1e Current PLMN Name: bool
            1f eMBMS Status: bool
            20 RF Band Information: bool
            21 Network Reject Information: {Enable Network Reject Indications: bool, Supress System Info Indications: bool}
        nas 0031 Get RF Band Information = QMINAS_GET_RF_BAND_INFO
          response:
            01 List: array8 {Radio Interface: senum8 nasRadioInterface, Active Band Class: enum16 nasActiveBand, Active Channel: u16}
            11 Extended List: array8 {Radio Interface: senum8 nasRadioInterface, Active Band Class: enum16 nasActiveBand, Active Channel: u32}
            12 Bandwidth List: array8 {Radio Interface: senum8 nasRadioInterface, Bandwidth: enum32 nasDLBandwidth}
        nas 004f Get Signal Info = QMINAS_GET_SIG_INFO
          response: $signalInfo
            16 TDMA Signal Strength Extended: {RSSI: i32, RSCP: i32, ECIO: i32, SINR: i32}
        nas 0050 Config Signal Info = QMINAS_CONFIG_SIG_INFO
          request:
            10 RSSI Threshold: array8 i8
            11 ECIO Threshold: array8 i16
            12 SINR Threshold: array8 u8
            13 LTE SNR Threshold: array8 i16
            14 IO Threshold: array8 i32
            15 RSRQ Threshold: array8 i8
            16 RSRP Threshold: array8 i16
            17 LTE Report: {Rate: u8, Average Period: u8}
            18 RSCP Threshold: array8 i8
        nas 0051 Signal Info = QMINAS_SIG_INFO_IND (indication only)
          indication: $signalInfo

        uim 0026 Verify PIN = QMIUIM_VERIFY_PIN
          request:
            01 Session: {Session Type: enum8 uimSessionType, Application Identifier: bytes8}
            02 Info: secret {PIN ID: enum8 uimPinId, PIN: string8}
          response:
            10 Retries: $pinRetries
            13 Card Result: {SW1: u8, SW2: u8}
        uim 002f Get Card Status = QMIUIM_GET_CARD_STATUS
          response: 10 Card Status: $cardStatus
        uim 0032 Status Change = QMIUIM_STATUS_CHANGE (indication only)
          indication: 10 Card Status: $cardStatus

        wda 0020 Set Data Format = QMIWDS_ADMIN_SET_DATA_FORMAT
          request:
            $dataFormat
            17 Endpoint Info: $endpointInfo
            1b Uplink Data Aggregation Max Datagrams: u32
            1c Uplink Data Aggregation Max Size: u32
          response: $dataFormatOut
        wda 0021 Get Data Format = QMIWDS_ADMIN_GET_DATA_FORMAT
          request: 10 Endpoint Info: $endpointInfo
          response: $dataFormatOut
        """
}

/// Namespaces of the services' messages: the generated module QMIMessages adds a type per
/// message to each (`WDS.StartNetwork`, with its `spec` and typed Request/Response views).
public enum CTL {}
public enum WDS {}
public enum DMS {}
public enum NAS {}
public enum UIM {}
public enum WDA {}

/// Names for the verbose call-end reason, whose meaning depends on its type.
public enum CallEndReason {
    public static func verboseName(type: UInt16, reason: Int16) -> String {
        let r = Int64(reason)
        // Which table names the reason, by verbose type (the same numbers as wdsVerboseType).
        let table = QMIEnum("verboseTables", """
            1=wdsVerboseMip 2=wdsVerboseInternal 3=wdsVerboseCm 6=wdsVerbose3gpp 7=wdsVerbosePpp
            8=wdsVerboseEhrpd 9=wdsVerboseIpv6
            """).name(of: Int64(type)).map { QMIEnum($0) }
        let typeName = QMIEnums.wdsVerboseType.name(of: Int64(type)) ?? "type-\(type)"
        let reasonName = table?.name(of: r) ?? "reason-\(reason)"
        return "\(typeName)/\(reasonName) (\(type)/\(reason))"
    }

    public static func name(_ code: UInt16) -> String {
        "\(QMIEnums.wdsCallEndReason.name(of: Int64(code)) ?? "unknown") (\(code))"
    }
}
