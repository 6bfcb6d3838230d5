import Testing
@testable import CVSegNN

@Suite struct NNSmokeTests {
    @Test func moduleLinks() { #expect(String(describing: NN.self) == "NN") }
}
