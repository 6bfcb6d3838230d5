import Testing
import Glibc
import CVSegCore
import CVSegIO
import CVSegTestSupport
@testable import CVSegClassical

/// Made by scripts/reference/felzenszwalb_reference.py (scikit-image 0.26, SciPy 1.17, numpy 2.4).
private let felzenszwalbFixtures = packageRoot + "/Tests/CVSegClassicalTests/Fixtures/felzenszwalb"

private func felzenszwalbFixture() throws -> JSON {
    let path = felzenszwalbFixtures + "/expected.json"
    return try JSON.parse(FileBytes.read(path), file: path)
}

struct FelzenszwalbCase: Sendable, CustomTestStringConvertible {
    let root: String, path: String, crop: [Int]?, scale: Double, sigma: Double, minSize: Int
    let segments: Int, labelsSHA256: String, pixelsSHA256: String
    var testDescription: String { "\(path) crop \(crop ?? []) scale \(scale) sigma \(sigma) min_size \(minSize)" }
}

func felzenszwalbCases(_ key: String = "cases") -> [FelzenszwalbCase] {
    guard let cases = (try? felzenszwalbFixture())?[key]?.arrayValue else { return [] }
    return cases.map { c in
        FelzenszwalbCase(root: c["root"]!.stringValue!, path: c["path"]!.stringValue!,
                         crop: c["crop"]?.arrayValue?.map { $0.intValue! },
                         scale: c["scale"]!.doubleValue!, sigma: c["sigma"]!.doubleValue!,
                         minSize: c["min_size"]!.intValue!, segments: c["segments"]!.intValue!,
                         labelsSHA256: c["labels_sha256"]!.stringValue!, pixelsSHA256: c["pixels_sha256"]!.stringValue!)
    }
}

/// `[x, y, width, height]` of `image`, as numpy's `arr[y:y+h, x:x+w]`.
private func cropped<S: PixelSample>(_ image: Image<S>, _ crop: [Int]?) -> Image<S> {
    guard let crop else { return image }
    let (x0, y0, w, h, c) = (crop[0], crop[1], crop[2], crop[3], image.channels)
    var out = [S]()
    out.reserveCapacity(w * h * c)
    for y in y0..<(y0 + h) { out += image.samples[((y * image.width + x0) * c)..<((y * image.width + x0 + w) * c)] }
    return Image(width: w, height: h, layout: image.layout, samples: out)
}

private func littleEndianBytes<S: FixedWidthInteger>(_ samples: [S]) -> [UInt8] {
    samples.flatMap { v in (0..<(S.bitWidth / 8)).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) } }
}

private func environmentFlag(_ name: String) -> Bool {
    guard let value = getenv(name) else { return false }
    return String(cString: value) == "1"
}


@Suite struct FelzenszwalbTests {
    // MARK: DisjointSet

    @Test(arguments: 0..<8)
    func disjointSetMatchesNaiveLabelsUnderRandomUnions(seed: Int) {
        var rng = SplitMix64(state: UInt64(seed))
        let n = Int.random(in: 1...300, using: &rng)
        var set = DisjointSet(count: n)
        var naive = Array(0..<n) // naive[i]: set id; union relabels every member
        for _ in 0..<(2 * n) {
            let a = Int.random(in: 0..<n, using: &rng), b = Int.random(in: 0..<n, using: &rng)
            if Bool.random(using: &rng) {
                let r = set.union(a, b)
                #expect(set.find(a) == r && set.find(b) == r)
                let (from, to) = (naive[b], naive[a])
                for i in 0..<n where naive[i] == from { naive[i] = to }
            } else {
                #expect((set.find(a) == set.find(b)) == (naive[a] == naive[b]))
                #expect(set.size(of: a) == naive.filter { $0 == naive[a] }.count)
            }
        }
        set.checkInvariants()
        #expect(set.setCount == Set(naive).count)
        for i in 0..<n { for j in stride(from: 0, to: n, by: 7) {
            #expect((set.find(i) == set.find(j)) == (naive[i] == naive[j]))
        } }
        set.checkInvariants()
    }

