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
        $cdmaServiceStatus = {Service Status: enum8 nasServiceStatus, Preferred Data Path: bool}
        $callBarring = {CS Status: senum32 nasCallBarringStatus, PS Status: senum32 nasCallBarringStatus}
        $systemInfo = 10 CDMA Service Status: $cdmaServiceStatus
          11 HDR Service Status: $cdmaServiceStatus
          12 GSM Service Status: $serviceStatus
          13 WCDMA Service Status: $serviceStatus
          14 LTE Service Status: $serviceStatus
          15 CDMA System Info: {Domain Valid: bool, Domain: enum8 nasServiceDomain,
            Service Capability Valid: bool, Service Capability: enum8 nasServiceDomain,
            Roaming Status Valid: bool, Roaming Status: enum8 nasRoamingStatus, Forbidden Valid: bool, Forbidden: bool,
            PRL Match Valid: bool, PRL Match: bool, P Rev Valid: bool, P Rev: u8,
            Base Station P Rev Valid: bool, Base Station P Rev: u8,
            Concurrent Service Support Valid: bool, Concurrent Service Support: bool,
            CDMA System ID Valid: bool, SID: u16, NID: u16,
            Base Station Info Valid: bool, Base Station ID: u16, Base Station Latitude: i32, Base Station Longitude: i32,
            Packet Zone Valid: bool, Packet Zone: u16, Network ID Valid: bool, MCC: fixed 3, MNC: fixed 3}
          16 HDR System Info: {Domain Valid: bool, Domain: enum8 nasServiceDomain,
            Service Capability Valid: bool, Service Capability: enum8 nasServiceDomain,
            Roaming Status Valid: bool, Roaming Status: enum8 nasRoamingStatus, Forbidden Valid: bool, Forbidden: bool,
            PRL Match Valid: bool, PRL Match: bool, Personality Valid: bool, Personality: enum8 nasHdrPersonality,
            Protocol Revision Valid: bool, Protocol Revision: enum8 nasHdrProtocolRevision,
            IS 856 System ID Valid: bool, IS 856 System ID: fixed 16}
          17 GSM System Info: {$systemInfoHead, EGPRS Support Valid: bool, EGPRS Support: bool,
            DTM Support Valid: bool, DTM Support: bool}
          18 WCDMA System Info: {$systemInfoHead, HS Call Status Valid: bool, HS Call Status: u8,
            HS Service Valid: bool, HS Service: u8,
            Primary Scrambling Code Valid: bool, Primary Scrambling Code: u16}
          19 LTE System Info: {$systemInfoHead, TAC Valid: bool, TAC: u16}
          1a Additional CDMA System Info: {Geo System Index: u16, Registration Period: u16}
          1b Additional HDR System Info: {Geo System Index: u16}
          1c Additional GSM System Info: {Geo System Index: u16, Cell Broadcast Support: enum32 nasCellBroadcastCapability}
          1d Additional WCDMA System Info: {Geo System Index: u16, Cell Broadcast Support: enum32 nasCellBroadcastCapability}
          1e Additional LTE System Info: {Geo System Index: u16}
          1f GSM Call Barring Status: $callBarring
          20 WCDMA Call Barring Status: $callBarring
          21 LTE Voice Support: bool
          22 GSM Cipher Domain: enum8 nasServiceDomain
          23 WCDMA Cipher Domain: enum8 nasServiceDomain
        $tdscdmaSystemInfo = {$systemInfoHead, HS Call Status Valid: bool, HS Call Status: enum8 nasWcdmaHsService,
          HS Service Valid: bool, HS Service: enum8 nasWcdmaHsService, Cell Parameter ID Valid: bool, Cell Parameter ID: u16,
          Cell Broadcast Support Valid: bool, Cell Broadcast Support: enum32 nasCellBroadcastCapability,
          CS Call Barring Status Valid: bool, CS Call Barring Status: senum32 nasCallBarringStatus,
          PS Call Barring Status Valid: bool, PS Call Barring Status: senum32 nasCallBarringStatus,
          Cipher Domain Valid: bool, Cipher Domain: enum8 nasServiceDomain}
        $nr5gSystemInfo = {$systemInfoHead, TAC Valid: bool, TAC: u16}
        $servingSystemCDMA = 13 CDMA System ID: {SID: u16, NID: u16}
          14 CDMA Base Station Info: {Base Station ID: u16, Base Station Latitude: i32, Base Station Longitude: i32}
          15 Roaming Indicator List: array8 {Radio Interface: enum8 nasRadioInterface, Roaming Indicator: enum8 nasRoamingIndicator}
          16 Default Roaming Indicator: enum8 nasRoamingIndicator
          17 Time Zone 3GPP2: {Leap Seconds: u8, Local Time Offset: i8, Daylight Saving Time: bool}
          18 CDMA P Rev: u8
        $detailedServiceStatus = {Status: enum8 nasServiceStatus, Capability: enum8 nasServiceDomain,
          HDR Status: enum8 nasServiceStatus, HDR Hybrid: bool, Forbidden: bool}
        $pcsDigit = {MCC: u16, MNC: u16, Includes PCS Digit: bool}
        $plmnName = {Name Encoding: enum8 nasPlmnEncodingScheme, Short Country Initials: enum8 nasPlmnNameCountryInitials,
          Long Name Spare Bits: enum8 nasPlmnNameSpareBits, Short Name Spare Bits: enum8 nasPlmnNameSpareBits,
          Long Name: bytes8, Short Name: bytes8}
        $operatorName = 10 Service Provider Name: {Name Display Condition: flags8 nasNetworkNameDisplayCondition, Name: string8}
          11 Operator PLMN List: array16 {MCC: fixed 3, MNC: fixed 3, LAC1: u16, LAC2: u16, PLMN Name Record Identifier: u8}
          12 Operator PLMN Name: array8 $plmnName
          13 Operator String Name: string
          14 NITZ Information: $plmnName
        $lteCell = {Physical Cell ID: u16, RSRQ: i16, RSRP: i16, RSSI: i16, Cell Selection RX Level: i16}
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
        $umtsQoSFields = Traffic Class: enum8 wdsTrafficClass, Max Uplink Bitrate: u32, Max Downlink Bitrate: u32,
          Guaranteed Uplink Bitrate: u32, Guaranteed Downlink Bitrate: u32, QoS Delivery Order: enum8 wdsDeliveryOrder,
          Maximum SDU Size: u32, SDU Error Ratio: enum8 wdsSduErrorRatio,
          Residual Bit Error Ratio: enum8 wdsSduResidualBitErrorRatio, Delivery Erroneous SDU: enum8 wdsSduErroneousDelivery,
          Transfer Delay: u32, Traffic Handling Priority: u32
        $umtsQoS = {$umtsQoSFields}
        $umtsQoSSignaling = {$umtsQoSFields, Signaling Indication: i8}
        $gprsQoS = {Precedence Class: u32, Delay Class: u32, Reliability Class: u32, Peak Throughput Class: u32,
          Mean Throughput Class: u32}
        $profileMore = 12 PDP Header Compression Type: enum8 wdsPdpHeaderCompressionType
          13 PDP Data Compression Type: enum8 wdsPdpDataCompressionType
          17 UMTS Requested QoS: $umtsQoS
          18 UMTS Minimum QoS: $umtsQoS
          19 GPRS Requested QoS: $gprsQoS
          1a GPRS Minimum QoS: $gprsQoS
          1e IPv4 Address Preference: ipv4
          1f PCSCF Address Using PCO: bool
          20 PDP Access Control: enum8 wdsPdpAccessControl
          21 PCSCF Address Using DHCP: bool
          22 IMCN Flag: bool
          25 PDP Context Number: u8
          26 PDP Context Secondary Flag: bool
          27 PDP Context Primary ID: u8
          28 IPv6 Address Preference: {Address: ipv6}
          29 UMTS Requested QoS With Signaling Indication Flag: $umtsQoSSignaling
          2a UMTS Minimum QoS With Signaling Indication Flag: $umtsQoSSignaling
          2b IPv6 Primary DNS Address Preference: ipv6
          2c IPv6 Secondary DNS Address Preference: ipv6
          2d Address Allocation Preference: enum8 wdsAddressAllocationPreference
          2e LTE QoS Parameters: {QoS Class Identifier: enum8 wdsQosClassIdentifier, Guaranteed Downlink Bitrate: u32,
            Max Downlink Bitrate: u32, Guaranteed Uplink Bitrate: u32, Max Uplink Bitrate: u32}
          2f APN Disabled Flag: bool
          3e Roaming Disallowed Flag: bool
          50 VLAN ID Type: {VLAN ID Range Start: u16, VLAN ID Range End: u16}
          dd APN Type Mask: flags64 wdsApnTypeMask
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
            38 APN Type: enum32 wdsApnType
            3c Bring Up By APN Name: bool
            3d Bring Up By APN Type: u8
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
            34 Extended Technology Preference: enum16 wdsExtendedTechnologyPreference
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
            $profileMore
          response:
            01 Profile Identifier: $profileID
            $profileError
        wds 0028 Modify Profile = QMIWDS_MODIFY_PROFILE_SETTINGS
          request:
            01 Profile Identifier: $profileID
            $profileSettings
            dd APN Type Mask: flags64 wdsApnTypeMask
          response: $profileError
        wds 002a Get Profile List = QMIWDS_GET_PROFILE_LIST
          request: 10 Profile Type: enum8 wdsProfileType
          response:
            01 Profile List: array8 {Profile Type: enum8 wdsProfileType, Profile Index: u8, Profile Name: string8}
            $profileError
        wds 002b Get Profile Settings = QMIWDS_GET_PROFILE_SETTINGS
          request: 01 Profile Identifier: $profileID
          response:
            $profileSettings
            $profileMore
            de CLAT Enabled: bool
            df IPv6 Prefix Delegation: bool
            $profileError
        wds 002d Get Runtime Settings = QMIWDS_GET_RUNTIME_SETTINGS
          request: 10 Requested Settings: flags32 wdsRequestedSettings
          response:
            10 Profile Name: string
            11 PDP Type: enum8 wdsPdpType
            14 APN Name: string
            15 IPv4 Primary DNS: ipv4
            16 IPv4 Secondary DNS: ipv4
            17 UMTS Granted QoS: $umtsQoS
            19 GPRS Granted QoS: $gprsQoS
            1b Username: string
            1d Authentication: flags8 wdsAuthentication
            1e IPv4 Address: ipv4
            1f Profile ID: $profileID
            20 IPv4 Gateway: ipv4
            21 IPv4 Subnet Mask: ipv4
            22 PCSCF Address Using PCO: u8
            23 PCSCF Server Address List: array8 ipv4
            24 PCSCF Domain Name List: array8 string16
            25 IPv6 Address: $ipv6WithPrefix
            26 IPv6 Gateway: $ipv6WithPrefix
            27 IPv6 Primary DNS: ipv6
            28 IPv6 Secondary DNS: ipv6
            29 MTU: u32
            2a Domain Names: array8 string16
            2b IP Family: enum8 wdsIpFamily
            2c IMCN Flag: i8
            2d Extended Technology Preference: enum16 wdsExtendedTechnologyPreference
            2f Operator Reserved PCO: {MCC: u16, MNC: u16, MNC Includes PCS Digit: bool, App Specific Info: bytes8,
              Container ID: u16}
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
        dms 0024 Get MSISDN = QMIDMS_GET_MSISDN
          response: 01 MSISDN: string
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
        dms 0044 UIM Get State = QMIDMS_UIM_GET_STATE
          response: 01 State: enum8 dmsUimState

        nas 0024 Get Serving System = QMINAS_GET_SERVING_SYSTEM
          response:
            $servingSystem
            $servingSystemCDMA
            1a Time Zone 3GPP: i8
            1b Daylight Saving Time Adjustment 3GPP: u8
            1c LAC 3GPP: u16
            1d CID 3GPP: u32
            1e Concurrent Service Info 3GPP2: bool
            1f PRL Indicator 3GPP2: bool
            20 DTM Support: bool
            21 Detailed Service Status: $detailedServiceStatus
            22 CDMA System Info: {MCC: u16, IMSI_11_12: u8}
            23 HDR Personality: enum8 nasHdrPersonality
            24 LTE TAC: u16
            25 Call Barring Status: $callBarring
            26 UMTS Primary Scrambling Code: u16
            27 MNC PCS Digit Include Status: $pcsDigit
            29 Network Name Source: enum32 nasNetworkNameSource
          indication:
            $servingSystem
            $servingSystemCDMA
            19 PLMN Name Flag 3GPP: bool
            1a Time Zone 3GPP: i8
            1b Daylight Saving Time Adjustment 3GPP: u8
            1c Universal Time and Local Time Zone 3GPP: {Year: u16, Month: u8, Day: u8, Hour: u8, Minute: u8, Second: u8,
              Time Zone: u8}
            1d LAC 3GPP: u16
            1e CID 3GPP: u32
            1f Concurrent Service Info 3GPP2: bool
            20 PRL Indicator 3GPP2: bool
            21 DTM Support: bool
            22 Detailed Service Status: $detailedServiceStatus
            23 CDMA System Info: {MCC: u16, IMSI_11_12: u8}
            24 HDR Personality: enum8 nasHdrPersonality
            25 LTE TAC: u16
            26 Call Barring Status: $callBarring
            27 PLMN Not Changed Indication: bool
            28 UMTS Primary Scrambling Code: u16
            29 MNC PCS Digit Include Status: $pcsDigit
            2b Network Name Source: enum32 nasNetworkNameSource
        nas 004d Get System Info = QMINAS_GET_SYS_INFO
          response:
            $systemInfo
            24 TD SCDMA Service Status: $serviceStatus
            25 TD SCDMA System Info: $tdscdmaSystemInfo
            26 LTE eMBMS Coverage Info Support: bool
            27 SIM Reject Info: enum32 nasSimRejectState
            29 IMS Voice Support: bool
            2a LTE Voice Domain: enum32 nasLteVoiceDomain
            2b CDMA Registration Zone ID: u16
            2c GSM Routing Area Code: u8
            2d WCDMA Routing Area Code: u8
            2e CDMA Resolved MCC: u16
            2f Network Selection Registration Restriction: enum32 nasNetworkSelectionRegistrationRestriction
            31 LTE Registration Domain: enum32 nasLteRegistrationDomain
            34 LTE eMBMS Coverage Info Trace ID: u16
            44 LTE Cell Access Status: enum32 nasLteCellAccessStatus
            4a NR5G Service Status: $serviceStatus
            4b NR5G System Info: $nr5gSystemInfo
            4e EUTRA With NR5G Availability: bool
            4f DCNR Restriction Info: bool
            50 NR5G Tracking Area Code: raw 3
        nas 004e System Info = QMINAS_SYS_INFO (indication only)
          indication:
            $systemInfo
            24 PLMN Not Changed Indication: bool
            25 TD SCDMA Service Status: $serviceStatus
            26 TD SCDMA System Info: $tdscdmaSystemInfo
            27 LTE eMBMS Coverage Info Support: bool
            28 SIM Reject Info: enum32 nasSimRejectState
            4c NR5G Service Status: $serviceStatus
            4d NR5G System Info: $nr5gSystemInfo
            50 EUTRA With NR5G Availability: bool
            51 DCNR Restriction Info: bool
            52 NR5G Tracking Area Code: raw 3
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
        nas 0002 Set Event Report = QMINAS_SET_EVENT_REPORT
          request:
            10 Signal Strength Indicator: {Report: bool, Thresholds: array8 i8}
            11 RF Band Information: bool
            12 Registration Reject Reason: bool
            13 RSSI Indicator: {Report: bool, RSSI Delta: u8}
            14 ECIO Indicator: {Report: bool, ECIO Delta: u8}
            15 IO Indicator: {Report: bool, IO Delta: u8}
            16 SINR Indicator: {Report: bool, SINR Delta: u8}
            17 Error Rate Indicator: bool
            19 ECIO Threshold: {Report: bool, Thresholds: array8 i16}
            1a SINR Threshold: {Report: bool, Thresholds: array8 u8}
            1b LTE SNR Delta: {Report: bool, SNR Delta: u8}
            1c LTE RSRP Delta: {Report: bool, RSRP Delta: u8}
          indication:
            10 Signal Strength: {Strength: i8, Radio Interface: senum8 nasRadioInterface}
            11 RF Band Information: array8 {Radio Interface: senum8 nasRadioInterface, Active Band Class: enum16 nasActiveBand,
              Active Channel: u16}
            12 Registration Reject Reason: {Service Domain: enum8 nasServiceDomain, Reject Cause: u16}
            13 RSSI: {RSSI: u8, Radio Interface: senum8 nasRadioInterface}
            14 ECIO: {ECIO: u8, Radio Interface: senum8 nasRadioInterface}
            15 IO: i32
            16 SINR: enum8 nasEvdoSinrLevel
            17 Error Rate: {Rate: u16, Radio Interface: senum8 nasRadioInterface}
            18 RSRQ: {RSRQ: i8, Radio Interface: senum8 nasRadioInterface}
            19 LTE SNR: i16
            1a LTE RSRP: i16
        nas 0020 Get Signal Strength = QMINAS_GET_SIGNAL_STRENGTH
          request: 10 Request Mask: flags16 nasSignalStrengthRequest
          response:
            01 Signal Strength: {Strength: i8, Radio Interface: senum8 nasRadioInterface}
            10 Strength List: array16 {Strength: i8, Radio Interface: senum8 nasRadioInterface}
            11 RSSI List: array16 {RSSI: u8, Radio Interface: senum8 nasRadioInterface}
            12 ECIO List: array16 {ECIO: u8, Radio Interface: senum8 nasRadioInterface}
            13 IO: i32
            14 SINR: enum8 nasEvdoSinrLevel
            15 Error Rate List: array16 {Rate: u16, Radio Interface: senum8 nasRadioInterface}
            16 RSRQ: {RSRQ: i8, Radio Interface: senum8 nasRadioInterface}
            17 LTE SNR: i16
            18 LTE RSRP: i16
        nas 0025 Get Home Network = QMINAS_GET_HOME_NETWORK
          response:
            01 Home Network: {MCC: u16, MNC: u16, Description: string8}
            10 Home System ID: {SID: u16, NID: u16}
            11 Home Network 3GPP2 Ext: {MCC: u16, MNC: u16, Display Description: enum8 nasNetworkDescriptionDisplay,
              Description Encoding: enum8 nasNetworkDescriptionEncoding, Description: bytes8}
            12 Home Network 3GPP MNC: {Is 3GPP: bool, Includes PCS Digit: bool}
            13 Network Name Source: enum32 nasNetworkNameSource
        nas 0039 Get Operator Name = QMINAS_GET_OPERATOR_NAME
          response: $operatorName
        nas 003a Operator Name = QMINAS_OPERATOR_NAME (indication only)
          indication: $operatorName
        nas 0043 Get Cell Location Info = QMINAS_GET_CELL_LOCATION_INFO
          response:
            10 GERAN Info: {Cell ID: u32, PLMN: raw 3, LAC: u16, GERAN Absolute RF Channel Number: u16,
              Base Station Identity Code: u8, Timing Advance: u32, RX Level: u16,
              GERAN Cells: array8 {Cell ID: u32, PLMN: raw 3, LAC: u16, GERAN Absolute RF Channel Number: u16,
                Base Station Identity Code: u8, RX Level: u16}}
            11 UMTS Info: {Cell ID: u16, PLMN: raw 3, LAC: u16, UTRA Absolute RF Channel Number: u16,
              Primary Scrambling Code: u16, RSCP: i16, ECIO: i16,
              UMTS Cells: array8 {UTRA Absolute RF Channel Number: u16, Primary Scrambling Code: u16, RSCP: i16, ECIO: i16},
              GERAN Neighbors: array8 {GERAN Absolute RF Channel Number: u16, Network Color Code: u8,
                Base Station Color Code: u8, RSSI: i16}}
            12 CDMA Info: {System ID: u16, Network ID: u16, Base Station ID: u16, Reference PN: u16, Latitude: u32,
              Longitude: u32}
            13 Intrafrequency LTE Info: {UE In Idle: bool, PLMN: raw 3, Tracking Area Code: u16, Global Cell ID: u32,
              EUTRA Absolute RF Channel Number: u16, Serving Cell ID: u16, Cell Reselection Priority: u8,
              S Non Intra Search Threshold: u8, Serving Cell Low Threshold: u8, S Intra Search Threshold: u8,
              LTE Cells: array8 $lteCell}
            14 Interfrequency LTE Info: {UE In Idle: bool, LTE Frequency: array8 {EUTRA Absolute RF Channel Number: u16,
              Cell Selection RX Level Low Threshold: u8, Cell Selection RX Level High Threshold: u8,
              Cell Reselection Priority: u8, LTE Cells: array8 $lteCell}}
            15 LTE Info Neighboring GSM: {UE In Idle: bool, GSM Frequency: array8 {Cell Reselection Priority: u8,
              Cell Reselection High Threshold: u8, Cell Reselection Low Threshold: u8, NCC Permitted: u8,
              GSM Cells: array8 {GERAN Absolute RF Channel Number: u16, Band Is 1900: bool, Cell ID Valid: bool,
                Base Station Identity Code: u8, RSSI: i16, Cell Selection RX Level: i16}}}
            16 LTE Info Neighboring WCDMA: {UE In Idle: bool, WCDMA Frequency: array8 {UTRA Absolute RF Channel Number: u16,
              Cell Reselection Priority: u8, Cell Reselection High Threshold: u16, Cell Reselection Low Threshold: u16,
              WCDMA Cells: array8 {Primary Scrambling Code: u16, CPICH RSCP: i16, CPICH EcNo: i16,
                Cell Selection RX Level: i16}}}
            17 UMTS Cell ID: u32
            18 UMTS Info Neighboring LTE: {RRC State: enum32 nasWcdmaRrcState, LTE Neighbor Frequency: array8 {
              EUTRA Absolute RF Channel Number: u16, Physical Cell ID: u16, RSRP: f32, RSRQ: f32,
              Cell Selection RX Level: i16, Is TDD: bool}}
            1e LTE Info Timing Advance: u32
            2e NR5G ARFCN: u32
            2f NR5G Cell Information: {PLMN: raw 3, Tracking Area Code: raw 3, Global Cell ID: u64, Physical Cell ID: u16,
              RSRQ: i16, RSRP: i16, SNR: i16}
        nas 0044 Get PLMN Name = QMINAS_GET_PLMN_NAME
          request:
            01 PLMN: {MCC: u16, MNC: u16}
            10 Suppress SIM Error: bool
            11 MNC PCS Digit Include Status: bool
            12 Always Send PLMN Name: bool
            13 Use Static Table Only: bool
            14 CSG ID: u32
            15 Radio Access Technology: enum8 nasRadioInterface
            16 Send All Information: bool
          response:
            10 3GPP EONS PLMN Name: {Service Provider Name Encoding: enum8 nasNetworkDescriptionEncoding,
              Service Provider Name: bytes8, Short Name Encoding: enum8 nasNetworkDescriptionEncoding,
              Short Name Country Initials: enum8 nasPlmnNameCountryInitials, Short Name Spare Bits: enum8 nasPlmnNameSpareBits,
              Short Name: bytes8, Long Name Encoding: enum8 nasNetworkDescriptionEncoding,
              Long Name Country Initials: enum8 nasPlmnNameCountryInitials, Long Name Spare Bits: enum8 nasPlmnNameSpareBits,
              Long Name: bytes8}
            11 Display Bit Information: {Service Provider Name Set: enum32 nasBoolean, PLMN Name Set: enum32 nasBoolean}
            12 Network Information: enum32 nasBoolean
            13 PLMN Name With Language ID: array8 {Long Name: array8 u16, Short Name: array8 u16,
              Language ID: enum32 nasPlmnLanguageId}
            14 Additional Information: array8 u16
            15 Network Name Source: enum32 nasNetworkNameSource
        nas 006c Config Signal Info v2 = QMINAS_CONFIG_SIG_INFO2
          request:
            10 CDMA RSSI Threshold List: array8 i16
            11 CDMA RSSI Delta: u16
            12 CDMA ECIO Threshold List: array8 i16
            13 CDMA ECIO Delta: u16
            14 HDR RSSI Threshold List: array8 i16
            15 HDR RSSI Delta: u16
            16 HDR ECIO Threshold List: array8 i16
            17 HDR ECIO Delta: u16
            18 HDR SINR Threshold List: array8 i16
            19 HDR SINR Delta: u16
            1a HDR IO Threshold List: array8 i16
            1b HDR IO Delta: u16
            1c GSM RSSI Threshold List: array8 i16
            1d GSM RSSI Delta: u16
            1e WCDMA RSSI Threshold List: array8 i16
            1f WCDMA RSSI Delta: u16
            20 WCDMA ECIO Threshold List: array8 i16
            21 WCDMA ECIO Delta: u16
            22 LTE RSSI Threshold List: array8 i16
            23 LTE RSSI Delta: u16
            24 LTE SNR Threshold List: array8 i16
            25 LTE SNR Delta: u16
            26 LTE RSRQ Threshold List: array8 i16
            27 LTE RSRQ Delta: u16
            28 LTE RSRP Threshold List: array8 i16
            29 LTE RSRP Delta: u16
            2a LTE Report v2: {Rate: u8, Average Period: u8}
            33 NR5G SNR Threshold List: array8 i16
            34 NR5G SNR Delta: u16
            35 NR5G RSRP Threshold List: array8 i16
            36 NR5G RSRP Delta: u16
            37 NR5G Report: {Rate: u8, Average Period: u8}
            38 NR5G RSRQ Threshold List: array8 i16
            39 NR5G RSRQ Delta: u16
            3a WCDMA RSCP Threshold List: array8 i16
            3b WCDMA RSCP Delta: u16

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
