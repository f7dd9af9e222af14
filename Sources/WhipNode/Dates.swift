import Foundation
public import WhipCore

/// Turns what a person types into instants, and back.
public enum Dates {
    /// Whether `name` is a time zone this system knows.
    ///
    /// IANA names only (`Europe/London`, plus `UTC`): Foundation on Linux also accepts abbreviations such as
    /// `BST`, which it reads as a fixed offset nobody meant (Bangladesh, +06:00).
    public static func isValidTimeZone(_ name: String) -> Bool {
        (name == "UTC" || TimeZone.knownTimeZoneIdentifiers.contains(name)) && TimeZone(identifier: name) != nil
    }

    /// The system's time zone name, falling back to UTC.
    public static var localTimeZone: String {
        let id = TimeZone.current.identifier
        return isValidTimeZone(id) ? id : "UTC"
    }

    /// Parses `2027-03-31` (the whole day, in `timeZone`) or `2027-03-31T18:00` into ms since the epoch.
    /// With `endOfDay`, a bare date means the first instant after that day ends.
    public static func parse(_ text: String, timeZone: String, endOfDay: Bool) throws(WhipError) -> UInt64 {
        guard isValidTimeZone(timeZone), let tz = TimeZone(identifier: timeZone) else {
            throw WhipError(.invalidArgument, "'\(timeZone)' is not a known time zone (use an IANA name such as Europe/London, or UTC)")
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
        if timeZone == "UTC", let text = utc(ms) { return text }
        // Shifting by the zone's offset and writing it as UTC is what ISO8601DateFormatter prints, without building a
        // formatter for each call (live progress pages format a deadline on every update).
        if let tz = TimeZone(identifier: timeZone) {
            let offset = tz.secondsFromGMT(for: Date(timeIntervalSince1970: Double(ms) / 1000))
            let local = Int64(ms / 1000) + Int64(offset)
            if local >= 0, let text = utc(UInt64(local) * 1000) {
                guard offset != 0 else { return text }
                let a = abs(offset) / 60
                func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
                return "\(text.dropLast())\(offset < 0 ? "-" : "+")\(two(a / 60)):\(two(a % 60))"
            }
        }
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(identifier: timeZone) ?? TimeZone(identifier: "UTC")!
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    /// A deadline as the person typed it, in its zone: `2030-03-31 (end of day, Europe/London)` for the
    /// first instant after that day, else `2030-03-31 18:00 (Europe/London)`.
    public static func describeDeadline(_ ms: UInt64, timeZone: String) -> String {
        let local = localForm(ms, timeZone: timeZone)
        if local.hasSuffix("T24:00") { return "\(local.dropLast(6)) (end of day, \(timeZone))" }
        return "\(local.replacingOccurrences(of: "T", with: " ")) (\(timeZone))"
    }

    /// The local date and time of an instant in `timeZone`, as `YYYY-MM-DDTHH:MM`; a local midnight is written
    /// as the end of the previous day, `YYYY-MM-DDT24:00` (ISO 8601), as `--closes DATE` means.
    public static func localForm(_ ms: UInt64, timeZone: String, midnightAsEndOfDay: Bool = true) -> String {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: timeZone) ?? TimeZone(identifier: "UTC")!
        let date = Date(timeIntervalSince1970: Double(ms) / 1000)
        let c = cal.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ n: Int?) -> String { String(format: "%02d", n ?? 0) }
        if midnightAsEndOfDay, c.hour == 0, c.minute == 0, c.second == 0, ms % 1000 == 0,
            let before = cal.date(byAdding: .day, value: -1, to: date)
        {
            let b = cal.dateComponents([.year, .month, .day], from: before)
            return "\(String(format: "%04d", b.year ?? 0))-\(two(b.month))-\(two(b.day))T24:00"
        }
        return "\(String(format: "%04d", c.year ?? 0))-\(two(c.month))-\(two(c.day))T\(two(c.hour)):\(two(c.minute))"
    }

    /// A rough length of time for messages: "3 days", "11 minutes", "10 years".
    public static func describe(durationMs ms: UInt64) -> String {
        let minutes = ms / 60_000
        let (n, unit): (UInt64, String) =
            switch minutes {
            case ..<120: (minutes, "minute")
            case ..<(48 * 60): (minutes / 60, "hour")
            case ..<(730 * 24 * 60): (minutes / (24 * 60), "day")
            default: (minutes / (365 * 24 * 60), "year")
            }
        return "\(n) \(unit)\(n == 1 ? "" : "s")"
    }

    /// `format(ms, timeZone: "UTC")` without a formatter (building one per call costs more than listing a pledge):
    /// `2030-03-31T23:00:00Z`, seconds truncated. Nil outside the years 1970–9999.
    static func utc(_ ms: UInt64) -> String? {
        let seconds = ms / 1000
        let days = Int64(seconds / 86_400)
        let s = Int(seconds % 86_400)
        // Civil date from days since 1970-01-01 (Howard Hinnant's days_from_civil, inverted).
        let z = days + 719_468
        let era = z / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        guard year <= 9_999 else { return nil }
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(year)-\(two(Int(month)))-\(two(Int(day)))T\(two(s / 3_600)):\(two(s / 60 % 60)):\(two(s % 60))Z"
    }

    /// The current time in ms since the epoch.
    public static func nowMs() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }
}
