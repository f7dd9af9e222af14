import CSodium

/// One-time libsodium initialisation; every entry point calls `Sodium.ready()` first.
public enum Sodium {
    private static let initResult: Int32 = sodium_init()

    /// Ensures `sodium_init` has run; traps only if libsodium cannot initialise at all.
    @inline(__always)
    public static func ready() {
        precondition(initResult >= 0, "libsodium failed to initialise")
    }

    /// The linked libsodium version string.
    public static var version: String {
        ready()
        return String(cString: sodium_version_string())
    }

    /// `count` bytes from the system CSPRNG.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        ready()
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, count) }
        return out
    }

    /// Constant-time comparison of two byte strings of equal length.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in sodium_memcmp(pa.baseAddress!, pb.baseAddress!, a.count) == 0 }
        }
    }
}

/// BLAKE2b (libsodium `crypto_generichash`).
public enum Blake2b {
    /// Hashes `data` to `length` bytes (16...64), optionally keyed.
    public static func hash(_ data: [UInt8], length: Int = 32, key: [UInt8] = []) -> [UInt8] {
        Sodium.ready()
        precondition((16...64).contains(length) && key.count <= 64)
        var out = [UInt8](repeating: 0, count: length)
        data.withUnsafeBufferPointer { d in
            key.withUnsafeBufferPointer { k in
                _ = crypto_generichash(
                    &out, length, d.baseAddress, UInt64(d.count),
                    key.isEmpty ? nil : k.baseAddress, key.count)
            }
        }
        return out
    }

    /// BLAKE2b-256 (unkeyed) of `data`, written straight into inline storage.
    public static func hash32(_ data: [UInt8]) -> Bytes32 {
        Sodium.ready()
        return Bytes32 { out in
            data.withUnsafeBufferPointer { d in
                _ = crypto_generichash(out.baseAddress!.assumingMemoryBound(to: UInt8.self), 32, d.baseAddress, UInt64(d.count), nil, 0)
            }
        }
    }

    /// Incremental BLAKE2b hasher for large inputs.
    public struct Hasher: ~Copyable {
        // libsodium's state is a 64-byte-aligned struct that Swift imports as opaque.
        private let state: UnsafeMutableRawPointer
        private let length: Int

        /// Starts a hash of `length` bytes (16...64).
        public init(length: Int = 32, key: [UInt8] = []) {
            Sodium.ready()
            precondition((16...64).contains(length) && key.count <= 64)
            self.length = length
            state = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
            let st = OpaquePointer(state)
            key.withUnsafeBufferPointer { k in
                _ = crypto_generichash_init(st, key.isEmpty ? nil : k.baseAddress, key.count, length)
            }
        }

        deinit { state.deallocate() }

        /// Feeds more bytes.
        public mutating func update(_ data: [UInt8]) {
            data.withUnsafeBufferPointer { d in
                _ = crypto_generichash_update(OpaquePointer(state), d.baseAddress, UInt64(d.count))
            }
        }

        /// Returns the digest.
        public consuming func finalize() -> [UInt8] {
            var out = [UInt8](repeating: 0, count: length)
            _ = crypto_generichash_final(OpaquePointer(state), &out, length)
            return out
        }
    }
}
