import Testing
import WhipCore
import WhipCrypto
import WhipTestSupport

@Suite("Money and currencies", .timeLimit(.minutes(10)))
struct MoneyTests {
    @Test(
        "amounts typed as a person would",
        arguments: [
            ("25", "GBP", Int64(2_500)), ("25.5", "GBP", 2_550), ("25.50", "GBP", 2_550), ("0.01", "GBP", 1), ("0", "GBP", 0),
            ("10.50", "GBP", 1_050), (" 7 ", "GBP", 700), ("007.10", "GBP", 710), ("1500", "JPY", 1_500), ("1.005", "KWD", 1_005),
            ("1.5", "KWD", 1_500), ("92233720368547758.07", "GBP", Int64.max), ("9223372036854775807", "JPY", Int64.max),
        ])
    func parses(text: String, code: String, minor: Int64) throws {
        let currency = try #require(Currency(code: code))
        let money = try Money(parsing: text, currency: currency)
        #expect(money.minor == minor)
        #expect(money.currency == currency)
    }

    @Test(
        "malformed, over-precise, negative and overflowing amounts are refused with a message naming the input",
        arguments: [
            ("25.505", "GBP", "at most 2 decimal places"), ("1.5", "JPY", "JPY has no minor unit"), ("abc", "GBP", "write it like"),
            ("", "GBP", "write it like"), ("   ", "GBP", "write it like"), ("1e3", "GBP", "write it like"), ("-5", "GBP", "must be positive"),
            ("+5", "GBP", "write it like"), ("25.", "GBP", "write it like"), (".5", "GBP", "write it like"),
            ("1.2.3", "GBP", "write it like"), ("1,000", "GBP", "write it like"), ("£5", "GBP", "write it like"),
            ("５", "GBP", "write it like"), ("0x10", "GBP", "write it like"), ("99999999999999999999", "GBP", "too large"),
            ("92233720368547758.08", "GBP", "too large"), ("9223372036854775808", "JPY", "too large"),
        ])
    func refuses(text: String, code: String, why: String) throws {
        let currency = try #require(Currency(code: code))
        let error = #expect(throws: WhipError.self) { try Money(parsing: text, currency: currency) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains(why) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("'\(text)'") == true)
    }

    @Test("formatting in major units")
    func formatting() {
        #expect(Money(minor: 2_550, currency: gbp).formatted == "25.50")
        #expect(Money(minor: 2_500, currency: gbp).formatted == "25.00")
        #expect(Money(minor: 1, currency: gbp).formatted == "0.01")
        #expect(Money(minor: 0, currency: gbp).formatted == "0.00")
        #expect(Money(minor: -5, currency: gbp).formatted == "-0.05")
        #expect(Money(minor: 1_500, currency: jpy).formatted == "1500")
        #expect(Money(minor: 1_005, currency: Currency(code: "KWD")!).formatted == "1.005")
        #expect(Money(minor: 12_345, currency: Currency(code: "CLF")!).formatted == "1.2345")
        #expect(Money(minor: Int64.max, currency: gbp).formatted == "92233720368547758.07")
        #expect(Money(minor: Int64.min, currency: gbp).formatted == "-92233720368547758.08")
        #expect(Money(minor: Int64.min, currency: jpy).formatted == "-9223372036854775808")
    }

    @Test("formatting then parsing gives the same amount")
    func formatParseRoundTrip() throws {
        var g = SplitMix64(seed: 0x3032)
        for code in ["GBP", "JPY", "KWD", "CLF"] {
            let c = Currency(code: code)!
            for _ in 0..<300 {
                let minor = Int64(bitPattern: g.next() >> UInt64(1 + g.below(63)))
                #expect(try Money(parsing: Money(minor: minor, currency: c).formatted, currency: c).minor == minor)
            }
        }
    }

    @Test("ISO 4217 codes and their minor units")
    func currencies() {
        #expect(gbp.exponent == 2)
        #expect(eur.exponent == 2)
        #expect(jpy.exponent == 0)
        #expect(Currency(code: "KWD")?.exponent == 3)
        #expect(Currency(code: "CLF")?.exponent == 4)
        for bad in ["XYZ", "gbp", "GB", "GBPP", "", "XXX", "EURO"] {
            #expect(Currency(code: bad) == nil, "\(bad)")
        }
        #expect(gbp.description == "GBP")
    }
}

