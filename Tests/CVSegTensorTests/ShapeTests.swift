import Testing
@testable import CVSegTensor

@Suite struct ShapeTests {
    @Test func countsAndStrides() {
        let s: Shape = [2, 3, 4, 5]
        #expect(s.count == 120 && s.rank == 4)
        #expect(s.strides == [60, 20, 5, 1])
        #expect(Shape([]).count == 1 && Shape([3, 0]).count == 0)
        #expect(s.description == "[2, 3, 4, 5]")
    }
}
