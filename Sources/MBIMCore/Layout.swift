import Base

/// An information buffer's layout, as data: what the codec builds and reads, what the
/// simulator answers with and what the trace prints all come from it. MBIM 1.0 §10.3: the
/// fixed part holds numbers and UUIDs inline and, for variable data, an offset (from the
/// start of the buffer) with a size or a count; the variable data follows the fixed part,
/// each item starting on a 4-byte boundary. Strings are UTF-16LE without a terminator.
public enum MBIMField {
    /// u32, with the names of its values (or bits) when it has some.
    case u32(String, MBIMNames.Table? = nil)
    case u64(String)
    case uuid(String)
    /// {u32 offset, u32 size} → UTF-16LE text; size 0 is "no string".
    case string(String)
    /// A string never printed (passwords, PINs).
    case secret(String)
    /// Count times {offset, size} → strings; the count is the u32 field at index `count`.
    case strings(String, count: Int)
    /// u32 offset → count × {u32 on-link prefix length, address} (IPv4 or IPv6).
    case addresses(String, v6: Bool, count: Int)
    /// u32 offset (0: none) → one address.
    case addressRef(String, v6: Bool)
    /// u32 offset → count addresses.
    case addressList(String, v6: Bool, count: Int)
    /// Count times {offset, size} → {UUID, u32 DSS payload, u32 max instances, u32 n, n × u32 CIDs}.
    case services(String, count: Int)

    public var name: String {
        switch self {
        case let .u32(n, _), let .u64(n), let .uuid(n), let .string(n), let .secret(n), let .strings(n, _),
             let .addresses(n, _, _), let .addressRef(n, _), let .addressList(n, _, _), let .services(n, _):
            return n
        }
    }

    /// Bytes in the fixed part (for the count-dependent ones: per item).
    var fixedSize: Int {
        switch self {
        case .u32, .addresses, .addressRef, .addressList: return 4
        case .u64, .string, .secret: return 8
        case .uuid: return 16
        case .strings, .services: return 8          // per item
        }
    }
}

/// An address with its on-link prefix length (`.addresses`); the gateway and DNS fields
/// carry bare addresses, read back with the full-length prefix (32 or 128).
public struct MBIMAddress: Equatable {
    public var prefix: Int
    public var address: IPAddress
    public init(prefix: Int, address: IPAddress) {
        self.prefix = prefix
        self.address = address
    }
    /// A bare address (a gateway, a DNS server): the prefix is the address's length.
    public init(_ address: IPAddress) { self.init(prefix: address.family.maxPrefix, address: address) }
}

/// One element of DEVICE_SERVICES: a service and the CIDs the device supports for it.
public struct MBIMDeviceService: Equatable {
    public var service: MBIMUUID
    public var cids: [UInt32]
    public init(service: MBIMUUID, cids: [UInt32]) {
        self.service = service
        self.cids = cids
    }
}

/// A value of a field.
public enum MBIMValue {
    case number(UInt64)
    case text(String?)
    case uuid(MBIMUUID)
    case texts([String])
    case addresses([MBIMAddress])
    case services([MBIMDeviceService])

    public var number: UInt64 {
        if case .number(let v) = self { return v }
        return 0
    }
    public var u32: UInt32 { UInt32(truncatingIfNeeded: number) }
    public var text: String? {
        if case .text(let s) = self { return s }
        return nil
    }
    public var texts: [String] {
        if case .texts(let t) = self { return t }
        return []
    }
    public var addresses: [MBIMAddress] {
        if case .addresses(let a) = self { return a }
        return []
    }
    public var uuid: MBIMUUID {
        if case .uuid(let u) = self { return u }
        return .none
    }
    public var serviceList: [MBIMDeviceService] {
        if case .services(let s) = self { return s }
        return []
    }
}

public struct MBIMLayout {
    public let name: String
    public let fields: [MBIMField]

    public init(_ name: String, _ fields: [MBIMField]) {
        self.name = name
        self.fields = fields
    }

    // MARK: building

