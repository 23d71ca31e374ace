import Base

/// A usage error: one precise sentence; the caller prints it with the usage and exits 2.
struct UsageError: Error {
    let message: String
}

/// The argument reader every command uses: flags with values, numbers in a range, and
/// quectel-CM's multi-value `-s APN USER PASSWORD AUTH`. Each error names the flag.
struct Args {
    let words: [String]
    private(set) var index = -1

    init(_ words: [String]) { self.words = words }

    /// The next word, or nil at the end.
    mutating func next() -> String? {
        guard index + 1 < words.count else { return nil }
        index += 1
        return words[index]
    }

    /// The value following `flag`.
    mutating func value(_ flag: String, _ what: String = "a value") throws(UsageError) -> String {
        guard let v = next() else { throw UsageError(message: "\(flag) needs \(what)") }
        return v
    }

    /// A decimal (or 0x hex) number following `flag`, within `range`.
    mutating func number(_ flag: String, _ range: ClosedRange<Int>) throws(UsageError) -> Int {
        let v = try value(flag)
        guard let n = Text.parseInt(v), n >= Int64(range.lowerBound), n <= Int64(range.upperBound) else {
            throw UsageError(message: "\(flag): '\(v)' is not a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return Int(n)
    }

    /// quectel-CM style: the values following a flag, up to the next word that starts with "-".
    mutating func values() -> [String] {
        var out: [String] = []
        while index + 1 < words.count, !words[index + 1].begins(with: "-") || words[index + 1].equals("-") {
            index += 1
            out.append(words[index])
        }
        return out
    }

    /// The error for a word no case matched.
    static func unknown(_ word: String) -> UsageError {
        UsageError(message: word.begins(with: "-") ? "unknown option '\(word)'" : "unexpected argument '\(word)'")
    }
}