    @Test func disjointSetEmptyAndSingleton() {
        let empty = DisjointSet(count: 0)
        empty.checkInvariants()
        #expect(empty.setCount == 0)
        var one = DisjointSet(count: 1)
        #expect(one.union(0, 0) == 0 && one.setCount == 1 && one.size(of: 0) == 1)
        one.checkInvariants()
    }

    // MARK: Gaussian filter

    /// SciPy's `gaussian_filter` output on a 5x7 image at sigma 0.5, 0.8 and 2 (radius 8, wider
    /// than the 5-row image, so the reflection repeats). Same kernel formula, summation order
    /// and reflection, so sigma 0.5 is bit-exact; at 0.8 and 2, numpy's vectorised (AVX-512)
    /// `exp` differs from the C library's `exp` by one ulp on 2 and 4 kernel taps (checked in
    /// Python against `math.exp`), which leaves last-bit differences, hence 4e-16 relative there.
    @Test func gaussianMatchesSciPy() throws {
        let fixture = try felzenszwalbFixture()
        let input = fixture["gaussian_input"]!.arrayValue!.map { $0.doubleValue! }
        let shape = fixture["gaussian_shape"]!.arrayValue!.map { $0.intValue! }
        let cases = fixture["gaussian"]!.arrayValue!
        #expect(cases.count == 3)
        for c in cases {
            let sigma = c["sigma"]!.doubleValue!
            let expected = c["output"]!.arrayValue!.map { $0.doubleValue! }
            let got = try gaussianFilter(input, width: shape[1], height: shape[0], sigma: sigma)
            let worst = zip(got, expected).map { abs($0 - $1) / abs($1) }.max() ?? 0
            if sigma == 0.5 {
                #expect(got == expected, "sigma \(sigma): worst relative difference \(worst)")
            } else {
                #expect(got.count == expected.count && worst <= 4e-16, "sigma \(sigma): worst relative difference \(worst)")
            }
        }
    }

    @Test func gaussianKernelSumsToOneAndZeroSigmaIsIdentity() throws {
        let k = try gaussianKernel(sigma: 0.8)
        #expect(k.count == 7 && abs(k.reduce(0, +) - 1) < 1e-15 && k == k.reversed())
        let values: [Double] = [1, 2, 3, 4, 5, 6]
        #expect(try gaussianFilter(values, width: 3, height: 2, sigma: 0) == values)
        // A constant image stays constant up to rounding.
        let flat = try gaussianFilter([Double](repeating: 0.25, count: 12), width: 4, height: 3, sigma: 1.5)
        #expect(flat.allSatisfy { abs($0 - 0.25) < 1e-15 })
        #expect(throws: CVSegError.self) { _ = try gaussianFilter(values, width: 3, height: 2, sigma: -1) }
        #expect(throws: CVSegError.self) { _ = try gaussianFilter(values, width: 4, height: 2, sigma: 1) }
    }

    /// ``GaussianRows`` gives, row by row, exactly the whole-image filter's output on the unit
    /// floats, for gray and RGB(A) samples, 8 and 16 bits, rows narrower than the kernel, sigma 0.
    @Test func gaussianRowsEqualTheWholeImageFilter() throws {
        var rng = SplitMix64(state: 31)
        for (w, h, layout, sigma) in [(37, 23, ColorLayout.gray, 0.8), (5, 9, .rgb, 2.0), (2, 13, .gray, 1.3),
                                      (40, 3, .rgba, 0.5), (16, 16, .grayAlpha, 0.0), (1, 1, .gray, 0.8)] {
            let channels = layout.isGray ? 1 : 3
            let samples = (0..<(w * h * layout.channels)).map { _ in UInt16.random(in: 0...65535, using: &rng) }
            let sixteen = Image(width: w, height: h, layout: layout, samples: samples)
            let eight = sixteen.mapSamples { UInt8($0 >> 8) }
            func check<S: PixelSample>(_ image: Image<S>) throws {
                var unit = [Double]()
                for p in 0..<(w * h) {
                    for c in 0..<channels { unit.append(Double(image.samples[p * layout.channels + c]) * (1 / Double(S.max))) }
                }
                let whole = try gaussianFilter(unit, width: w, height: h, channels: channels, sigma: sigma)
                var rows = try GaussianRows(image, channels: channels, sigma: sigma)
                let row = UnsafeMutablePointer<Double>.allocate(capacity: w * channels)
                defer { row.deallocate() }
                for y in 0..<h {
                    rows.row(y, into: row)
                    let got = (0..<(w * channels)).map { row[$0].bitPattern }
                    let expected = whole[(y * w * channels)..<((y + 1) * w * channels)].map(\.bitPattern)
                    #expect(got == expected, "\(w)x\(h) \(layout) sigma \(sigma) row \(y)")
                }
            }
            try check(eight)
            try check(sixteen)
        }
    }

