import Foundation
import GRDB
public import WhipCore
import WhipCrypto

/// A stored event that no longer checks out.
public struct BadEvent: Sendable {
    /// Its local arrival number.
    public let seq: Int64
    /// Its id as stored (hex).
    public let id: String
    /// Why it fails: a decode code, `bad_signature` or `id_mismatch`.
    public let reason: String
}

extension Store {
    /// Problems SQLite's `PRAGMA integrity_check` finds (at most `limit`); empty when the file is sound.
    public func integrityProblems(limit: Int = 100) throws(WhipError) -> [String] {
        try read { db in
            let found = try String.fetchAll(db, sql: "PRAGMA integrity_check(\(max(1, limit)))")
            return found == ["ok"] ? [] : found
        }
    }

    /// Events checked per batch by `verifyEvents`.
    public static let verifyBatch = 20_000

    /// Re-checks every stored event as it was checked on arrival: it decodes, its id is the hash it is stored
    /// under, and its signature verifies. Returns how many were checked and those that fail.
    public func verifyEvents(progress: (Int) -> Void = { _ in }) throws(WhipError) -> (checked: Int, bad: [BadEvent]) {
        var checked = 0
        var bad: [BadEvent] = []
        var after: Int64 = 0
        while true {
            let rows: [(seq: Int64, id: Data, raw: [UInt8])] = try read { db in
                try Row.fetchAll(
                    db, sql: "SELECT seq, id, raw FROM events WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [after, Store.verifyBatch]
                ).map { r throws in (try r.value("seq"), try r.value("id"), try r.bytes("raw")) }
            }
            guard let last = rows.last else { break }
            after = last.seq
            for (row, result) in zip(rows, Verifier.check(rows.map(\.raw))) {
                switch result {
                case .failure(let a): bad.append(BadEvent(seq: row.seq, id: Hex.encode([UInt8](row.id)), reason: a.code.rawValue))
                case .success(let e) where e.id.bytes != [UInt8](row.id):
                    bad.append(BadEvent(seq: row.seq, id: Hex.encode([UInt8](row.id)), reason: Admission.Code.idMismatch.rawValue))
                case .success: break
                }
            }
            checked += rows.count
            progress(checked)
        }
        return (checked, bad)
    }
}
