import Foundation
public import GRDB
public import WhipCore
public import WhipCrypto

/// A stored row that cannot be read as the schema says: the database file is damaged or was edited.
///
/// Every value read back from disk goes through the throwing accessors below, never GRDB's trapping
/// subscripts or a force-unwrap, so a damaged database is an error the CLI can explain, not a crash.
struct DamagedData: Error, CustomStringConvertible {
    let detail: String
    init(_ detail: String) { self.detail = detail }
    var description: String { "damaged data: \(detail)" }
}

extension Row {
    /// The value of `column`; throws if the column is missing or holds the wrong type (or NULL for a non-optional).
    func value<T: DatabaseValueConvertible>(_ column: String, as type: T.Type = T.self) throws -> T {
        try decode(T.self, forColumn: column)
    }

    /// The value at `index` of a query's explicit column list.
    func value<T: DatabaseValueConvertible>(at index: Int, as type: T.Type = T.self) throws -> T {
        guard index >= 0, index < count else { throw DamagedData("column \(index) of \(count)") }
        return try decode(T.self, atIndex: index)
    }

    /// A blob column as bytes.
    func bytes(_ column: String) throws -> [UInt8] { [UInt8](try value(column, as: Data.self)) }

    /// A non-negative integer column as `UInt64` (times in ms).
    func unsigned(_ column: String) throws -> UInt64 {
        let v = try value(column, as: Int64.self)
        guard v >= 0 else { throw DamagedData("\(column) is negative") }
        return UInt64(v)
    }

    /// A 32-bit counter column.
    func counter(_ column: String) throws -> UInt32 {
        let v = try value(column, as: Int64.self)
        guard let c = UInt32(exactly: v) else { throw DamagedData("\(column) is out of range") }
        return c
    }
}

// Ids and keys are read by GRDB directly: a 32-byte blob, or nil (which GRDB's throwing decoders turn into a
// `RowDecodingError`, and `Store.explain` into a "damaged" `WhipError`) for anything else. WhipCore and WhipCrypto
// stay free of GRDB; the conformances live here, at the boundary.

extension Bytes32 {
    /// A 32-byte blob; nil for any other value.
    init?(databaseValue: DatabaseValue) {
        guard case .blob(let d) = databaseValue.storage else { return nil }
        guard let raw = d.withUnsafeBytes({ Bytes32($0) }) else { return nil }
        self = raw
    }

    var databaseValue: DatabaseValue { withUnsafeBytes { Data($0) }.databaseValue }
}

extension EventID: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { raw.databaseValue }

    public static func fromDatabaseValue(_ dbValue: DatabaseValue) -> EventID? { Bytes32(databaseValue: dbValue).map(EventID.init) }
}

extension PublicKey: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { raw.databaseValue }

    public static func fromDatabaseValue(_ dbValue: DatabaseValue) -> PublicKey? { Bytes32(databaseValue: dbValue).map(PublicKey.init) }
}

extension Store {
    /// Concatenated 32-byte keys.
    static func keys(_ d: Data, _ what: String) throws -> [PublicKey] {
        guard d.count % 32 == 0 else { throw DamagedData("\(what) is not a list of 32-byte keys") }
        return try d.withUnsafeBytes { b throws in
            try stride(from: 0, to: b.count, by: 32).map { i throws in
                guard let raw = Bytes32(UnsafeRawBufferPointer(rebasing: b[i..<i + 32])) else { throw DamagedData("\(what) is damaged") }
                return PublicKey(raw)
            }
        }
    }

    static func currency(_ code: String) throws -> Currency {
        guard let c = Currency(code: code) else { throw DamagedData("'\(code)' is not a currency") }
        return c
    }
}
