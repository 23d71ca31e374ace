/// A map for a handful of entries (pending transactions, per-IP-family client ids), kept
/// as an array in insertion order and searched linearly. Dictionary would do the same job,
/// but every Dictionary type adds about 1.5 KB of hashing and resizing code to the
/// Embedded binary, and its iteration order is not the order things happened in.
public struct SmallMap<Key: Equatable, Value> {
    public private(set) var pairs: [(key: Key, value: Value)] = []

    public init() {}

    public var isEmpty: Bool { pairs.isEmpty }
    public var count: Int { pairs.count }
    public var values: [Value] { pairs.map { $0.value } }

    public subscript(key: Key) -> Value? {
        get {
            for p in pairs where p.key == key { return p.value }
            return nil
        }
        set {
            if let v = newValue {
                if let i = pairs.firstIndex(where: { $0.key == key }) { pairs[i].value = v } else { pairs.append((key, v)) }
            } else {
                _ = removeValue(forKey: key)
            }
        }
    }

    @discardableResult
    public mutating func removeValue(forKey key: Key) -> Value? {
        guard let i = pairs.firstIndex(where: { $0.key == key }) else { return nil }
        return pairs.remove(at: i).value
    }

    public mutating func removeAll() { pairs.removeAll() }
}
