import Foundation
import Testing
import WhipBench
import WhipSync

/// The figure printer at 1,000,000 items; run it in a release build with
/// `WHIPROUND_RECONCILE_BENCH=1 swift test -c release --filter reconcileBench`.
@Test(.enabled(if: ProcessInfo.processInfo.environment["WHIPROUND_RECONCILE_BENCH"] == "1"), .timeLimit(.minutes(10)))
func reconcileBench() {
    let items = Int(ProcessInfo.processInfo.environment["WHIPROUND_RECONCILE_ITEMS"] ?? "") ?? 1_000_000
    for parameters in [SyncParameters(), .negentropy] {
        let differences = (ProcessInfo.processInfo.environment["WHIPROUND_RECONCILE_DIFFERENCES"] ?? "1,10,1000").split(separator: ",").map {
            Int($0)!
        }
        let figures = ReconcileBench.run(items: items, differences: differences, parameters: parameters, print: { print($0) })
        #expect(figures.allSatisfy { $0.exact })
    }
}

@Test(.timeLimit(.minutes(10))) func benchSmoke() {
    var lines: [String] = []
    let figures = ReconcileBench.run(items: 5_000, differences: [1, 10], print: { lines.append($0) })
    #expect(figures.count == 3 && figures.allSatisfy { $0.exact && $0.roundTrips <= 3 })
    #expect(lines.count == 5)
}