    // MARK: felzenszwalb against scikit-image

    @Test func fixtureHasCases() {
        #expect(felzenszwalbCases().count == 14) // 7 images (2 synthetic, 3 BSDS, 2 horses) x 2 parameter sets
        #expect(felzenszwalbCases("full_cases").count == 9) // 3 whole images x 3 parameter sets
    }

    /// Exact equality of the label maps with scikit-image's (sha256 of int32 little-endian,
    /// row-major), which implies equal segment counts; the count is also checked separately so
    /// that a failure says how far off it is (the bound is 5%).
    @Test(arguments: felzenszwalbCases())
    func matchesScikitImage(_ c: FelzenszwalbCase) throws { try checkAgainstScikitImage(c) }

    /// Whole images (up to 481x321, also at scikit-image's defaults with ~1900 segments): a few
    /// seconds each in debug builds, so opt-in with CVSEG_FELZENSZWALB_FULL=1.
    @Test(.enabled(if: environmentFlag("CVSEG_FELZENSZWALB_FULL")), arguments: felzenszwalbCases("full_cases"))
    func wholeImagesMatchScikitImage(_ c: FelzenszwalbCase) throws { try checkAgainstScikitImage(c) }

    /// `streaming`: through ``felzenszwalbStreaming`` with chunks of a sixteenth of the edges
    /// (about 16 chunks a pass, more where buckets are refined) instead of the whole-image path.
    func checkAgainstScikitImage(_ c: FelzenszwalbCase, streaming: Bool = false) throws {
        let path = c.root == "fixture" ? felzenszwalbFixtures + "/" + c.path : dataRoot + "/" + c.path
        func segment<S: PixelSample>(_ image: Image<S>) throws -> LabelMap {
            streaming
                ? try felzenszwalbStreaming(image, scale: c.scale, sigma: c.sigma, minSize: c.minSize,
                                            chunkEdges: max(64, image.pixelCount / 4))
                : try felzenszwalb(image, scale: c.scale, sigma: c.sigma, minSize: c.minSize)
        }
        let labels: LabelMap
        switch try ImageFile.read(path, options: DecodeOptions(palette: .expand)).expanded() {
        case .uint8(let full):
            let image = cropped(full, c.crop)
            #expect(SHA256.hex(image.samples) == c.pixelsSHA256, "decoded pixels differ from Pillow's")
            labels = try segment(image)
        case .uint16(let full):
            let image = cropped(full, c.crop)
            #expect(SHA256.hex(littleEndianBytes(image.samples)) == c.pixelsSHA256, "decoded pixels differ from Pillow's")
            labels = try segment(image)
        }
        let segments = Int(labels.maxLabel ?? -1) + 1
        #expect(abs(segments - c.segments) * 20 <= c.segments, "\(segments) segments, scikit-image \(c.segments)")
        #expect(SHA256.hex(littleEndianBytes(labels.labels.map { UInt32(bitPattern: $0) })) == c.labelsSHA256)
    }

    // MARK: The streaming path (large images) against the whole-image path

