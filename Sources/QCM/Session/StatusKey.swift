import Base

/// A key of the status record: the status files, the status socket, `qcm status` and its
/// JSON (README: "qcm status --json") all use these names, so each is written once, here.
struct StatusKey: Equatable {
    let name: String

    init(_ name: String) { self.name = name }

    static func == (a: StatusKey, b: StatusKey) -> Bool { a.name.equals(b.name) }

    // The connection.
    static let state = StatusKey("state")
    static let modem = StatusKey("modem")
    static let revision = StatusKey("revision")
    static let imei = StatusKey("imei")
    static let channel = StatusKey("channel")
    static let interface = StatusKey("interface")
    static let apn = StatusKey("apn")
    static let ipv4 = StatusKey("ipv4")
    static let ipv6 = StatusKey("ipv6")
    static let dns = StatusKey("dns")
    /// RFC 7278: the /64 extended to a LAN, and that LAN's interface.
    static let ipv6Prefix = StatusKey("ipv6_prefix")
    static let ipv6LAN = StatusKey("ipv6_lan")
    static let dnsWarning = StatusKey("dns_warning")
    static let lastEndReason = StatusKey("last_end_reason")
    static let lastError = StatusKey("last_error")
    static let connectedSince = StatusKey("connected_since")
    /// Bridge mode: the address handed to the LAN host, and through which netdev and bridge.
    static let bridge = StatusKey("bridge")
    // The instance (the record's first lines are pid, pdn and when it was written).
    static let pid = StatusKey("pid")
    static let pdn = StatusKey("pdn")
    static let lock = StatusKey("lock")
    static let socket = StatusKey("socket")
    // The network (field status).
    static let registration = StatusKey("registration")
    static let roaming = StatusKey("roaming")
    static let rat = StatusKey("rat")
    static let operatorName = StatusKey("operator")
    static let mccMnc = StatusKey("mcc_mnc")
    static let lac = StatusKey("lac")
    static let tac = StatusKey("tac")
    static let cellID = StatusKey("cell_id")
    static let band = StatusKey("band")
    static let rfChannel = StatusKey("rf_channel")
    static let signalBars = StatusKey("signal_bars")
    static let lteRSSI = StatusKey("lte_rssi_dbm")
    static let lteRSRQ = StatusKey("lte_rsrq_db")
    static let lteRSRP = StatusKey("lte_rsrp_dbm")
    static let lteSNR = StatusKey("lte_snr_db")
    static let nrRSRP = StatusKey("nr5g_rsrp_dbm")
    static let nrRSRQ = StatusKey("nr5g_rsrq_db")
    static let nrSNR = StatusKey("nr5g_snr_db")
    static let wcdmaRSSI = StatusKey("wcdma_rssi_dbm")
    static let wcdmaEcIo = StatusKey("wcdma_ecio_db")
    static let gsmRSSI = StatusKey("gsm_rssi_dbm")
    static let imsi = StatusKey("imsi")
    static let iccid = StatusKey("iccid")
    // Counters, read when `qcm status` asks.
    static let txBytes = StatusKey("tx_bytes")
    static let rxBytes = StatusKey("rx_bytes")
    static let txPackets = StatusKey("tx_packets")
    static let rxPackets = StatusKey("rx_packets")
    static let txDropped = StatusKey("tx_dropped")
    static let rxDropped = StatusKey("rx_dropped")

    /// What the modem says about the network: the field status (`FieldStatus`).
    static let field: [StatusKey] = [registration, roaming, rat, operatorName, mccMnc, lac, tac, cellID, signalBars,
                                     lteRSSI, lteRSRQ, lteRSRP, lteSNR, nrRSRP, nrRSRQ, nrSNR, wcdmaRSSI, wcdmaEcIo, gsmRSSI,
                                     imsi, iccid]
    /// What identifies the subscriber and the device: root's and qcm's user's only.
    static let identifiers: [StatusKey] = [imsi, iccid, imei]
    /// JSON strings and JSON numbers.
    static let texts: [StatusKey] = [state, modem, revision, channel, interface, apn, ipv4, ipv6, ipv6Prefix, ipv6LAN, dns, bridge, dnsWarning, lastEndReason,
                                     registration, roaming, rat, operatorName, mccMnc, imsi, iccid, imei, band]
    static let numbers: [StatusKey] = [lac, tac, cellID, rfChannel, signalBars, lteRSSI, lteRSRQ, lteRSRP, lteSNR, nrRSRP, nrRSRQ,
                                       nrSNR, wcdmaRSSI, wcdmaEcIo, gsmRSSI, rxBytes, txBytes, rxPackets, txPackets, rxDropped, txDropped]
    /// The connection's keys that go with its link (cleared when the link goes).
    static let link: [StatusKey] = [connectedSince, ipv4, ipv6, ipv6Prefix, ipv6LAN, dns, bridge]
}

/// A value read from the modem for `qcm status` (packet counters, the RF band): for one
/// PDN's record, or (pdn nil) for every record.
struct StatusValue {
    let pdn: Int?
    let key: StatusKey
    let value: String
}
