import Foundation
import GRDB
import WhipCore
import WhipCrypto

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

    /// A blob column holding a 32-byte public key.
    func key(_ column: String) throws -> PublicKey { try Store.key(try value(column, as: Data.self), column) }

    /// A nullable blob column holding a 32-byte public key.
    func optionalKey(_ column: String) throws -> PublicKey? {
        try value(column, as: Data?.self).map { d throws in try Store.key(d, column) }
    }

    /// A blob column holding a 32-byte event id.
    func eventID(_ column: String) throws -> EventID { try Store.eventID(try value(column, as: Data.self), column) }

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

extension Store {
    static func key(_ d: Data, _ what: String) throws -> PublicKey {
        guard let k = PublicKey(bytes: [UInt8](d)) else { throw DamagedData("\(what) is not a 32-byte key") }
        return k
    }

    static func eventID(_ d: Data, _ what: String) throws -> EventID {
        guard let id = EventID(bytes: [UInt8](d)) else { throw DamagedData("\(what) is not a 32-byte id") }
        return id
    }

    /// Concatenated 32-byte keys.
    static func keys(_ d: Data, _ what: String) throws -> [PublicKey] {
        let b = [UInt8](d)
        guard b.count % 32 == 0 else { throw DamagedData("\(what) is not a list of 32-byte keys") }
        return try stride(from: 0, to: b.count, by: 32).map { i throws in try key(Data(b[i..<i + 32]), what) }
    }

    static func currency(_ code: String) throws -> Currency {
        guard let c = Currency(code: code) else { throw DamagedData("'\(code)' is not a currency") }
        return c
    }
}