    /// The scikit-image fixture cases through ``felzenszwalbStreaming``, with chunks of a
    /// sixteenth of the edges (about 16 chunks a pass, more where buckets are refined): the same
    /// label hashes.
    @Test(arguments: felzenszwalbCases())
    func streamingMatchesScikitImage(_ c: FelzenszwalbCase) throws { try checkAgainstScikitImage(c, streaming: true) }

    /// Seeded random images built to reach every branch of the streaming path: flat patches (one
    /// weight, 0, carried by more edges than a chunk holds: the per-direction sweeps), 8-level
    /// posterised noise with sigma 0 (few distinct weights: buckets refined down to single keys),
    /// smooth noise (many chunks), RGB and 16-bit, thin shapes; chunks of 7 and 120 edges.
    @Test(arguments: 0..<10)
    func streamingMatchesWholeImage(_ seed: Int) throws {
        var rng = SplitMix64(state: 9000 + UInt64(seed))
        let shapes = [(23, 17), (1, 40), (40, 1), (31, 29), (2, 2), (16, 3)]
        let (w, h) = shapes[seed % shapes.count]
        let n = w * h
        let rgb = seed % 3 == 2
        let channels = rgb ? 3 : 1
        var samples = [UInt8](repeating: 0, count: n * channels)
        for i in 0..<(n * channels) { samples[i] = UInt8.random(in: 0...255, using: &rng) }
        if seed % 2 == 0 {
            // Flat patches over the noise.
            for _ in 0..<4 {
                let x0 = Int.random(in: 0..<w, using: &rng), y0 = Int.random(in: 0..<h, using: &rng)
                let x1 = Int.random(in: x0..<w, using: &rng), y1 = Int.random(in: y0..<h, using: &rng)
                let v = UInt8.random(in: 0...255, using: &rng)
                for y in y0...y1 { for x in x0...x1 { for c in 0..<channels { samples[(y * w + x) * channels + c] = v } } }
            }
        } else {
            for i in samples.indices { samples[i] = samples[i] / 32 * 32 }
        }
        let eight = Image(width: w, height: h, layout: rgb ? .rgb : .gray, samples: samples)
        let sixteen = eight.mapSamples { UInt16($0) * 257 &+ 3 }
        for (scale, sigma, minSize) in [(1.0, 0.0, 0), (300, 0.8, 5), (30, 0.5, 1), (5000, 2.0, 40)] {
            for chunk in [7, 120] {
                let expected = try felzenszwalb(eight, scale: scale, sigma: sigma, minSize: minSize)
                let got = try felzenszwalbStreaming(eight, scale: scale, sigma: sigma, minSize: minSize, chunkEdges: chunk)
                #expect(got == expected, "8-bit \(w)x\(h) scale \(scale) sigma \(sigma) minSize \(minSize) chunk \(chunk)")
                let expected16 = try felzenszwalb(sixteen, scale: scale, sigma: sigma, minSize: minSize)
                let got16 = try felzenszwalbStreaming(sixteen, scale: scale, sigma: sigma, minSize: minSize, chunkEdges: chunk)
                #expect(got16 == expected16, "16-bit \(w)x\(h) scale \(scale) sigma \(sigma) minSize \(minSize) chunk \(chunk)")
            }
        }
    }

    /// Where ties decide: three-valued noise (0, 32, 64) without smoothing has two nonzero
    /// weights, 32/255 on about half the edges, and scale 112 (k = 3.5 · 32/255) lets a component
    /// without inner edges merge across it only while it has fewer than four pixels, so which
    /// edges go first changes the result. The streaming path must take them in the whole-image path's
    /// order (direction, then position) both from a chunk (chunk 5000) and from the per-direction
    /// sweeps of a single weight (chunk 50).
    @Test(arguments: 0..<4)
    func streamingKeepsTieOrder(_ seed: Int) throws {
        var rng = SplitMix64(state: 4200 + UInt64(seed))
        let (w, h) = [(40, 30), (33, 41), (64, 16), (17, 50)][seed]
        let image = Image(width: w, height: h, layout: .gray,
                          samples: (0..<(w * h)).map { _ in UInt8.random(in: 0...2, using: &rng) * 32 })
        for minSize in [0, 3] {
            let expected = try felzenszwalb(image, scale: 112, sigma: 0, minSize: minSize)
            #expect(Set(expected.labels).count > 10)
            for chunk in [50, 5000] {
                let got = try felzenszwalbStreaming(image, scale: 112, sigma: 0, minSize: minSize, chunkEdges: chunk)
                #expect(got == expected, "\(w)x\(h) minSize \(minSize) chunk \(chunk)")
            }
        }
    }