@Suite("Hybrid logical clock", .timeLimit(.minutes(10)))
struct HLCTests {
    @Test("the next timestamp follows the wall clock, and stays monotonic when it steps back")
    func next() {
        #expect(HLC.next(after: nil, now: 100) == HLC(wall: 100, counter: 0))
        #expect(HLC.next(after: HLC(wall: 100, counter: 3), now: 150) == HLC(wall: 150, counter: 0))
        #expect(HLC.next(after: HLC(wall: 100, counter: 3), now: 100) == HLC(wall: 100, counter: 4))
        #expect(HLC.next(after: HLC(wall: 100, counter: 3), now: 40) == HLC(wall: 100, counter: 4))
    }

    @Test("a counter at its maximum rolls into the wall clock")
    func counterOverflow() {
        let last = HLC(wall: 100, counter: UInt32.max)
        let next = HLC.next(after: last, now: 50)
        #expect(next == HLC(wall: 101, counter: 0))
        #expect(next > last)
        #expect(HLC.next(after: last, now: 100) == HLC(wall: 101, counter: 0))
    }

    @Test("a random walk of a wall clock that jumps back still gives strictly increasing timestamps")
    func monotonicUnderRandomClock() {
        var g = SplitMix64(seed: 0x41C)
        var wall: UInt64 = 1_798_761_600_000
        var last: HLC? = nil
        for i in 0..<10_000 {
            wall = g.chance(30) ? wall - UInt64(g.below(5_000)) : wall + UInt64(g.below(3))
            let next = HLC.next(after: last, now: wall)
            if let last { #expect(next > last, "step \(i)") }
            #expect(next.wall >= wall)
            last = next
        }
    }

    @Test("EventFactory stamps each author's events monotonically when its clock goes back")
    func factoryMonotonic() {
        var f = EventFactory()
        let body = EventBody.roleRevoked(RoleRevoked(member: K.stranger.publicKey, role: .collector))
        let a = f.make(K.founder, body)
        f.now -= 60_000
        let b = f.make(K.founder, body)
        let c = f.make(K.organiser, body)
        #expect(b.hlc > a.hlc)
        #expect(c.hlc.wall == f.now)
        #expect(c.hlc < a.hlc)
        let clock = ManualClock()
        let t = clock.now
        clock.advance(-5)
        #expect(clock.now == t - 5)
    }

    @Test("timestamps order by wall, then counter; order keys then by author, then id")
    func ordering() {
        #expect(HLC(wall: 1, counter: 9) < HLC(wall: 2, counter: 0))
        #expect(HLC(wall: 2, counter: 0) < HLC(wall: 2, counter: 1))
        let low = [UInt8](repeating: 1, count: 32)
        let high = [UInt8](repeating: 2, count: 32)
        #expect(OrderKey(hlc: HLC(wall: 1), author: high, id: high) < OrderKey(hlc: HLC(wall: 2), author: low, id: low))
        #expect(OrderKey(hlc: HLC(wall: 1), author: low, id: high) < OrderKey(hlc: HLC(wall: 1), author: high, id: low))
        #expect(OrderKey(hlc: HLC(wall: 1), author: low, id: low) < OrderKey(hlc: HLC(wall: 1), author: low, id: high))
        #expect(!(OrderKey(hlc: HLC(wall: 1), author: low, id: low) < OrderKey(hlc: HLC(wall: 1), author: low, id: low)))
    }
}

@Suite("Printable keys", .timeLimit(.minutes(10)))
struct KeyTextTests {
    @Test("member keys and community ids round trip, ignoring case and surrounding spaces")
    func roundTrip() throws {
        for label in [UInt8(0), 1, 0x5E, 0xC0, 0xFF] {
            let key = K.key(label).publicKey
            let member = KeyText.encode(key, as: .member)
            let community = KeyText.encode(key, as: .community)
            #expect(member.hasPrefix("wrk1"))
            #expect(community.hasPrefix("wrc1"))
            #expect(member.count == 4 + 58)
            #expect(try KeyText.decode(member, as: .member) == key)
            #expect(try KeyText.decode(community, as: .community) == key)
            #expect(try KeyText.decode("  \(member.uppercased())\n", as: .member) == key)
        }
    }

