import Foundation
import GRDB
public import WhipCore

/// The organiser console's sign-ins and sessions (migration `v14-console`): this node's own, never synced.
extension Store {
    /// Stores a one-time sign-in secret (a link token or a pairing code) by its hash; `kind` is `link` or `code`.
    public func insertConsoleLogin(secretHash: [UInt8], kind: String, expires: UInt64) throws(WhipError) {
        try write { db in
            try db.execute(
                sql: "INSERT INTO console_logins (secret_hash, kind, expires, used) VALUES (?, ?, ?, NULL)",
                arguments: [Data(secretHash), kind, Int64(expires)])
        }
    }

    /// Uses up a sign-in secret of `kind` and stores the session it starts, in one transaction; false when the
    /// secret is unknown, used or expired.
    public func redeemConsoleLogin(
        secretHash: [UInt8], kind: String, now: UInt64, tokenHash: [UInt8], csrf: String, expires: UInt64
    ) throws(WhipError) -> Bool {
        try write { db in
            let hash = Data(secretHash)
            guard
                try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM console_logins WHERE secret_hash = ? AND kind = ? AND used IS NULL AND expires > ?",
                    arguments: [hash, kind, Int64(now)]) == true
            else { return false }
            try db.execute(sql: "UPDATE console_logins SET used = ? WHERE secret_hash = ?", arguments: [Int64(now), hash])
            // Old sign-ins and sessions go whenever a new one starts, so the tables stay small without a timer.
            try db.execute(sql: "DELETE FROM console_logins WHERE expires <= ?", arguments: [Int64(now)])
            try db.execute(sql: "DELETE FROM console_sessions WHERE expires <= ?", arguments: [Int64(now)])
            try db.execute(
                sql: "INSERT INTO console_sessions (token_hash, csrf, created, expires) VALUES (?, ?, ?, ?)",
                arguments: [Data(tokenHash), csrf, Int64(now), Int64(expires)])
            return true
        }
    }

    /// The CSRF token and expiry of an unexpired session (by token hash).
    public func consoleSession(tokenHash: [UInt8], now: UInt64) throws(WhipError) -> (csrf: String, expires: UInt64)? {
        try read { db in
            guard
                let r = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT csrf, expires FROM console_sessions WHERE token_hash = ? AND expires > ?"),
                    arguments: [Data(tokenHash), Int64(now)])
            else { return nil }
            return (try r.value("csrf"), UInt64(try r.value("expires") as Int64))
        }
    }

    /// Ends one session.
    public func deleteConsoleSession(tokenHash: [UInt8]) throws(WhipError) {
        try write { db in try db.execute(sql: "DELETE FROM console_sessions WHERE token_hash = ?", arguments: [Data(tokenHash)]) }
    }

    /// Ends every session and every unused sign-in; returns how many sessions were still unexpired.
    public func deleteConsoleSessions(now: UInt64) throws(WhipError) -> Int {
        try write { db in
            let live = try Int.fetchOne(db, sql: "SELECT count(*) FROM console_sessions WHERE expires > ?", arguments: [Int64(now)]) ?? 0
            try db.execute(sql: "DELETE FROM console_sessions")
            try db.execute(sql: "DELETE FROM console_logins")
            return live
        }
    }
}
