import ArgumentParser
import Foundation
import WhipCore
import WhipNode
import WhipWeb

struct WebCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "web", abstract: "Sign in to the organiser console in a browser, or sign every browser out.",
        subcommands: [Login.self, Logout.self])

    struct Login: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a one-time link to the organiser console, and a code to type on another device.",
            discussion: """
                The console acts with this node's identity and roles, so only someone at the node can let a browser in. \
                The link and the code each work once, for \(Console.loginLifetimeMs / 60_000) minutes; a session then lasts \
                \(Console.sessionLifetimeMs / 3_600_000) hours. `whipround web logout --all` ends every session.
                """)
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let n = try node.open()
            let login = try n.consoleLogin()
            let base = WebAddress.read(dataDir: n.dir.path)
            let link = base.map { "\($0)/console/login?token=\(login.token)" }
            let pair = base.map { "\($0)/console/pair" }
            if output.json {
                var o: [String: Any] = [
                    "code": login.code, "expires": Dates.format(login.expires, timeZone: "UTC"), "served": base != nil,
                ]
                if let link { o["url"] = link }
                if let pair { o["pair_url"] = pair }
                printJSON(o)
            } else if let base, let link, let pair {
                print("Open this link in a browser on this machine (it works once):")
                print("  \(link)")
                let host = URL(string: base)?.host ?? ""
                if WebAddress.isLoopback(host) {
                    print("Or open \(pair) on this machine and type the code: \(login.code)")
                    print(
                        "(Other devices cannot reach \(base): the pages are served on this machine only. To sign in from another device, "
                            + "serve them on the network, e.g. `whipround serve --web 0.0.0.0:8480`.)")
                } else {
                    print("On another device on this network, open \(pair) and type the code: \(login.code)")
                }
                print("Both stop working at \(Desk.describe(login.expires)) (\(Dates.localTimeZone)) or once used.")
            } else {
                print("Sign-in code: \(login.code) (type it at /console/pair on the node's pages; it works once)")
            }
            if base == nil {
                FileHandle.standardError.write(
                    Data(
                        ("warning: no `whipround serve` is serving the web pages for this data directory, so there is no link to open: "
                            + "start it with `whipround serve --data \(n.dir.path)` (add `--web HOST:PORT` if 127.0.0.1:8480 is taken) "
                            + "and run `whipround web login` again\n").utf8))
            }
        }
    }

    struct Logout: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End every console session (and any unused sign-in link or code).")
        @OptionGroup var node: NodeOptions
        @OptionGroup var output: OutputOptions
        @Flag(help: "Sign out every browser (required: a browser signs itself out with the console's Sign out button).")
        var all = false

        func run() throws {
            guard all else {
                throw WhipError(.invalidArgument, "give --all to end every console session (one browser signs out with its Sign out button)")
            }
            let n = try node.open()
            let ended = try n.endAllConsoleSessions()
            output.report(
                ["ended": ended], ended == 0 ? "No browser was signed in to the console." : "Signed out \(ended) browser\(ended == 1 ? "" : "s").")
        }
    }
}