    @Test("every mistyped character fails with the checksum message")
    func mistypedCharacter() throws {
        let text = KeyText.encode(K.organiser.publicKey, as: .member)
        let chars = Array(text)
        for i in 4..<chars.count {
            for replacement in ["a", "q", "7"].map(Character.init) where replacement != chars[i] {
                var typo = chars
                typo[i] = replacement
                let error = #expect(throws: WhipError.self) { try KeyText.decode(String(typo), as: .member) }
                #expect(error?.code == .invalidArgument)
                #expect(error?.message.contains("bad checksum") == true, "position \(i): \(error?.message ?? "")")
            }
        }
        // Two neighbouring characters swapped.
        var swapped = chars
        swapped.swapAt(10, 11)
        if swapped != chars {
            let e = #expect(throws: WhipError.self) { try KeyText.decode(String(swapped), as: .member) }
            #expect(e?.message.contains("checksum") == true)
        }
    }

    @Test("a community id where a member key is needed, and the reverse, fail clearly")
    func wrongKind() {
        let key = K.organiser.publicKey
        let asMember = #expect(throws: WhipError.self) { try KeyText.decode(KeyText.encode(key, as: .community), as: .member) }
        #expect(asMember?.message.contains("is a community id, but a member key (starting wrk1) is needed") == true)
        let asCommunity = #expect(throws: WhipError.self) { try KeyText.decode(KeyText.encode(key, as: .member), as: .community) }
        #expect(asCommunity?.message.contains("is a member key, but a community id (starting wrc1) is needed") == true)
        // The same key bytes under the other prefix do not pass the checksum either.
        let relabelled = "wrk1" + KeyText.encode(key, as: .community).dropFirst(4)
        let e = #expect(throws: WhipError.self) { try KeyText.decode(relabelled, as: .member) }
        #expect(e?.message.contains("checksum") == true)
    }

    @Test("wrong lengths, characters outside the alphabet and missing prefixes fail clearly")
    func malformed() {
        let text = KeyText.encode(K.organiser.publicKey, as: .member)
        for bad in [String(text.dropLast()), String(text.dropLast(2)), text + "a", text + "aaaaaaaa", "wrk1", String(text.prefix(30))] {
            let e = #expect(throws: WhipError.self) { try KeyText.decode(bad, as: .member) }
            #expect(e?.message.contains("should be wrk1 and 58 characters from a-z, 2-7") == true, "\(bad): \(e?.message ?? "")")
        }
        for bad in [text.replacingFirst("a", with: "1"), text.replacingFirst("a", with: "8"), text + "!"] where bad != text {
            let e = #expect(throws: WhipError.self) { try KeyText.decode(bad, as: .member) }
            #expect(e?.message.contains("58 characters from a-z, 2-7") == true, "\(bad): \(e?.message ?? "")")
        }
        let noPrefix = #expect(throws: WhipError.self) { try KeyText.decode(K.organiser.publicKey.hex, as: .member) }
        #expect(noPrefix?.message.contains("should start with wrk1") == true)
        let empty = #expect(throws: WhipError.self) { try KeyText.decode("", as: .community) }
        #expect(empty?.message.contains("should start with wrc1") == true)
    }

    @Test("base32 follows RFC 4648 (lower case, no padding)")
    func base32() {
        let vectors = [("", ""), ("f", "my"), ("fo", "mzxq"), ("foo", "mzxw6"), ("foob", "mzxw6yq"), ("fooba", "mzxw6ytb"), ("foobar", "mzxw6ytboi")]
        for (plain, encoded) in vectors {
            #expect(KeyText.base32(Array(plain.utf8)) == encoded)
            #expect(KeyText.unbase32(encoded) == Array(plain.utf8))
        }
        #expect(KeyText.unbase32("mz") == nil)  // non-zero padding bits
        #expect(KeyText.unbase32("m") == nil)  // a lone character cannot hold a byte
        #expect(KeyText.unbase32("MY") == nil)  // decode lower-cases first; the raw helper does not
        var g = SplitMix64(seed: 32)
        for n in 0..<40 {
            let data = g.bytes(n)
            #expect(KeyText.unbase32(KeyText.base32(data)) == data)
        }
    }
}

extension String {
    /// This string with its first `target` (after the 4-character prefix) replaced.
    fileprivate func replacingFirst(_ target: Character, with replacement: Character) -> String {
        var chars = Array(self)
        guard let i = chars.indices.dropFirst(4).first(where: { chars[$0] == target }) else {
            chars[5] = replacement
            return String(chars)
        }
        chars[i] = replacement
        return String(chars)
    }
}
