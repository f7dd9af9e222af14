import Testing
import WhipCore
import WhipTestSupport

@Test func tmpDebugStats() throws {
    var byKind = [String: [String: Int]]()
    var tierPledges = 0, tierApplied = 0, sizes = 0
    for i in 0..<150 {
        let events = try RandomCommunity.events(seed: SplitMix64.seed(base: 0xC0FE, index: UInt64(i)))
        sizes += events.count
        let st = SetFunctionCheck.derive(events)
        for e in events {
            guard let s = st.statuses[e.id] else { continue }
            byKind[e.kind.name, default: [:]][s.code, default: 0] += 1
            if case .pledgeMade(let b) = e.body, b.tier != nil { tierPledges += 1; if s == .applied { tierApplied += 1 } }
        }
    }
    for (k, v) in byKind.sorted(by: { $0.key < $1.key }) { print(k, v.sorted { $0.value > $1.value }) }
    print("tier pledges", tierPledges, "applied", tierApplied, "events", sizes)
}
