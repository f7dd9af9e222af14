import Foundation
public import WhipCore

/// Turns what a person types into instants, and back.
public enum Dates {
    /// Whether `name` is a time zone this system knows.
    public static func isValidTimeZone(_ name: String) -> Bool { TimeZone(identifier: name) != nil }

    /// The system's time zone name, falling back to UTC.
    public static var localTimeZone: String {
        let id = TimeZone.current.identifier
        return id.isEmpty ? "UTC" : id
    }

    /// Parses `2027-03-31` (the whole day, in `timeZone`) or `2027-03-31T18:00` into ms since the epoch.
    /// With `endOfDay`, a bare date means the first instant after that day ends.
    public static func parse(_ text: String, timeZone: String, endOfDay: Bool) throws(WhipError) -> UInt64 {
        guard let tz = TimeZone(identifier: timeZone) else {
            throw WhipError(.invalidArgument, "'\(timeZone)' is not a known time zone (use an IANA name such as Europe/London)")
        }
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = tz
        let parts = text.split(separator: "T", maxSplits: 1)
        let ymd = parts.first.map { $0.split(separator: "-").compactMap { Int($0) } } ?? []
        guard ymd.count == 3, (1...12).contains(ymd[1]), (1...31).contains(ymd[2]), ymd[0] >= 1970, ymd[0] <= 9999 else {
            throw WhipError(.invalidArgument, "'\(text)' is not a date: write it as YYYY-MM-DD, e.g. 2027-03-31")
        }
        var dc = DateComponents(year: ymd[0], month: ymd[1], day: ymd[2])
        if parts.count == 2 {
            let hm = parts[1].split(separator: ":").compactMap { Int($0) }
            guard hm.count == 2, (0...23).contains(hm[0]), (0...59).contains(hm[1]) else {
                throw WhipError(.invalidArgument, "'\(text)' has a bad time: write it as YYYY-MM-DDTHH:MM")
            }
            dc.hour = hm[0]
            dc.minute = hm[1]
        } else if endOfDay {
            dc.day = ymd[2] + 1
        }
        guard let date = cal.date(from: dc),
            cal.component(.day, from: cal.date(from: DateComponents(year: ymd[0], month: ymd[1], day: ymd[2]))!) == ymd[2]
        else {
            throw WhipError(.invalidArgument, "'\(text)' is not a real calendar date")
        }
        return UInt64(max(0, date.timeIntervalSince1970 * 1000))
    }

    /// ISO 8601 text of an instant in a zone, e.g. `2030-04-01T00:00:00+01:00`.
    public static func format(_ ms: UInt64, timeZone: String) -> String {
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(identifier: timeZone) ?? TimeZone(identifier: "UTC")!
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    /// The current time in ms since the epoch.
    public static func nowMs() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }
}