    /// The information buffer for `values` (one per field, in order; missing ones are zero).
    public func encode(_ values: [MBIMValue]) -> [UInt8] {
        func value(_ i: Int) -> MBIMValue { i < values.count ? values[i] : .number(0) }
        func count(_ i: Int) -> Int {
            switch value(i) {
            case .texts(let t): return t.count
            case .addresses(let a): return a.count
            case .services(let s): return s.count
            default: return 0
            }
        }
        // Counts are taken from the data they count, so they can never disagree.
        var counted: [(field: Int, count: Int)] = []
        for (i, f) in fields.enumerated() {
            switch f {
            case let .strings(_, c), let .addresses(_, _, c), let .addressList(_, _, c), let .services(_, c): counted.append((c, count(i)))
            default: break
            }
        }
        var fixedSize = 0
        for (i, f) in fields.enumerated() {
            switch f {
            case .strings, .services: fixedSize += 8 * count(i)
            default: fixedSize += f.fixedSize
            }
        }
        var fixed = Writer(), data: [UInt8] = []
        func place(_ bytes: [UInt8]) -> UInt32 {
            let at = fixedSize + data.count
            data += bytes
            while data.count % 4 != 0 { data.append(0) }
            return UInt32(at)
        }
        for (i, f) in fields.enumerated() {
            let v = value(i)
            switch f {
            case .u32: fixed.u32(counted.first { $0.field == i }.map { UInt32($0.count) } ?? v.u32)
            case .u64: fixed.u64(v.number)
            case .uuid: fixed.bytes += v.uuid.bytes
            case .string, .secret:
                let u = MBIMText.utf16(v.text ?? "")
                if u.isEmpty { fixed.u32(0); fixed.u32(0) } else { fixed.u32(place(u)); fixed.u32(UInt32(u.count)) }
            case .strings:
                if case .texts(let list) = v {
                    for s in list {
                        let u = MBIMText.utf16(s)
                        fixed.u32(u.isEmpty ? 0 : place(u))
                        fixed.u32(UInt32(u.count))
                    }
                }
            case let .addresses(_, v6, _):
                let list = v.addresses
                if list.isEmpty { fixed.u32(0) } else {
                    var b = Writer()
                    for a in list {
                        b.u32(UInt32(a.prefix))
                        b.bytes += v6 ? MBIMLayout.sized(a.address.bytes, 16) : MBIMLayout.sized(a.address.bytes, 4)
                    }
                    fixed.u32(place(b.bytes))
                }
            case let .addressRef(_, v6):
                if let a = v.addresses.first { fixed.u32(place(MBIMLayout.sized(a.address.bytes, v6 ? 16 : 4))) } else { fixed.u32(0) }
            case let .addressList(_, v6, _):
                let list = v.addresses
                if list.isEmpty { fixed.u32(0) } else {
                    fixed.u32(place(list.flatMap { MBIMLayout.sized($0.address.bytes, v6 ? 16 : 4) }))
                }
            case .services:
                for s in v.serviceList {
                    var b = Writer()
                    b.bytes += s.service.bytes
                    b.u32(0)
                    b.u32(1)
                    b.u32(UInt32(s.cids.count))
                    for c in s.cids { b.u32(c) }
                    let size = b.bytes.count
                    fixed.u32(place(b.bytes))
                    fixed.u32(UInt32(size))
                }
            }
        }
        return fixed.bytes + data
    }

    static func sized(_ b: [UInt8], _ n: Int) -> [UInt8] { b.count == n ? b : [UInt8](repeating: 0, count: n) }

    // MARK: reading

