import Foundation
import WhipNet

extension SyncProgress {
    /// One line for a terminal: `Elm Street  receiving [##########--------------]  42%  4200/10000`.
    func bar(_ name: String, width: Int = 24) -> String {
        guard total > 0 else { return "\(name)  \(phase.rawValue)…" }
        let fraction = min(1, Double(done) / Double(total))
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        return "\(name)  \(phase.rawValue) [\(bar)] \(String(format: "%3.0f", fraction * 100))%  \(done)/\(total)"
    }
}
