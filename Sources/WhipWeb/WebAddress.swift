import Foundation
import NIOCore

/// The URL phones should open, kept in the data directory's `web.url` while the server runs, so that
/// `whipround desk open` (another process) prints links that work.
public enum WebAddress {
    /// The file's name in the data directory.
    public static let fileName = "web.url"

    /// `public_url` if set; else, for a wildcard bind, the host's first non-loopback IPv4 address; else the bound host.
    public static func url(config: WebConfig, boundPort: Int) -> String {
        if let u = config.publicURL { return u.hasSuffix("/") ? String(u.dropLast()) : u }
        var host = config.host ?? "127.0.0.1"
        if host == "0.0.0.0" || host == "::" { host = lanAddress() ?? "127.0.0.1" }
        if host.contains(":") { host = "[\(host)]" }
        return "http://\(host):\(boundPort)"
    }

    /// The URL someone at the node itself should open: loopback when the server listens there or on every
    /// address (first-run setup is offered to loopback only), else the bound host.
    public static func localURL(host: String, port: Int) -> String {
        switch host {
        case "0.0.0.0", "localhost", "": return "http://127.0.0.1:\(port)/"
        case "::": return "http://[::1]:\(port)/"
        default: return "http://\(host.contains(":") ? "[\(host)]" : host):\(port)/"
        }
    }

    /// Whether `host` is a loopback address, reachable only from the node itself.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// The first IPv4 address of an interface that is up and not loopback.
    static func lanAddress() -> String? {
        guard let interfaces = try? System.enumerateDevices() else { return nil }
        for i in interfaces {
            guard let a = i.address, case .v4 = a, let ip = a.ipAddress, !ip.hasPrefix("127.") else { continue }
            return ip
        }
        return nil
    }

    /// Writes `url` to `dir/web.url` (best effort: the desk links then fall back to the configured address).
    static func write(_ url: String, dataDir: String) {
        try? (url + "\n").write(toFile: dataDir + "/" + fileName, atomically: true, encoding: .utf8)
    }

    /// Removes the file when the server stops.
    static func remove(dataDir: String) {
        try? FileManager.default.removeItem(atPath: dataDir + "/" + fileName)
    }

    /// The URL a running server wrote in `dataDir`, or nil when none is serving.
    public static func read(dataDir: String) -> String? {
        guard let text = try? String(contentsOfFile: dataDir + "/" + fileName, encoding: .utf8) else { return nil }
        let url = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return url.isEmpty ? nil : url
    }
}
