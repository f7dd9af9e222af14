import Testing
import WhipNet

@testable import whipround

/// The terminal progress line `whipround sync` draws on a TTY.
@Suite(.timeLimit(.minutes(10))) struct ProgressBarTests {
    @Test func progressBarShowsPhaseAndFraction() {
        #expect(SyncProgress(.reconciling).bar("Elm") == "Elm  reconciling…")
        #expect(SyncProgress(.receiving, done: 42, total: 100).bar("Elm", width: 10) == "Elm  receiving [####------]  42%  42/100")
        #expect(SyncProgress(.sending, done: 7, total: 7).bar("Elm", width: 4) == "Elm  sending [####] 100%  7/7")
    }
}
