import Foundation
import Base
import CSystem
import QMICore
import QMIMessages

/// Another program talking to the simulator on its own connection (what qmicli or a second
/// qcm would be): blocking requests, for tests that share the modem.
public final class SimClient {
    let fd: Int32
    var reader = FrameReader()
    var tid: UInt8 = 0

    public init(socket: String) throws {
        fd = csys_unix_connect(socket)
        guard fd >= 0 else { throw NSError(domain: "simclient", code: Int(csys_errno())) }
        _ = csys_set_receive_timeout(fd, 3)
    }

    deinit { close(fd) }

    /// A client id of `service`.
    public func allocate(_ service: QMIService) throws -> UInt8 {
        var r = CTL.AllocateClientID.Request()
        r.service = service
        let resp = CTL.AllocateClientID.Response(try call(r.message))
        guard let a = resp.allocation else { throw NSError(domain: "simclient", code: 2) }
        return a.clientID
    }

    /// Sends a CTL request and waits for its response.
    public func call(_ request: QMIMessage) throws -> QMIMessage {
        var m = request
        tid &+= 1
        m.transactionID = UInt16(tid)
        let bytes = m.encode()
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            while let item = reader.next() {
                if case .frame(let f) = item, let r = try? QMIMessage.decode(f), r.kind == .response, r.transactionID == m.transactionID {
                    return r
                }
            }
            let n = read(fd, &buf, buf.count)
            guard n > 0 else { throw NSError(domain: "simclient", code: 3) }
            reader.append(Array(buf[0..<n]))
        }
    }
}
