import Base
import QMICore
import QMIMessages

/// What the modem says about the network it is on: registration, operator, radio, signal,
/// serving cell and the SIM's identities. Kept current by NAS indications (serving system,
/// system info, signal info with thresholds) — never by polling — and shown by `qcm status`,
/// its JSON and the systemd STATUS line. Values are kept as the text the status shows,
/// so comparing and storing them needs nothing more than strings.
struct FieldStatus {
    /// (key, value) in the order the modem first said them; a key is absent when it did not say.
    private(set) var values: [(StatusKey, String)] = []

    func value(_ key: StatusKey) -> String? { values.first { $0.0 == key }?.1 }

    /// Sets `key` (nil removes it); true when that changed anything.
    @discardableResult
    mutating func set(_ key: StatusKey, _ value: String?) -> Bool {
        if let i = values.firstIndex(where: { $0.0 == key }) {
            guard let v = value else {
                values.remove(at: i)
                return true
            }
            if values[i].1.equals(v) { return false }
            values[i].1 = v
            return true
        }
        guard let v = value else { return false }
        values.append((key, v))
        return true
    }

    /// The systemd STATUS suffix: "LTE 3/4 CHN-UNICOM" (what fits on one line).
    var short: String? {
        guard let rat = value(.rat) else { return nil }
        var s = Text.uppercasedASCII(rat)
        if let b = value(.signalBars) { s += " \(b)/4" }
        if let o = value(.operatorName) { s += " " + o }
        if value(.roaming)?.equals("yes") == true { s += " (roaming)" }
        return s
    }
}

/// Signal values with their units and the ranges they can have; a value outside its range
/// (a "no value" sentinel such as 5G's -32768, or a wild one) is treated as absent.
enum Signal {
    static func whole(_ v: Int, _ range: ClosedRange<Int>) -> String? { range.contains(v) ? "\(v)" : nil }
    /// Tenths as "12.5".
    static func tenths(_ v: Int, _ range: ClosedRange<Int>) -> String? {
        guard range.contains(v) else { return nil }
        let sign = v < 0 ? "-" : ""
        let a = v < 0 ? -v : v
        return "\(sign)\(a / 10).\(a % 10)"
    }

    /// qcm's 0-4 bars (ModemManager has none): LTE and 5G by RSRP, 3G/2G by RSSI.
    static func bars(rsrp: Int?, rssi: Int?) -> Int? {
        if let p = rsrp {
            return p >= -85 ? 4 : p >= -95 ? 3 : p >= -105 ? 2 : p >= -115 ? 1 : 0
        }
        if let r = rssi {
            return r >= -70 ? 4 : r >= -85 ? 3 : r >= -100 ? 2 : r >= -110 ? 1 : 0
        }
        return nil
    }

    /// The status keys of a signal report (Get Signal Info or a Signal Info indication): the
    /// report replaces the previous one whole, so a RAT it leaves out is cleared.
    static func fields(lte: NAS.LTESignalStrength?, nr: NAS.N5GSignalStrength?, nrRSRQ: Int16?,
                       wcdma: NAS.WCDMASignalStrength?, gsm: Int8?) -> [(StatusKey, String?)] {
        // RSSI 0 means "absent" in signal reports; -125 and -30 are the bounds ModemManager trusts.
        let lteRSRP = lte.flatMap { (-140...(-44)).contains(Int($0.rsrp)) ? Int($0.rsrp) : nil }
        let nrRSRP = nr.flatMap { (-140...(-44)).contains(Int($0.rsrp)) ? Int($0.rsrp) : nil }
        let wcdmaRSSI = wcdma.flatMap { (-124...(-31)).contains(Int($0.rssi)) ? Int($0.rssi) : nil }
        let gsmRSSI = gsm.flatMap { (-124...(-31)).contains(Int($0)) ? Int($0) : nil }
        let bars = Signal.bars(rsrp: lteRSRP ?? nrRSRP, rssi: wcdmaRSSI ?? gsmRSSI)
        return [
            (.signalBars, bars.map { "\($0)" }),
            (.lteRSSI, lte.flatMap { whole(Int($0.rssi), -124...(-31)) }),
            (.lteRSRQ, lte.flatMap { whole(Int($0.rsrq), -43...20) }),
            (.lteRSRP, lteRSRP.map { "\($0)" }),
            (.lteSNR, lte.flatMap { tenths(Int($0.snr), -200...400) }),
            (.nrRSRP, nrRSRP.map { "\($0)" }),
            (.nrRSRQ, nrRSRQ.flatMap { whole(Int($0), -43...20) }),
            (.nrSNR, nr.flatMap { tenths(Int($0.snr), -230...400) }),
            (.wcdmaRSSI, wcdmaRSSI.map { "\($0)" }),
            (.wcdmaEcIo, wcdma.flatMap { e in tenths(-Int(e.ecio) * 5, -400...0) }),
            (.gsmRSSI, gsmRSSI.map { "\($0)" }),
        ]
    }

    /// NAS Config Signal Info: thresholds that make the modem report a change of about 5 dB
    /// (RSSI, RSRP), 3 dB (RSRQ) or 3 dB (SNR) — and nothing in between.
    static func thresholds(clientID: UInt8) -> NAS.ConfigSignalInfo.Request {
        var r = NAS.ConfigSignalInfo.Request(clientID: clientID)
        r.rssiThreshold = stride(from: -110, through: -50, by: 5).map { Int8($0) }
        r.rsrpThreshold = stride(from: -135, through: -60, by: 5).map { Int16($0) }
        r.rsrqThreshold = stride(from: -21, through: -3, by: 3).map { Int8($0) }
        r.lteSNRThreshold = stride(from: -100, through: 300, by: 30).map { Int16($0) }
        return r
    }
}

/// Operator and registration.
enum Network {
    /// "46001", or "310260"; MNCs of three digits (PCS) keep their leading zero.
    static func plmn(mcc: UInt16, mnc: UInt16, threeDigits: Bool) -> String? {
        guard mcc > 0 && mcc < 1000 && mnc < 1000 else { return nil }
        return Text.decimal(Int64(mcc), width: 3) + Text.decimal(Int64(mnc), width: threeDigits || mnc >= 100 ? 3 : 2)
    }

    /// The RAT of a serving-system report: the newest technology in its list.
    static func rat(_ radios: [NAS.RadioInterface]) -> String? {
        for r in [NAS.RadioInterface.`5gnr`, .lte, .umts, .tdScdma, .gsm, .cdma1xevdo, .cdma1x] where radios.contains(r) { return r.name }
        return nil
    }

    /// An IMSI, ICCID or IMEI as shown: digits (and the F filler of ICCIDs) only.
    static func identifier(_ s: String) -> String? {
        let ok = !s.isEmpty && s.utf8.count <= 22 && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || $0 == 70 || $0 == 102 }
        return ok ? s : nil
    }

    /// An operator name as it may be shown: printable, one line, at most 64 bytes.
    static func operatorName(_ s: String) -> String? {
        let clean = Text.shown(s)
        guard !clean.isEmpty else { return nil }
        return clean.utf8.count <= 64 ? clean : String(decoding: Array(clean.utf8.prefix(64)), as: UTF8.self)
    }
}

/// A `qcm status` asking the running qcm, while its requests are out.
struct StatusQuery {
    let token: Int
    var waiting: Int
    var results: [StatusValue]
}
