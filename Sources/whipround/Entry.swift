import ArgumentParser
import Foundation
import WhipCore
import WhipCrypto

@main
struct Main {
    static func main() async {
        // Keys, network keys and sealed contacts live in the data directory: nothing there is for other users.
        umask(0o077)
        do {
            var command = try Whipround.parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let error as WhipError {
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            exit(ExitCodes.code(for: error.code))
        } catch let error as any ErrorWithCode {
            // A lower layer's error that no command wrapped: still one line and a documented code.
            FileHandle.standardError.write(Data("error: \(error.code): \(error.message)\n".utf8))
            exit(70)
        } catch {
            if Whipround.exitCode(for: error) == .failure && !(error is ValidationError) {
                // Not the argument parser's (those keep its own message and code): an unexpected error.
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                exit(70)
            }
            Whipround.exit(withError: error)
        }
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

            Exit codes: 0 ok, 2 bad argument, 3 not found, 4 refused (no right / rule broken), 5 damaged input, \
            6 already exists, 70 internal error, 74 I/O or database error.
            """,
        version: "0.1.0",
        subcommands: [
            InitCommand.self, IDCommand.self, CommunityCommand.self, CampaignCommand.self, TierCommand.self,
            PledgeCommand.self, ExportCommand.self, BundleCommand.self, StatusCommand.self, DoctorCommand.self,
            RejectionsCommand.self, ServeCommand.self, SyncCommand.self, PeerCommand.self, BenchCommand.self,
        ]
    )
}