    /// The values of `buffer`, every offset and size checked against it. A buffer shorter
    /// than the fixed part, or pointing outside itself, is malformed.
    public func decode(_ buffer: [UInt8]) -> Result<[MBIMValue], MBIMError> {
        let r = Reader(buffer)
        var values: [MBIMValue] = []
        var o = 0
        func bad(_ f: MBIMField, _ why: String) -> Result<[MBIMValue], MBIMError> {
            .failure(.malformed("\(name) \(f.name): \(why)"))
        }
        for f in fields {
            let n: Int
            switch f {
            case let .strings(_, c), let .services(_, c): n = 8 * min(Int(values[safe: c]?.number ?? 0), 4096)
            default: n = f.fixedSize
            }
            guard r.has(o, n) else { return bad(f, "the buffer ends at \(buffer.count) bytes, inside the fixed part") }
            switch f {
            case .u32: values.append(.number(UInt64(r.u32(o))))
            case .u64: values.append(.number(r.u64(o)))
            case .uuid: values.append(.uuid(MBIMUUID(Array(buffer[o..<(o + 16)]))))
            case .string, .secret:
                let at = Int(r.u32(o)), size = Int(r.u32(o + 4))
                if size == 0 { values.append(.text(nil)); break }
                guard r.has(at, size) else { return bad(f, "string at \(at) of \(size) bytes lies outside the \(buffer.count)-byte buffer") }
                guard size % 2 == 0 else { return bad(f, "string of \(size) bytes: UTF-16 needs an even size") }
                values.append(.text(MBIMText.string(Array(buffer[at..<(at + size)]))))
            case .strings:
                var list: [String] = []
                for k in 0..<(n / 8) {
                    let at = Int(r.u32(o + 8 * k)), size = Int(r.u32(o + 8 * k + 4))
                    guard size == 0 || (r.has(at, size) && size % 2 == 0) else { return bad(f, "string \(k) at \(at) of \(size) bytes") }
                    list.append(size == 0 ? "" : MBIMText.string(Array(buffer[at..<(at + size)])))
                }
                values.append(.texts(list))
            case let .addresses(_, v6, c):
                let at = Int(r.u32(o)), count = min(Int(values[safe: c]?.number ?? 0), 64), each = v6 ? 20 : 8
                var list: [MBIMAddress] = []
                if count > 0 {
                    guard r.has(at, count * each) else { return bad(f, "\(count) addresses at \(at) lie outside the buffer") }
                    for k in 0..<count {
                        let p = at + k * each
                        if let a = IPAddress(Array(buffer[(p + 4)..<(p + each)])) { list.append(MBIMAddress(prefix: Int(r.u32(p)), address: a)) }
                    }
                }
                values.append(.addresses(list))
            case let .addressRef(_, v6):
                let at = Int(r.u32(o)), size = v6 ? 16 : 4
                if at == 0 { values.append(.addresses([])); break }
                guard r.has(at, size), let a = IPAddress(Array(buffer[at..<(at + size)])) else { return bad(f, "address at \(at) lies outside the buffer") }
                values.append(.addresses([MBIMAddress(a)]))
            case let .addressList(_, v6, c):
                let at = Int(r.u32(o)), count = min(Int(values[safe: c]?.number ?? 0), 64), size = v6 ? 16 : 4
                var list: [MBIMAddress] = []
                if count > 0 {
                    guard r.has(at, count * size) else { return bad(f, "\(count) addresses at \(at) lie outside the buffer") }
                    for k in 0..<count {
                        if let a = IPAddress(Array(buffer[(at + k * size)..<(at + (k + 1) * size)])) { list.append(MBIMAddress(a)) }
                    }
                }
                values.append(.addresses(list))
            case .services:
                var list: [MBIMDeviceService] = []
                for k in 0..<(n / 8) {
                    let at = Int(r.u32(o + 8 * k)), size = Int(r.u32(o + 8 * k + 4))
                    guard size >= 28, r.has(at, size) else { return bad(f, "element \(k) at \(at) of \(size) bytes") }
                    let cids = min(Int(r.u32(at + 24)), (size - 28) / 4)
                    list.append(MBIMDeviceService(service: MBIMUUID(Array(buffer[at..<(at + 16)])), cids: (0..<cids).map { r.u32(at + 28 + 4 * $0) }))
                }
                values.append(.services(list))
            }
            o += n
        }
        return .success(values)
    }

    /// "SessionId=0 ActivationState=activated ..." for the trace; secrets as ***.
    public func describe(_ values: [MBIMValue]) -> String {
        var parts: [String] = []
        for (i, f) in fields.enumerated() where i < values.count {
            let v = values[i]
            let shown: String
            switch f {
            case let .u32(_, table): shown = table.map { $0.describe(v.u32) } ?? "\(v.number)"
            case .u64: shown = "\(v.number)"
            case .uuid: shown = v.uuid.name
            case .string: shown = v.text.map { "'\($0)'" } ?? "(none)"
            case .secret: shown = v.text == nil ? "(none)" : "'***'"
            case .strings:
                if case .texts(let t) = v { shown = "[" + t.map { "'\($0)'" }.joined(separator: ", ") + "]" } else { shown = "[]" }
            case .addresses, .addressList, .addressRef:
                shown = "[" + v.addresses.map { "\($0.address.text)/\($0.prefix)" }.joined(separator: ", ") + "]"
            case .services:
                shown = "[" + v.serviceList.map { "\($0.service.name) cids \($0.cids.map { "\($0)" }.joined(separator: ","))" }.joined(separator: "; ") + "]"
            }
            parts.append("\(f.name)=\(shown)")
        }
        return parts.joined(separator: " ")
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { i >= 0 && i < count ? self[i] : nil }
}

/// UTF-16LE text as MBIM carries it (the Basic Multilingual Plane; surrogate pairs are kept
/// as pairs, a lone one becomes U+FFFD). What is unsafe to show (controls, bidi overrides:
/// `Text.isUnsafeToShow`) never comes out as it is: it is escaped, so no string from the
/// modem can add a line, steer a terminal or reorder a log line.
public enum MBIMText {
    public static func utf16(_ s: String) -> [UInt8] { s.utf16.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] } }

    public static func string(_ b: [UInt8]) -> String {
        var out: [UInt8] = []
        for scalar in Text.utf16LEScalars(b) {
            Text.appendShown(scalar ?? 0xfffd, to: &out)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
