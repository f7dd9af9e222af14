public import WhipCore

/// A `host:port` address.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    /// Host name or IP address (IPv6 without brackets).
    public var host: String
    /// TCP port.
    public var port: Int

    /// Creates an address.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[v6]:port`; port 0 (any free port) only for a listen address.
    public init(parsing text: String, listening: Bool = false) throws(WhipError) {
        let t = text.trimmingCharacters(in: .whitespaces)
        var host: Substring
        var portText: Substring
        if t.hasPrefix("["), let close = t.firstIndex(of: "]") {
            host = t[t.index(after: t.startIndex)..<close]
            let rest = t[t.index(after: close)...]
            guard rest.hasPrefix(":") else { throw HostPort.bad(text) }
            portText = rest.dropFirst()
        } else {
            guard let colon = t.lastIndex(of: ":"), t.firstIndex(of: ":") == colon else { throw HostPort.bad(text) }
            host = t[..<colon]
            portText = t[t.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), ((listening ? 0 : 1)...65535).contains(port) else { throw HostPort.bad(text) }
        self.host = String(host)
        self.port = port
    }

    static func bad(_ text: String) -> WhipError {
        WhipError(.invalidArgument, "'\(text)' is not an address: write HOST:PORT, e.g. 192.168.1.10:7878 or hub.local:7878")
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
