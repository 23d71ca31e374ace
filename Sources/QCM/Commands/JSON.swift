import Base
import QMICore

/// Minimal JSON object writer (no Foundation, no reflection).
struct JSONObject {
    private var parts: [String] = []

    mutating func add(_ key: String, _ value: String?) { parts.append("\(Text.jsonString(key)): " + (value.map(Text.jsonString) ?? "null")) }
    mutating func add(_ key: String, _ value: Int?) { parts.append("\(Text.jsonString(key)): " + (value.map { "\($0)" } ?? "null")) }
    mutating func add(_ key: String, _ value: Int64?) { parts.append("\(Text.jsonString(key)): " + (value.map { "\($0)" } ?? "null")) }
    mutating func add(_ key: String, _ value: Bool?) { parts.append("\(Text.jsonString(key)): " + (value.map { $0 ? "true" : "false" } ?? "null")) }
    mutating func add(_ key: String, _ values: [String]) {
        parts.append("\(Text.jsonString(key)): [" + values.map(Text.jsonString).joined(separator: ", ") + "]")
    }
    mutating func addRaw(_ key: String, _ json: String) { parts.append("\(Text.jsonString(key)): " + json) }

    var text: String { "{" + parts.joined(separator: ", ") + "}" }
}
