#if QCM_AT
import Base
import ATCore
import ATMessages

/// Field status on an AT module: registration, area, cell and technology come with the
/// registration reports (ATCalls.swift); the operator once registered; the signal and the
/// serving cell once connected and whenever `qcm status` asks — so an idle connection costs
/// no wake-ups, and `qcm status` shows values read that moment.
extension ATSession {
    func operatorAnswered(_ r: Result<ATReply, ATError>) {
        guard let a = ATSession.line(AT.CurrentOperator.Answer.self, r) else { return }
        if let t = a.act { act = t }
        updateField([(.operatorName, a.name.flatMap(Network.operatorName)), (.rat, registered ? ATSession.rat(act) : nil)])
    }

    /// `qcm status` asking: the operator, the signal and the serving cell, read now (the
    /// module answers one command at a time, so the query's answer follows the last of them).
    func statusQuery(_ token: Int) {
        guard isReady else { return emit(.statusReply(token, [])) }
        queryStarted(token, requests: 2)
        send(.currentOperator, AT.CurrentOperator())
        send(.signal(query: token), AT.SignalQuality())
        send(.servingCell(query: token), AT.ServingCell(kind: "servingcell"))
    }

    /// +CSQ: RSSI 0-31 is -113 + 2n dBm (99: unknown), for the RAT the module is on.
    func signalAnswered(_ query: Int?, _ r: Result<ATReply, ATError>) {
        defer { if let q = query { queryAnswered(q, []) } }
        guard let a = ATSession.line(AT.SignalQuality.Answer.self, r) else { return }
        rssi = a.rssi >= 0 && a.rssi <= 31 ? -113 + 2 * Int(a.rssi) : nil
        let rat = ATSession.rat(act)
        let key: StatusKey? = rat?.equals("lte") == true ? .lteRSSI : rat?.equals("umts") == true ? .wcdmaRSSI : rat?.equals("gsm") == true ? .gsmRSSI : nil
        let shown = rssi.map { "\($0)" }
        updateField([StatusKey.lteRSSI, .wcdmaRSSI, .gsmRSSI].map { k in (k, k == key ? shown : nil) }
                    + [(.signalBars, Signal.bars(rsrp: rsrp, rssi: rssi).map { "\($0)" })])
    }

    /// The RSRP the serving cell reported last (LTE, or 5G standalone).
    var rsrp: Int? {
        (field.value(.lteRSRP) ?? field.value(.nrRSRP)).flatMap { Text.parseInt($0) }.map { Int($0) }
    }

    /// AT+QENG="servingcell": LTE and 5G standalone in one line, 5G NSA in three (state, the
    /// LTE anchor, the NR leg); values a module writes as "-" are left out.
    func servingCellAnswered(_ query: Int?, _ r: Result<ATReply, ATError>) {
        defer { if let q = query { queryAnswered(q, []) } }
        guard case .success(let reply) = r else { return }
        var pairs: [(StatusKey, String?)] = []
        var lte = false, nr = false
        for l in reply.lines {
            if let c = try? AT.ServingLTE(decoding: l), c.rat.equals("LTE") {
                lte = true
                pairs += ATSession.lteFields(rsrp: c.rsrp, rsrq: c.rsrq, sinr: c.sinr)
                pairs += ATSession.cellFields(mcc: c.mcc, mnc: c.mnc, cell: c.cell, area: c.tac, band: c.band, channel: c.earfcn)
            } else if let c = try? AT.ServingNR(decoding: l), c.rat.equals("NR5G-SA") {
                nr = true
                pairs += ATSession.nrFields(rsrp: c.rsrp, rsrq: c.rsrq, sinr: c.sinr)
                pairs += ATSession.cellFields(mcc: c.mcc, mnc: c.mnc, cell: c.cell, area: c.tac, band: c.band, channel: c.arfcn)
            } else if let c = try? AT.AnchorLTE(decoding: l), c.rat.equals("LTE") {
                lte = true
                pairs += ATSession.lteFields(rsrp: c.rsrp, rsrq: c.rsrq, sinr: c.sinr)
                pairs += ATSession.cellFields(mcc: c.mcc, mnc: c.mnc, cell: c.cell, area: c.tac, band: c.band, channel: c.earfcn)
            } else if let c = try? AT.SecondaryNR(decoding: l), c.rat.equals("NR5G-NSA") {
                nr = true
                pairs += ATSession.nrFields(rsrp: c.rsrp, rsrq: c.rsrq, sinr: c.sinr)
            }
        }
        guard lte || nr else { return }
        if !lte { pairs += [(.lteRSRP, nil), (.lteRSRQ, nil), (.lteSNR, nil)] }
        if !nr { pairs += [(.nrRSRP, nil), (.nrRSRQ, nil), (.nrSNR, nil)] }
        updateField(pairs)
        updateField([(.signalBars, Signal.bars(rsrp: rsrp, rssi: rssi).map { "\($0)" })])
    }

    static func lteFields(rsrp: Int64?, rsrq: Int64?, sinr: Int64?) -> [(StatusKey, String?)] {
        [(.lteRSRP, rsrp.flatMap { Signal.whole(Int($0), -140...(-44)) }), (.lteRSRQ, rsrq.flatMap { Signal.whole(Int($0), -43...20) }),
         (.lteSNR, sinr.flatMap { Signal.whole(Int($0), -20...40) })]
    }

    static func nrFields(rsrp: Int64?, rsrq: Int64?, sinr: Int64?) -> [(StatusKey, String?)] {
        [(.nrRSRP, rsrp.flatMap { Signal.whole(Int($0), -140...(-44)) }), (.nrRSRQ, rsrq.flatMap { Signal.whole(Int($0), -43...20) }),
         (.nrSNR, sinr.flatMap { Signal.whole(Int($0), -23...40) })]
    }

    static func cellFields(mcc: String?, mnc: String?, cell: Int64?, area: Int64?, band: Int64?, channel: Int64?) -> [(StatusKey, String?)] {
        var out: [(StatusKey, String?)] = []
        if let c = mcc, let n = mnc, c.utf8.count == 3, n.utf8.count == 2 || n.utf8.count == 3, Network.identifier(c + n) != nil {
            out.append((.mccMnc, c + n))
        }
        if let c = cell { out.append((.cellID, "\(c)")) }
        if let a = area { out.append((.tac, "\(a)")) }
        if let b = band, b > 0 && b < 1000 { out.append((.band, "\(b)")) }
        if let ch = channel, ch >= 0 { out.append((.rfChannel, "\(ch)")) }
        return out
    }
}
#endif
