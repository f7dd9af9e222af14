import ArgumentParser
import Foundation
import WhipCore
import WhipCrypto
import WhipNode

@main
struct Main {
    static func main() async {
        // Keys, network keys and sealed contacts live in the data directory: nothing there is for other users.
        umask(0o077)
        let arguments = Whipround.normalise(Array(CommandLine.arguments.dropFirst()))
        if arguments.first == "help" {
            let words = arguments.dropFirst().filter { !$0.hasPrefix("-") }
            if Whipround.command(at: Array(words)) == nil {
                fail("no command '\(words.joined(separator: " "))'; `whipround --help` lists them", code: 2)
            }
        }
        do {
            var command = try Whipround.parseAsRoot(arguments)
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let error as WhipError {
            // The underlying library error (SQL, errno, a decoder's words) is for --verbose only.
            if let cause = error.cause, arguments.contains("--verbose") {
                FileHandle.standardError.write(Data("whipround: cause: \(SafeText.oneLine(String(describing: cause)))\n".utf8))
            }
            fail(error.message, code: ExitCodes.code(for: error.code))
        } catch let error as any ErrorWithCode {
            // A lower layer's error that no command wrapped: still one line and a documented code.
            fail("\(error.code): \(error.message)", code: 70)
        } catch {
            switch Whipround.exitCode(for: error) {
            case .success:
                // --help, help COMMAND and --version print as the argument parser does.
                Whipround.exit(withError: error)
            case .validationFailure:
                // A mistyped command line: the parser's first line, exit 2 as documented (not its usage screen).
                let message = Whipround.message(for: error).split(separator: "\n").first.map(String.init) ?? "the command line is not valid"
                let trimmed = message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message
                fail("\(trimmed) (see `whipround help\(Whipround.commandPath(arguments))`)", code: 2)
            default:
                fail("\(error)", code: 70)
            }
        }
    }

    /// Prints the one `error:` line (control characters escaped, line breaks joined) and exits.
    static func fail(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("error: \(SafeText.oneLine(message))\n".utf8))
        exit(code)
    }
}

extension Whipround {
    /// The command named by `path` (e.g. `["community", "create"]`), or nil if a word names no command.
    static func command(at path: [String]) -> (any ParsableCommand.Type)? {
        var current: any ParsableCommand.Type = Whipround.self
        for word in path {
            guard let next = current.configuration.subcommands.first(where: { $0._commandName == word }) else { return nil }
            current = next
        }
        return current
    }

    /// The longest run of leading words that names a command, as ` community create` (empty for none).
    static func commandPath(_ arguments: [String]) -> String {
        var path: [String] = []
        for word in arguments where !word.hasPrefix("-") {
            guard command(at: path + [word]) != nil else { break }
            path.append(word)
        }
        return path.map { " " + $0 }.joined()
    }

    /// Joins `--option -5` into `--option=-5`: the parser would take `-5` for a flag and report a missing
    /// value, where the user meant a (negative) number that the command can then refuse in words.
    static func normalise(_ arguments: [String]) -> [String] {
        var out: [String] = []
        for a in arguments {
            if let last = out.last, last.hasPrefix("--"), last.count > 2, !last.contains("="), a.count > 1, a.hasPrefix("-"),
                a.dropFirst().allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "." || $0 == ",") })
            {
                out[out.count - 1] = last + "=" + a
            } else {
                out.append(a)
            }
        }
        return out
    }
}

/// Exit codes, documented in the README.
enum ExitCodes {
    static func code(for code: WhipError.Code) -> Int32 {
        switch code {
        case .invalidArgument: 2
        case .notFound: 3
        case .permissionDenied, .rejected: 4
        case .corrupt: 5
        case .alreadyExists: 6
        case .io, .storage: 74
        case .internalError: 70
        }
    }
}

struct Whipround: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "whipround",
        abstract: "A peer-to-peer, signed ledger for neighbourhood crowdfunding.",
        discussion: """
            Every change is an Ed25519-signed event kept in a local SQLite replica; nodes exchange events by \
            bundle files and always agree on the totals.

            The data directory is --data DIR, else $WHIPROUND_DATA, else $XDG_DATA_HOME/whipround, \
            else ~/.local/share/whipround.

            Errors are one line starting `error:`. Exit codes: 0 ok, 2 bad argument, 3 not found, 4 refused (no right / rule broken), 5 damaged input, \
            6 already exists, 70 internal error, 74 I/O or database error.
            """,
        version: Node.version,
        subcommands: [
            InitCommand.self, IDCommand.self, CommunityCommand.self, CampaignCommand.self, TierCommand.self,
            PledgeCommand.self, ExportCommand.self, BundleCommand.self, StatusCommand.self, DoctorCommand.self,
            RejectionsCommand.self, ServeCommand.self, SyncCommand.self, PeerCommand.self, BenchCommand.self,
            CharityCommand.self, GiftAidCommand.self, MatchCommand.self, DeskCommand.self, WebCommand.self,
        ]
    )
}
