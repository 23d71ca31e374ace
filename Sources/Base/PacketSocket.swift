import CSystem

/// A packet socket (AF_PACKET, whole Ethernet frames) on one interface for one ethertype,
/// passing only what a classic BPF filter accepts: the kernel drops the rest, so the daemon
/// wakes for nothing else. Used by the DHCP client and the neighbour proxy.
public enum PacketSocket {
    /// The descriptor (non-blocking, close-on-exec); the caller closes it.
    public static func open(index: Int32, ethertype: UInt16, filter: [sock_filter], interface: String) throws(SystemError) -> Int32 {
        let fd = csys_packet_open(index, ethertype)
        guard fd >= 0 else { throw SystemError("open a packet socket on \(interface)") }
        var prog = filter
        if prog.withUnsafeMutableBufferPointer({ csys_attach_filter(fd, $0.baseAddress, UInt16($0.count)) }) != 0 {
            let e = Errno.current
            _ = CSystem.close(fd)
            throw SystemError("attach a packet filter on \(interface)", e)
        }
        return fd
    }
}
