import Foundation
import Testing
import WhipDaemon
import WhipSync

@testable import WhipNet

/// The refusal reasons a responder sends after the handshake are the ones PROTOCOL.md §15 lists, byte for byte.
@Suite(.timeLimit(.minutes(10))) struct RefusalTests {
    static let protocolText: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("docs/PROTOCOL.md"), encoding: .utf8)) ?? ""
    }()

    @Test func reasonsAreTheDocumentedOnes() {
        for reason in [PeerSession.Refusal.notMember, PeerSession.Refusal.tooManyRefused, PeerSession.Refusal.busy] {
            #expect(Self.protocolText.contains("| `\(reason)` |"), "\(reason) is not in the PROTOCOL §15 table")
        }
    }

    @Test func busyGoodbyeBytesMatchTheExample() {
        let busy = PeerSession.Refusal.busy
        #expect(SessionMessage.goodbye(busy).encoded() == [0x82, 0x08, 0x78, 0x2B] + Array(busy.utf8))
        #expect(busy.utf8.count == 43)
        #expect(Self.protocolText.contains("`82 08 78 2b` followed by its 43 ASCII bytes"))
    }
}
