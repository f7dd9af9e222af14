import Dispatch
public import WhipCore
public import WhipCrypto

/// Decodes and signature-checks raw events in parallel across cores.
public enum Verifier {
    /// Decodes and verifies each wire event; the result is in input order.
    /// With `community`, events of any other community are refused (`wrong_community`) before their
    /// signature is checked.
    public static func check(
        _ wires: [[UInt8]], community: PublicKey? = nil, parallelism: Int = System.coreCount
    ) -> [Result<Event, Admission>] {
        let n = wires.count
        guard n > 0 else { return [] }
        let out = UnsafeMutableBufferPointer<Result<Event, Admission>>.allocate(capacity: n)
        defer { out.deallocate() }
        let box = UnsafeSendable(out)
        let chunk = max(64, (n + parallelism * 4 - 1) / (parallelism * 4))
        let chunks = (n + chunk - 1) / chunk
        let work: @Sendable (Int) -> Void = { c in
            let lo = c * chunk
            let hi = min(n, lo + chunk)
            for i in lo..<hi {
                (box.value.baseAddress! + i).initialize(to: checkOne(wires[i], community: community))
            }
        }
        if parallelism <= 1 || chunks == 1 {
            for c in 0..<chunks { work(c) }
        } else {
            DispatchQueue.concurrentPerform(iterations: chunks, execute: work)
        }
        let result = Array(out)
        _ = out.baseAddress!.deinitialize(count: n)
        return result
    }

    /// Decodes and verifies one wire event (refusing it as `wrong_community` if it is not of `community`).
    public static func checkOne(_ wire: [UInt8], community: PublicKey? = nil) -> Result<Event, Admission> {
        do {
            let e = try Event.decode(wire: wire)
            if let community, e.community != community {
                return .failure(Admission(code: .wrongCommunity, message: "the event belongs to another community than this session's"))
            }
            guard e.verifySignature() else {
                return .failure(Admission(code: .badSignature, message: "the signature does not match the event (forged or corrupted)"))
            }
            return .success(e)
        } catch {
            return .failure(Admission(error))
        }
    }
}

/// Facts about the machine.
public enum System {
    /// Active processor cores.
    public static var coreCount: Int { max(1, sysconfCores()) }
}

#if canImport(Glibc)
    import Glibc
    private func sysconfCores() -> Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
#elseif canImport(Darwin)
    import Darwin
    private func sysconfCores() -> Int { Int(sysconf(_SC_NPROCESSORS_ONLN)) }
#endif

/// Hands a value to `concurrentPerform` workers that write disjoint indices.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Runs one computation on a background thread; `wait()` returns its result.
final class Prefetch<T: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var value: T?  // written once before `done` is signalled, read after

    init(_ work: @escaping @Sendable () -> T) {
        DispatchQueue.global(qos: .userInitiated).async {
            self.value = work()
            self.done.signal()
        }
    }

    func wait() -> T {
        done.wait()
        return value!
    }
}
