import Testing

@testable import WhipWeb

@Suite(.timeLimit(.minutes(2))) struct AssetsTests {
    @Test func assetsAreCompiledIn() {
        #expect(Assets.bytes("desk.css")?.isEmpty == false)
    }
}
