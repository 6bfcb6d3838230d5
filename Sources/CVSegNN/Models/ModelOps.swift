import CVSegCore
import CVSegTensor

// Small operations and initialisations the segmentation models need.

/// `x` `[N, C, H, W]` padded with zeros at the bottom and right to `[N, C, height, width]`
/// (PyTorch's `F.pad(x, (0, width − W, 0, height − H))`).
public func padBottomRight(_ x: Tensor, height oh: Int, width ow: Int) throws -> Tensor {
    guard x.shape.rank == 4, oh >= x.shape[2], ow >= x.shape[3] else {
        throw CVSegError.invalidArgument("padBottomRight: \(x.shape) to \(oh)×\(ow)")
    }
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let xv = x.values
    var y = [Float](repeating: 0, count: n * c * oh * ow)
    for p in 0..<(n * c) {
        for r in 0..<h {
            let (src, dst) = ((p * h + r) * w, (p * oh + r) * ow)
            for k in 0..<w { y[dst + k] = xv[src + k] }
        }
    }
    let shape = x.shape
    return try customOperation("pad", shape: [n, c, oh, ow], values: y, inputs: [x]) { g in
        [try cropTopLeft(g.detached, height: shape[2], width: shape[3])]
    }
}

/// The top-left `height×width` of `x` `[N, C, H, W]` (PyTorch's `x[:, :, :height, :width]`).
public func cropTopLeft(_ x: Tensor, height oh: Int, width ow: Int) throws -> Tensor {
    guard x.shape.rank == 4, (1...x.shape[2]).contains(oh), (1...x.shape[3]).contains(ow) else {
        throw CVSegError.invalidArgument("cropTopLeft: \(oh)×\(ow) from \(x.shape)")
    }
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let xv = x.values
    var y = [Float](repeating: 0, count: n * c * oh * ow)
    for p in 0..<(n * c) {
        for r in 0..<oh {
            let (src, dst) = ((p * h + r) * w, (p * oh + r) * ow)
            for k in 0..<ow { y[dst + k] = xv[src + k] }
        }
    }
    return try customOperation("crop", shape: [n, c, oh, ow], values: y, inputs: [x]) { g in
        [try padBottomRight(g.detached, height: h, width: w)]
    }
}

/// Initialisations from the papers.
public enum ModelInit {
    /// The `size×size` bilinear interpolation kernel of FCN's `get_upsampling_weight`
    /// (fcn.berkeleyvision.org `surgery.upsample_filt`): with `f = ⌈size/2⌉` and centre
    /// `c = f − 1` (odd size) or `f − 0.5` (even size),
    /// `k[i, j] = (1 − |i − c|/f)·(1 − |j − c|/f)`, computed in Double as numpy does.
    /// For size `2f` and stride `f` a transposed convolution with this kernel interpolates
    /// bilinearly, each coarse value landing at output `i·f + f − ½` (hence FCN's padding `f/2`).
    public static func bilinearKernel(size k: Int) -> [Float] {
        let factor = (k + 1) / 2
        let center = k % 2 == 1 ? Double(factor - 1) : Double(factor) - 0.5
        var out = [Float](repeating: 0, count: k * k)
        for i in 0..<k {
            for j in 0..<k {
                let a = 1 - abs(Double(i) - center) / Double(factor), b = 1 - abs(Double(j) - center) / Double(factor)
                out[i * k + j] = Float(a * b)
            }
        }
        return out
    }

    /// FCN's upsampling weight `[channels, channels, size, size]` for a transposed convolution:
    /// the bilinear kernel on the diagonal (channel c to channel c), zero elsewhere.
    public static func bilinearWeight(channels: Int, size k: Int) -> Tensor {
        let kernel = bilinearKernel(size: k)
        var w = [Float](repeating: 0, count: channels * channels * k * k)
        for c in 0..<channels {
            let base = (c * channels + c) * k * k
            for i in 0..<(k * k) { w[base + i] = kernel[i] }
        }
        return Tensor(shape: [channels, channels, k, k], values: w)
    }

    /// Yu and Koltun's identity initialisation of a convolution (groups 1) with as many outputs
    /// as inputs: `w[o, i, kh/2, kw/2] = 1 if o = i`, every other tap 0, bias 0, so the layer
    /// passes its input through unchanged (before its ReLU). With more outputs than inputs (or
    /// fewer) the first min(in, out) channels are passed through, the others are 0.
    public static func identity(_ conv: Conv2d) {
        let s = conv.weight.value.shape
        var w = [Float](repeating: 0, count: s.count)
        let (kh, kw) = (s[2], s[3])
        for o in 0..<min(s[0], s[1]) { w[((o * s[1] + o) * kh + kh / 2) * kw + kw / 2] = 1 }
        conv.weight.value = Tensor(shape: s, values: w)
        if let b = conv.bias { b.value = Tensor.zeros(b.value.shape) }
    }
}

/// `[Conv2d 3×3 (+ dilation), ReLU] × count` (+ a 2×2 max pooling) as one `nn.Sequential`:
/// state_dict names `0.weight`, `2.weight`, … as PyTorch's.
/// A VGG stage: `convs` 3×3 convolutions, each followed by batch norm when `batchNorm`
/// (torchvision's `vgg16_bn` pattern: conv, BN, ReLU) and a ReLU, then a 2×2 max pooling.
func vggStage(_ inChannels: Int, _ width: Int, convs: Int, dilation: Int = 1, pool: Bool, batchNorm: Bool = false,
              generator: inout SplitMix64) -> Sequential {
    var layers: [Layer] = []
    for i in 0..<convs {
        layers.append(Conv2d(i == 0 ? inChannels : width, width, kernel: 3, padding: Size2(integerLiteral: dilation),
                             dilation: Size2(integerLiteral: dilation), generator: &generator))
        if batchNorm { layers.append(BatchNorm2d(width)) }
        layers.append(Activation(.relu))
    }
    if pool { layers.append(MaxPool2d(kernel: 2)) }
    return Sequential(layers)
}

extension Conv2d {
    /// The convolution with its ReLU fused, in the layer's scope.
    func reluForward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        try scoped(context) { try forward(x, context, relu: true) }
    }
}

extension MetadataReader {
    /// An optional `true`/`false` key (absent: false), so files written before the key existed
    /// still describe the same model.
    func flag(_ key: String) throws -> Bool {
        guard let v = metadata[key] else { return false }
        guard v == "true" || v == "false" else { throw fail(key, "true or false") }
        return v == "true"
    }
}