    // MARK: Edge cases

    @Test func constantImageIsOneSegment() throws {
        let gray = Image<UInt8>(width: 9, height: 7, layout: .gray, repeating: 90)
        #expect(try felzenszwalb(gray).labels.allSatisfy { $0 == 0 })
        let rgba = Image<UInt16>(width: 5, height: 4, layout: .rgba, repeating: 4000)
        #expect(try felzenszwalb(rgba, scale: 50, sigma: 0, minSize: 0).labels.allSatisfy { $0 == 0 })
    }

    @Test func tinyShapes() throws {
        #expect(try felzenszwalb(Image<UInt8>(width: 1, height: 1, layout: .rgb, repeating: 3)).labels == [0])
        let empty = try felzenszwalb(Image<UInt8>(width: 0, height: 0, layout: .gray))
        #expect(empty.width == 0 && empty.labels.isEmpty)
        // 1x8 and 8x1 with a step and no smoothing: weights are 0 inside the halves (always
        // merged) and 1 across the step, above 1/255 · (1/1 + ...) so it is never crossed.
        let row = Image<UInt8>(width: 8, height: 1, layout: .gray, samples: [0, 0, 0, 0, 255, 255, 255, 255])
        #expect(try felzenszwalb(row, scale: 1, sigma: 0, minSize: 0).labels == [0, 0, 0, 0, 1, 1, 1, 1])
        let column = Image<UInt8>(width: 1, height: 8, layout: .gray, samples: row.samples)
        #expect(try felzenszwalb(column, scale: 1, sigma: 0, minSize: 0).labels == [0, 0, 0, 0, 1, 1, 1, 1])
        // minSize larger than the image merges everything.
        #expect(try felzenszwalb(row, scale: 1, sigma: 0, minSize: 100).labels.allSatisfy { $0 == 0 })
        // Smoothed (radius 3 > the 1-pixel width: reflection repeats) it still runs and labels in raster order.
        let smoothed = try felzenszwalb(column, scale: 1, sigma: 0.8, minSize: 0).labels
        #expect(smoothed.first == 0 && zip(smoothed, smoothed.dropFirst()).allSatisfy { $1 == $0 || $1 == $0 + 1 })
    }

    @Test func alphaIsIgnored() throws {
        var rgba = Image<UInt8>(width: 6, height: 4, layout: .rgba, repeating: 200)
        for y in 0..<4 { for x in 0..<6 { rgba[x, y, 3] = UInt8(x * 40) } }
        #expect(try felzenszwalb(rgba, scale: 1, sigma: 0, minSize: 0).labels.allSatisfy { $0 == 0 })
    }

    @Test func invalidParametersThrow() {
        let image = Image<UInt8>(width: 3, height: 3, layout: .gray)
        #expect(throws: CVSegError.self) { _ = try felzenszwalb(image, scale: 0) }
        #expect(throws: CVSegError.self) { _ = try felzenszwalb(image, scale: -1) }
        #expect(throws: CVSegError.self) { _ = try felzenszwalb(image, scale: .infinity) }
        #expect(throws: CVSegError.self) { _ = try felzenszwalb(image, sigma: -0.1) }
        #expect(throws: CVSegError.self) { _ = try felzenszwalb(image, sigma: .nan) }
        #expect(throws: CVSegError.self) { _ = try felzenszwalb(image, minSize: -1) }
    }
}
