#if QCM_MBIM
import Base
import LinkConfig
import MBIMCore

extension Plans {
    /// From an MBIM IP_CONFIGURATION: the first address of each family, its gateway, DNS
    /// servers and MTU — each only where its availability bit says so, and checked like QMI's.
    static func fromMBIM(_ v: [MBIMValue], interface: String, metric: UInt32, defaultRoute: Bool) -> LinkPlan {
        typealias I = MBIMCatalogue.IPConfiguration
        let plan = LinkPlan(interface: interface, metric: metric, defaultRoute: defaultRoute)
        var dns: [IPAddress] = []
        let v4 = v[I.v4Available].u32, v6 = v[I.v6Available].u32
        if v4 & I.address != 0, let a = v[I.v4Address].addresses.first, a.address.isUsableUnicast, a.prefix >= 1 && a.prefix <= 32 {
            let gw = v4 & I.gateway != 0 ? v[I.v4Gateway].addresses.first.map { $0.address }.flatMap { $0.isUsableUnicast ? $0 : nil } : nil
            plan.ipv4 = .init(address: a.address, prefix: a.prefix, gateway: gw, routeViaGateway: false)
        }
        if v6 & I.address != 0, let a = v[I.v6Address].addresses.first, a.address.isUsableUnicast, a.prefix >= 1 && a.prefix <= 128 {
            let gw = v6 & I.gateway != 0 ? v[I.v6Gateway].addresses.first.map { $0.address }.flatMap { $0.isUsableUnicast ? $0 : nil } : nil
            plan.ipv6 = .init(address: a.address, prefix: a.prefix, gateway: gw, routeViaGateway: false)
        }
        if v4 & I.dns != 0 { dns += v[I.v4DNS].addresses.map { $0.address }.filter { $0.isUsableUnicast } }
        if v6 & I.dns != 0 { dns += v[I.v6DNS].addresses.map { $0.address }.filter { $0.isUsableUnicast } }
        let mtu = v4 & I.mtu != 0 ? v[I.v4MTU].u32 : v6 & I.mtu != 0 ? v[I.v6MTU].u32 : 0
        if mtu >= 576 && mtu <= 65535 { plan.mtu = mtu }
        plan.dns = DNSManager.usable(dns)
        return plan
    }
}

/// Field status on MBIM: registration and operator come with REGISTER_STATE (MBIMCalls),
/// the signal with SIGNAL_STATE and its indications; packet counters when `qcm status` asks.
extension MBIMSession {
    /// Once ready: the modem is to report an RSSI change of 2 coded steps (4 dB), and
    /// nothing by time or error rate, so an idle connection costs no wake-ups; then the first
    /// value is read. Packet counters are read only when `qcm status` asks.
    func watchSignal() {
        typealias S = MBIMCatalogue.SignalState
        command(.signalSet, S.cid, set: true, S.set.encode([.number(0), .number(2), .number(UInt64(S.unspecified))]))
        command(.signal, S.cid)
    }

    func signal(_ v: [MBIMValue]) {
        rssi = MBIMCatalogue.SignalState.dBm(v[MBIMCatalogue.SignalState.rssi].u32)
        updateField(signalFields())
    }

    /// MBIM 1.0 has one RSSI, for the RAT the modem is on: it fills that RAT's key of the
    /// ones QMI modems fill and the bars. LTE, and 5G NSA (whose anchor is LTE), as LTE;
    /// 5G standalone has no key (QMI reports it by RSRP).
    func signalFields() -> [(StatusKey, String?)] {
        let key: StatusKey? = dataClasses & 0x60 != 0 ? .lteRSSI : dataClasses & 0x1c != 0 ? .wcdmaRSSI
            : dataClasses & 0x03 != 0 ? .gsmRSSI : nil
        let shown = rssi.map { "\($0)" }
        return [(.signalBars, Signal.bars(rsrp: nil, rssi: rssi).map { "\($0)" })]
            + [StatusKey.lteRSSI, .wcdmaRSSI, .gsmRSSI].map { k in (k, k == key ? shown : nil) }
    }

    /// `qcm status` asking: the counters of the session, read now (2 s at most).
    func statusQuery(_ token: Int) {
        guard isReady, call.phase == .connected else { return emit(.statusReply(token, [])) }
        queryStarted(token, requests: 1)
        command(.statistics(query: token), MBIMCatalogue.PacketStatistics.cid, timeout: 2000)
    }

    func statistics(_ token: Int, _ r: Result<MBIMMessage, MBIMError>) {
        typealias P = MBIMCatalogue.PacketStatistics
        guard case .success = r, let v = values(P.response, r) else { return queryAnswered(token, []) }
        let counters: [(StatusKey, Int)] = [(.txBytes, P.outOctets), (.rxBytes, P.inOctets), (.txPackets, P.outPackets),
                                            (.rxPackets, P.inPackets), (.txDropped, P.outDiscards), (.rxDropped, P.inDiscards)]
        queryAnswered(token, counters.map { StatusValue(pdn: call.pdn, key: $0.0, value: "\(v[$0.1].number)") })
    }
}
#endif
