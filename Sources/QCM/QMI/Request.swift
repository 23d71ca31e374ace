import Base
import QMICore
import QMIMessages

/// What a QMI client id is for: the session's own services (DMS, NAS, UIM, WDA), or one
/// IP family of a PDN's call (WDS).
enum ClientUse: Equatable {
    case session
    case call(pdn: Int, family: Family)
}

/// Every request the QMI session sends, named by what it is for, so its answer finds its
/// way back to the step that asked.
enum Request: Equatable {
    case proxyOpen
    case sync
    case allocate(QMIService, for: ClientUse)
    case release(QMIService, UInt8)
    case revision
    case ids
    case cardStatus
    case pinStatus
    case servingSystem
    case verifyPIN
    case dataFormat
    case radio(DMS.OperatingMode)
    case packetStatus(pdn: Int, family: Family)
    case readProfile(pdn: Int)
    case createProfile(pdn: Int)
    case modifyProfile(pdn: Int)
    case setIPFamily(pdn: Int, family: Family)
    /// Bind Mux Data Port: the PDN's WDS client for `family` to its QMAP mux.
    case bindMux(pdn: Int, family: Family)
    case stopStale(pdn: Int, family: Family)
    case start(pdn: Int, family: Family)
    case stop(pdn: Int, family: Family)
    case runtimeSettings(pdn: Int, family: Family)
    /// A PDN's call state asked again, after a frame was lost.
    case recheck(pdn: Int, family: Family)
    // Field status (QMIField.swift).
    case configSignal
    case registerIndications
    case signalInfo
    case systemInfo
    case imsi
    case iccid
    case packetStats(pdn: Int, query: Int)
    case rfBand(query: Int)

    /// Asked for `qcm status`, not for the session.
    var asksForUser: Bool {
        switch self {
        case .packetStats, .rfBand: return true
        default: return false
        }
    }
}

/// What only QMI says: the answers to requests, indications, and frames lost on the way.
enum QMIEvent {
    /// A request's answer (or its timeout, or the channel closing under it).
    case response(Request, Result<QMIMessage, QMIError>)
    case indication(QMIMessage)
    /// The channel delivered bytes that were not a valid frame (they were discarded): a
    /// message may have been lost with them.
    case frameDiscarded
}

extension Family {
    /// WDS's IP family (4 or 6).
    var wds: WDS.IpFamily { self == .ipv4 ? .ipv4 : .ipv6 }

    /// The family of WDS's 4 or 6 (nil for anything else).
    init?(wds: WDS.IpFamily?) {
        switch wds?.rawValue {
        case 4?: self = .ipv4
        case 6?: self = .ipv6
        default: return nil
        }
    }
}
