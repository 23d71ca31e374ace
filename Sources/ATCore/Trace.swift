import Base

/// AT lines named by the catalogue, for `qcm decode`: what a command asks, what an answer or
/// an unsolicited line says, field by field, secrets as ****.
public enum ATTrace {
    /// The lines of a -v trace carry these in front (qcm's and quectel-CM's alike).
    public static let sentMark = "AT> ", receivedMark = "AT< "

    /// The AT line in a log line ("… AT> AT+CPIN?" → "AT+CPIN?"), and whether qcm sent it.
    public static func find(in logLine: String) -> (line: String, sent: Bool)? {
        let l = Array(logLine.utf8)
        for (mark, sent) in [(sentMark, true), (receivedMark, false)] {
            let m = Array(mark.utf8)
            guard l.count >= m.count else { continue }
            // Compared in place: a copy per position made `qcm decode` of a long line slow.
            for i in 0...(l.count - m.count) where l[i] == m[0] && l[i..<(i + m.count)].elementsEqual(m) {
                return (Text.trimmed(String(decoding: l[(i + m.count)...], as: UTF8.self)), sent)
            }
        }
        return nil
    }

    /// A received line with the secrets of the answer it fits as **** (a +QICSGP answer
    /// carries the password).
    public static func masked(received line: String) -> String {
        let (prefix, body) = ATText.split(line)
        guard let p = prefix else { return line }
        let tokens = ATText.fields(body)
        for c in ATCatalogue.all where c.prefix.equals(p) && c.answer.fields.contains(where: { $0.secret }) && c.answer.fits(tokens) {
            return p + ": " + c.answer.masked(body)
        }
        for l in ATCatalogue.layouts where l.prefix.equals(p) && l.fields.fields.contains(where: { $0.secret }) && l.fields.fits(tokens) {
            return p + ": " + l.fields.masked(body)
        }
        return line
    }

    /// What `line` is: every definition it fits, named and described (nil: none).
    public static func describe(_ line: String, sent: Bool) -> [String]? {
        if sent {
            let commands = ATCatalogue.commands(for: line)
            guard !commands.isEmpty, let p = ATCatalogue.parse(commandLine: line) else { return nil }
            return commands.map { c in
                let values = (try? c.parameters.decode(p.parameters)) ?? []
                let fields = c.parameters.describe(values)
                return "\(c.name): \(c.about)" + (fields.isEmpty ? "" : " — " + fields)
            }
        }
        if let f = ATFinal.parse(line) { return [f.isOK ? "OK" : "error: " + f.description] }
        let (prefix, body) = ATText.split(line)
        var out: [String] = []
        if let u = ATCatalogue.unsolicited(line) {
            let fields = (try? u.fields.decode(body)).map { u.fields.describe($0) } ?? ""
            out.append("unsolicited \(u.name): \(u.about)" + (fields.isEmpty ? "" : " — " + fields))
        }
        guard let p = prefix else { return out.isEmpty ? nil : out }
        let tokens = ATText.fields(body)
        for c in ATCatalogue.all where c.answerKind == .line || c.answerKind == .lines {
            guard c.prefix.equals(p), c.answer.fits(tokens), let v = try? c.answer.decode(body) else { continue }
            out.append("answer to \(c.name): " + c.answer.describe(v))
        }
        for l in ATCatalogue.layouts where l.prefix.equals(p) && l.fields.fits(tokens) {
            if let v = try? l.fields.decode(body) { out.append("\(l.name): " + l.fields.describe(v)) }
        }
        return out.isEmpty ? nil : out
    }
}
