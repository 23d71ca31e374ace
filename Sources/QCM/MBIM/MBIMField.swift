#if QCM_MBIM
import Base
import LinkConfig
import MBIMCore
import MBIMMessages

extension Plans {
    /// From an MBIM IP_CONFIGURATION: the first address of each family, its gateway, DNS
    /// servers and MTU — each only where its availability bit says so, and checked like QMI's.
    static func fromMBIM(_ v: MBIM.IPConfiguration.Response, interface: String, metric: UInt32, defaultRoute: Bool) -> LinkPlan {
        let plan = LinkPlan(interface: interface, metric: metric, defaultRoute: defaultRoute)
        var dns: [IPAddress] = []
        let v4 = v.ipv4ConfigurationAvailable, v6 = v.ipv6ConfigurationAvailable
        if v4.contains(.address), let a = v.ipv4Address.first, a.address.isUsableUnicast, a.prefix >= 1 && a.prefix <= 32 {
            let gw = v4.contains(.gateway) ? v.ipv4Gateway.flatMap { $0.isUsableUnicast ? $0 : nil } : nil
            plan.ipv4 = .init(address: a.address, prefix: a.prefix, gateway: gw, routeViaGateway: false)
        }
        if v6.contains(.address), let a = v.ipv6Address.first, a.address.isUsableUnicast, a.prefix >= 1 && a.prefix <= 128 {
            let gw = v6.contains(.gateway) ? v.ipv6Gateway.flatMap { $0.isUsableUnicast ? $0 : nil } : nil
            plan.ipv6 = .init(address: a.address, prefix: a.prefix, gateway: gw, routeViaGateway: false)
        }
        if v4.contains(.dns) { dns += v.ipv4DNSServer.filter { $0.isUsableUnicast } }
        if v6.contains(.dns) { dns += v.ipv6DNSServer.filter { $0.isUsableUnicast } }
        let mtu = v4.contains(.mtu) ? v.ipv4MTU : v6.contains(.mtu) ? v.ipv6MTU : 0
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
        typealias S = MBIM.SignalState
        command(.signalSet, S.cid, set: true,
                S.Set(signalStrengthInterval: 0, rssiThreshold: 2, errorRateThreshold: MBIMCatalogue.SignalState.unspecified).encode())
        command(.signal, S.cid)
    }

    func signal(_ v: MBIM.SignalState.Response) {
        rssi = MBIMCatalogue.SignalState.dBm(v.rssi)
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
        command(.statistics(query: token), MBIM.PacketStatistics.cid, timeout: 2000)
    }

    func statistics(_ token: Int, _ r: Result<MBIMMessage, MBIMError>) {
        guard case .success = r, let v = decoded(MBIM.PacketStatistics.Response.self, r) else { return queryAnswered(token, []) }
        let counters: [(StatusKey, UInt64)] = [(.txBytes, v.outOctets), (.rxBytes, v.inOctets), (.txPackets, v.outPackets),
                                               (.rxPackets, v.inPackets), (.txDropped, UInt64(v.outDiscards)), (.rxDropped, UInt64(v.inDiscards))]
        queryAnswered(token, counters.map { StatusValue(pdn: call.pdn, key: $0.0, value: "\($0.1)") })
    }
}
#endif
