import CSystem

/// Who is on the other end of a Unix socket (SO_PEERCRED), and whether qcm may trust it.
///
/// Abstract socket names (`@qmi-proxy`, `@mbim-proxy`) belong to whoever binds them first,
/// and a socket file may be replaced by anyone who can write its directory. So before qcm
/// sends anything on a socket it connected to — a PIN, a password, or a request whose answer
/// configures the link — it checks that the process that listens there is root's or runs as
/// qcm's own user; and a server of qcm's (the status socket) knows who asks.
public struct Peer: Equatable {
    public let pid: Int32
    public let uid: UInt32
    public let gid: UInt32

    /// The credentials of `fd`'s peer; nil when the socket has none (not AF_UNIX, closed).
    public init?(fd: Int32) {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        guard csys_peer_cred(fd, &pid, &uid, &gid) == 0 else { return nil }
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    /// Root, or the user qcm runs as: trusted as a modem's stand-in, and shown what qcm
    /// keeps from other users (subscriber and device identifiers).
    public var isTrusted: Bool { uid == 0 || uid == UInt32(getuid()) }

    /// Why qcm refuses to talk to the peer of `fd` (a socket it connected to, described as
    /// `what`); nil when the peer is root or qcm's own user.
    public static func problem(_ fd: Int32, _ what: String) -> String? {
        guard let p = Peer(fd: fd) else {
            return "\(what): cannot tell who is listening there (SO_PEERCRED: \(Errno.current.description)); refusing to use it"
        }
        guard !p.isTrusted else { return nil }
        return "\(what) is served by pid \(p.pid) running as uid \(p.uid), neither root nor qcm's user (uid \(getuid())): "
            + "another user may have taken its name; refusing to use it"
    }

    /// The outcome of connecting to a socket qcm is to talk through.
    public enum Connection {
        /// Connected, and root or qcm's user listens there.
        case trusted(Int32)
        /// connect(2) failed with this errno.
        case failed(Int32)
        /// Someone else listens there (`problem`'s sentence); the socket is closed again.
        case untrusted(String)
    }

    /// Connects to the Unix socket `name` (`@name`: abstract; `seqpacket`: SOCK_SEQPACKET)
    /// and checks who listens there before anything is sent; `what` names it in the refusal.
    public static func connect(_ name: String, _ what: String, seqpacket: Bool = false) -> Connection {
        let fd = seqpacket ? csys_unix_connect_seqpacket(name) : csys_unix_connect(name)
        guard fd >= 0 else { return .failed(csys_errno()) }
        if let why = problem(fd, what) {
            _ = close(fd)
            return .untrusted(why)
        }
        return .trusted(fd)
    }
}
