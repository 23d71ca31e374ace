import QMICore
import QMIMessages

/// What the SIM needs, read from UIM Get Card Status (or DMS UIM Get PIN Status on modems
/// without a UIM service), and the policy for it: never try a PIN when one attempt is
/// left, never retry a wrong one.
enum SIM: Equatable {
    case ready
    case absent
    case pinRequired(retriesLeft: Int?)
    case pukBlocked
    /// The modem did not say: let the dial find out.
    case unknown

    /// quectel-CM's word for the state, for the `requestGetSIMStatus` log line.
    var logName: String {
        switch self {
        case .ready, .unknown: return "SIM_READY"
        case .absent: return "SIM_ABSENT"
        case .pinRequired: return "SIM_PIN"
        case .pukBlocked: return "SIM_PUK"
        }
    }

    static func from(_ r: UIM.GetCardStatus.Response) -> SIM {
        guard r.result?.ok == true, let card = r.cardStatus?.cards.first else { return .unknown }
        guard card.cardState == .present else { return .absent }
        guard let app = card.applications.first else { return .unknown }
        let retries = Int(app.pin1Retries)
        if app.state == .ready { return .ready }
        if app.pin1State == .enabledNotVerified || app.state == .pin1OrUpinPinRequired { return .pinRequired(retriesLeft: retries) }
        if app.pin1State == .blocked || app.pin1State == .permanentlyBlocked || app.state == .puk1OrUpinPukRequired
            || app.state == .pin1Blocked {
            return .pukBlocked
        }
        return .unknown
    }

    static func from(_ r: DMS.UIMGetPINStatus.Response) -> SIM {
        if let res = r.result, !res.ok {
            return res.protocolError == .uimUninitialized || res.protocolError == .noSim ? .absent : .unknown
        }
        guard let st = r.pin1Status else { return .unknown }
        switch st.status {
        case .enabledNotVerified: return .pinRequired(retriesLeft: Int(st.verifyRetriesLeft))
        case .blocked, .permanentlyBlocked: return .pukBlocked
        default: return .ready
        }
    }

    enum Decision: Equatable {
        case proceed
        case verify(String)
        case fail(String)
    }

    /// What to do about this SIM with the PIN given on the command line; `verified` when a
    /// PIN was already accepted in this session.
    func decide(pin: String?, verified: Bool) -> Decision {
        switch self {
        case .ready, .unknown:
            return .proceed
        case .absent:
            return .fail("no SIM card: insert one (and check it is seated), then start qcm again")
        case .pukBlocked:
            return .fail("the SIM is blocked and needs its PUK; unblock it (AT+CPIN=\"PUK\",\"NEWPIN\") before using qcm")
        case .pinRequired(let left):
            guard let pin else { return .fail("the SIM asks for its PIN: give it with -p PIN") }
            if verified { return .fail("the SIM still asks for its PIN after it was verified") }
            if let l = left, l <= 1 {
                return .fail("only \(l) PIN attempt left: qcm will not risk blocking the SIM; verify the PIN by hand (AT+CPIN) if you are sure of it")
            }
            return .verify(pin)
        }
    }
}
