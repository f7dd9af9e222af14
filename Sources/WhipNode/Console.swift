import Foundation
public import WhipCore
import WhipStore

/// The organiser console's sign-in (issue 11): `whipround web login` makes a one-time link and a pairing code;
/// either starts a session in one browser, which acts with this node's identity and roles until it expires.
public enum Console {
    /// How long a sign-in link or pairing code may wait to be used.
    public static let loginLifetimeMs: UInt64 = 10 * 60_000
    /// How long a console session lasts from sign-in (then sign in again).
    public static let sessionLifetimeMs: UInt64 = 12 * 3_600_000
    /// The longest session token accepted from a cookie (a token is 43 characters).
    static let maxTokenLength = 64
}

/// A one-time way into the console: open `/console/login?token=TOKEN`, or type `code` at `/console/pair`.
public struct ConsoleLogin: Sendable {
    /// The link's secret (32 random bytes, URL-safe base64).
    public let token: String
    /// The pairing code for another device, `XXXX-XXXX-XXXX`.
    public let code: String
    /// When both stop working (ms).
    public let expires: UInt64
}

/// A signed-in browser: its cookie token, the token its forms carry, and when it ends.
public struct ConsoleSession: Sendable {
    /// The cookie's secret.
    public let token: String
    /// The token every console form must carry (CSRF).
    public let csrf: String
    /// When the session ends (ms).
    public let expires: UInt64
}

extension Node {
    /// This build's version, as `whipround --version` and the console's health page show it.
    public static let version = "0.1.0"

    /// A new one-time sign-in link token and pairing code, valid for `Console.loginLifetimeMs`.
    public func consoleLogin() throws(WhipError) -> ConsoleLogin {
        let token = Desk.token(32)
        let code = Desk.newCode()
        let expires = now + Console.loginLifetimeMs
        try store.insertConsoleLogin(secretHash: Desk.digest(token, purpose: "console link"), kind: "link", expires: expires)
        try store.insertConsoleLogin(secretHash: Desk.digest(Desk.normalise(code)!, purpose: "console code"), kind: "code", expires: expires)
        return ConsoleLogin(token: token, code: code, expires: expires)
    }

    /// Uses up a sign-in link's token (`code` false) or a typed pairing code (`code` true) and starts a session;
    /// `permissionDenied`, with one message for wrong, used and expired, otherwise.
    public func redeemConsoleLogin(_ secret: String, code: Bool) throws(WhipError) -> ConsoleSession {
        let refused = WhipError(
            .permissionDenied,
            code
                ? "this sign-in code is not valid: it may be mistyped, used already or expired (run `whipround web login` for a new one)"
                : "this sign-in link is not valid: it was used already or has expired (run `whipround web login` for a new one)")
        let hash: [UInt8]
        if code {
            guard let normal = Desk.normalise(secret) else { throw refused }
            hash = Desk.digest(normal, purpose: "console code")
        } else {
            guard !secret.isEmpty, secret.count <= Console.maxTokenLength else { throw refused }
            hash = Desk.digest(secret, purpose: "console link")
        }
        let token = Desk.token(32)
        let csrf = Desk.token(24)
        let expires = now + Console.sessionLifetimeMs
        guard
            try store.redeemConsoleLogin(
                secretHash: hash, kind: code ? "code" : "link", now: now, tokenHash: Desk.digest(token, purpose: "console session"),
                csrf: csrf, expires: expires)
        else { throw refused }
        return ConsoleSession(token: token, csrf: csrf, expires: expires)
    }

    /// The unexpired session of a cookie token; `notFound` when there is none.
    public func consoleSession(token: String) throws(WhipError) -> ConsoleSession {
        guard !token.isEmpty, token.count <= Console.maxTokenLength,
            let (csrf, expires) = try store.consoleSession(tokenHash: Desk.digest(token, purpose: "console session"), now: now)
        else { throw WhipError(.notFound, "this browser is not signed in to the console: run `whipround web login` at the node") }
        return ConsoleSession(token: token, csrf: csrf, expires: expires)
    }

    /// Ends the session of a cookie token (signing out one browser).
    public func endConsoleSession(token: String) throws(WhipError) {
        guard !token.isEmpty, token.count <= Console.maxTokenLength else { return }
        try store.deleteConsoleSession(tokenHash: Desk.digest(token, purpose: "console session"))
    }

    /// Ends every console session and unused sign-in link or code; returns how many sessions were still live.
    public func endAllConsoleSessions() throws(WhipError) -> Int {
        try store.deleteConsoleSessions(now: now)
    }
}
