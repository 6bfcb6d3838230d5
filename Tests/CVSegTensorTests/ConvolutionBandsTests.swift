import Testing
import CVSegCore
@testable import CVSegTensor

/// Inference convolutions above ``ConvolutionBands/outputBytes`` run in bands of output rows
/// (`bandedConvolution`); the result must be the one-piece convolution's.
struct ConvolutionBandsTests {
    struct Case: Sendable, CustomStringConvertible {
        var cin: Int, cout: Int, h: Int, w: Int, k: Int, stride: Int, padding: Int, dilation: Int, groups: Int, relu: Bool
        var description: String { "\(cin)->\(cout) \(h)x\(w) k\(k) s\(stride) p\(padding) d\(dilation) g\(groups) relu \(relu)" }
        var winograd: Bool { k == 3 && stride == 1 && dilation == 1 && groups == 1 && cin % 16 == 0 && cout % 16 == 0 }
    }

    static let cases = [
        Case(cin: 16, cout: 16, h: 37, w: 29, k: 3, stride: 1, padding: 1, dilation: 1, groups: 1, relu: true),  // Winograd
        Case(cin: 3, cout: 8, h: 40, w: 33, k: 3, stride: 2, padding: 1, dilation: 1, groups: 1, relu: false),
        Case(cin: 8, cout: 8, h: 35, w: 20, k: 3, stride: 1, padding: 2, dilation: 2, groups: 1, relu: true),
        Case(cin: 8, cout: 16, h: 30, w: 30, k: 5, stride: 1, padding: 0, dilation: 1, groups: 2, relu: false),
        Case(cin: 4, cout: 4, h: 33, w: 17, k: 7, stride: 3, padding: 3, dilation: 1, groups: 1, relu: true),
    ]

    @Test(arguments: cases)
    func bandsEqualTheWholeConvolution(_ c: Case) throws {
        var g = SplitMix64(seed: UInt64(c.h * 100 + c.w))
        let x = Tensor.randomNormal([2, c.cin, c.h, c.w], generator: &g)
        let weight = Tensor.randomNormal([c.cout, c.cin / c.groups, c.k, c.k], std: 0.2, generator: &g)
        let bias = Tensor.randomNormal([c.cout], generator: &g)
        let whole = try conv2d(x, weight: weight, bias: bias, stride: Size2(integerLiteral: c.stride), padding: Size2(integerLiteral: c.padding),
                               dilation: Size2(integerLiteral: c.dilation), groups: c.groups, relu: c.relu)
        let geometry = DNNL.Conv2D(inputShape: x.shape, outChannels: c.cout, kernel: DNNL.Pair(c.k, c.k), stride: DNNL.Pair(c.stride, c.stride),
                                   padding: DNNL.Padding(c.padding, c.padding), dilation: DNNL.Pair(c.dilation, c.dilation), groups: c.groups)
        // Bands of 4 rows (bandBytes 1): first, middle and last bands with their own padding.
        let banded = try bandedConvolution(try DNNLEngine.shared(), geometry, outputShape: whole.shape, input: x.values, weight: weight.values,
                                           bias: bias.values, relu: c.relu, weightOwner: weight.storage, bandBytes: 1)
        #expect(whole.shape[2] > 8, "several bands")
        let diff = zip(banded, whole.values).map { abs($0 - $1) }.max() ?? 0
        // Direct convolutions: the same sums in the same order, bit for bit. Winograd (3×3,
        // 16-channel multiples): its transforms of the band's edge tiles round differently.
        let scale = whole.values.map { abs($0) }.max() ?? 1
        #expect(diff <= (c.winograd ? 1e-6 * scale : 0), "max |banded − whole| = \(diff)")
    }
}
