import CVSegCore

/// A labelled seed pixel for ``seededRegionGrowing(_:seeds:connectivity:)``: column `x`, row `y`,
/// and the label (`> 0`) of the region it starts.
public struct Seed: Sendable, Equatable {
    public var x: Int
    public var y: Int
    public var label: Int32
    public init(x: Int, y: Int, label: Int32) { self.x = x; self.y = y; self.label = label }
}

/// Seeded region growing: every pixel reachable from a seed joins the seeded region whose running
/// mean is closest to its value.
///
/// Algorithm (Adams–Bischof's sequentially sorted list, as a binary min-heap):
/// 1. Every seed pixel gets its seed's label. Seeds that share a label are one region; a region's
///    mean starts as the mean of its seed pixels.
/// 2. For each seed in the given order, its unlabelled neighbours are pushed with priority
///    δ = distance between the pixel's value and that seed's region mean.
/// 3. Repeatedly the entry with the smallest `(δ, sequence number)` is popped (the sequence
///    number counts pushes from 0, so equal δ pop first-pushed first: **ties are deterministic**).
///    A pixel already labelled is skipped (a pixel can be pushed once per neighbour that gets
///    labelled). Otherwise δ is **recomputed at pop time** for every distinct region among its
///    labelled neighbours, with their current means, and the pixel joins the region with the
///    smallest δ (equal δ: the smaller label). That region's mean is updated, and each unlabelled
///    neighbour of the pixel is pushed with δ to the updated mean.
///
/// δ is in sample units: `|v − mean|` for gray images, the Euclidean RGB distance for colour
/// images (alpha is ignored). Every pixel connected to a seed (that is, every pixel: the grid is
/// connected) ends labelled with its region's seed label; labels are the seeds' own labels, not
/// renumbered.
///
/// - Parameters:
///   - image: a gray or colour image (any layout; alpha ignored).
///   - seeds: at least one; each inside the image with `label > 0`. Repeated positions are allowed
///     only with the same label.
///   - connectivity: `.four` (default) or `.eight` neighbours.
/// - Returns: a label map the size of `image` holding the seed labels.
/// - Throws: ``CVSegError/invalidArgument(_:)`` for an empty seed list, a seed outside the image,
///   a seed label `<= 0`, or one position seeded with two different labels.
/// - Complexity: O(N log N) time for N pixels (at most 8 pushes per pixel onto the heap);
///   memory: region indices while growing (2 bytes a pixel below 32,767 regions, else 4), the
///   heap (16 bytes an entry: the pixels on the regions' borders, each up to once per labelled
///   neighbour), then the label map (4 bytes a pixel), plus O(regions · channels).
///
/// References: R. Adams, L. Bischof, "Seeded region growing", IEEE TPAMI 16(6), 1994;
/// A. Mehnert, P. Jackway, "An improved seeded region growing algorithm", Pattern Recognit.
/// Lett. 18, 1997 (order-independent tie handling, which motivates the explicit rules above).
@_specialize(where Sample == UInt8)
@_specialize(where Sample == UInt16)
public func seededRegionGrowing<Sample: PixelSample>(_ image: Image<Sample>, seeds: [Seed],
                                                     connectivity: Connectivity = .four) throws -> LabelMap
{
    guard !seeds.isEmpty else {
        throw CVSegError.invalidArgument("seededRegionGrowing: seeds must not be empty")
    }
    let width = image.width, height = image.height, n = image.pixelCount
    // Seeds by position (few): the image-sized state is the region index per pixel alone, which
    // becomes the label map at the end; pixel values are read from the image as needed.
    var seedLabel: [Int: Int32] = [:]
    var regionOfLabel: [Int32: Int] = [:]
    var regionLabels: [Int32] = []
    for (i, s) in seeds.enumerated() {
        guard s.x >= 0, s.x < width, s.y >= 0, s.y < height else {
            throw CVSegError.invalidArgument(
                "seededRegionGrowing: seed \(i) at (\(s.x), \(s.y)) is outside the \(width)x\(height) image")
        }
        guard s.label > 0 else {
            throw CVSegError.invalidArgument("seededRegionGrowing: seed \(i) at (\(s.x), \(s.y)) has label \(s.label); labels must be > 0")
        }
        let p = s.y * width + s.x
        if let existing = seedLabel[p], existing != s.label {
            throw CVSegError.invalidArgument(
                "seededRegionGrowing: seed \(i) at (\(s.x), \(s.y)) has label \(s.label) but that pixel is already seeded with label \(existing)")
        }
        seedLabel[p] = s.label
        if regionOfLabel[s.label] == nil {
            regionOfLabel[s.label] = regionLabels.count
            regionLabels.append(s.label)
        }
    }

    let channels = image.layout.isGray ? 1 : 3
    let regionCount = regionLabels.count
    // Region index per pixel (-1: unlabelled), as 16-bit integers while the regions fit (half
    // the memory of the largest array), converted to the labels at the end.
    let seedsByPosition = seedLabel.sorted { $0.key < $1.key }.map { ($0.key, regionOfLabel[$0.value] ?? 0) }
    if regionCount < Int(Int16.max) {
        let region: [Int16] = growRegions(image, seeds: seeds, seedRegions: seedsByPosition, regionLabels: regionLabels,
                                          channels: channels, connectivity: connectivity)
        var labels = [Int32](repeating: 0, count: n)
        labels.withUnsafeMutableBufferPointer { out in
            region.withUnsafeBufferPointer { reg in
                for p in 0..<n { out[p] = reg[p] >= 0 ? regionLabels[Int(reg[p])] : 0 }
            }
        }
        return LabelMap(width: width, height: height, labels: labels)
    }
    var region: [Int32] = growRegions(image, seeds: seeds, seedRegions: seedsByPosition, regionLabels: regionLabels,
                                      channels: channels, connectivity: connectivity)
    region.withUnsafeMutableBufferPointer { reg in
        for p in 0..<n { reg[p] = reg[p] >= 0 ? regionLabels[Int(reg[p])] : 0 }
    }
    return LabelMap(width: width, height: height, labels: region)
}

/// The growing itself (see ``seededRegionGrowing(_:seeds:connectivity:)``): region indices per
/// pixel, -1 where unlabelled. `seedRegions`: each seeded position and its region, by position.
@_specialize(where Sample == UInt8, Region == Int16)
@_specialize(where Sample == UInt8, Region == Int32)
@_specialize(where Sample == UInt16, Region == Int16)
@_specialize(where Sample == UInt16, Region == Int32)
private func growRegions<Sample: PixelSample, Region: FixedWidthInteger & SignedInteger>(
    _ image: Image<Sample>, seeds: [Seed], seedRegions: [(Int, Int)], regionLabels: [Int32],
    channels: Int, connectivity: Connectivity) -> [Region] {
    let width = image.width, height = image.height, n = image.pixelCount, stride = image.channels
    let regionCount = regionLabels.count
    var sums = [Double](repeating: 0, count: regionCount * channels)
    var counts = [Int](repeating: 0, count: regionCount)
    var region = [Region](repeating: -1, count: n)
    image.samples.withUnsafeBufferPointer { v in
        for (p, r) in seedRegions {
            region[p] = Region(r)
            counts[r] += 1
            for c in 0..<channels { sums[r * channels + c] += Double(v[p * stride + c]) }
        }
    }

    let offsets = neighbourOffsets(connectivity)
    var heap = GrowHeap()
    image.samples.withUnsafeBufferPointer { v in
        region.withUnsafeMutableBufferPointer { reg in
            sums.withUnsafeMutableBufferPointer { sum in
                counts.withUnsafeMutableBufferPointer { cnt in
                    func delta(_ p: Int, _ r: Int) -> Double {
                        let inv = 1 / Double(cnt[r])
                        if channels == 1 { return abs(Double(v[p * stride]) - sum[r] * inv) }
                        var d2 = 0.0
                        for c in 0..<channels {
                            let d = Double(v[p * stride + c]) - sum[r * channels + c] * inv
                            d2 += d * d
                        }
                        return d2.squareRoot()
                    }
                    func pushNeighbours(_ p: Int, _ r: Int) {
                        let x = p % width, y = p / width
                        for (dx, dy) in offsets {
                            let nx = x + dx, ny = y + dy
                            guard nx >= 0, nx < width, ny >= 0, ny < height else { continue }
                            let q = ny * width + nx
                            if reg[q] < 0 { heap.push(delta: delta(q, r), pixel: q) }
                        }
                    }
                    for s in seeds {
                        let p = s.y * width + s.x
                        pushNeighbours(p, Int(reg[p]))
                    }
                    while let e = heap.pop() {
                        let p = e.pixel
                        if reg[p] >= 0 { continue }
                        // Pop-time choice among the labelled neighbours' regions.
                        let x = p % width, y = p / width
                        var best = -1, bestDelta = Double.infinity
                        for (dx, dy) in offsets {
                            let nx = x + dx, ny = y + dy
                            guard nx >= 0, nx < width, ny >= 0, ny < height else { continue }
                            let r = Int(reg[ny * width + nx])
                            if r < 0 || r == best { continue }
                            let d = delta(p, r)
                            if d < bestDelta || (d == bestDelta && regionLabels[r] < regionLabels[best]) {
                                best = r; bestDelta = d
                            }
                        }
                        reg[p] = Region(best)
                        cnt[best] += 1
                        for c in 0..<channels { sum[best * channels + c] += Double(v[p * stride + c]) }
                        pushNeighbours(p, best)
                    }
                }
            }
        }
    }
    return region
}


/// Picks `count` seeds spread over the image, labelled `1...count`.
///
/// Rule: the image is cut into a grid of `cols = ⌈√count⌉` columns and `rows = ⌈count / cols⌉`
/// rows of cells (cell column `i` spans `x` in `i·W/cols ..< (i+1)·W/cols`, integer division; rows
/// likewise). The first `count` cells in raster order each give one seed, labelled in that order.
/// A seed starts at its cell's centre `((x0 + x1 − 1) / 2, (y0 + y1 − 1) / 2)` and moves to the
/// pixel of lowest gradient in the 5×5 window around the centre, clipped to the cell (so seeds
/// never coincide); equal gradients keep the first in raster order. The gradient is the squared
/// central difference `(I(x+1,y) − I(x−1,y))² + (I(x,y+1) − I(x,y−1))²` summed over the colour
/// channels, with coordinates clamped at the border (alpha ignored).
///
/// - Parameters:
///   - image: any layout.
///   - count: number of seeds, `>= 1`, with `cols <= width` and `rows <= height`.
/// - Returns: `count` seeds at distinct pixels, labels `1...count`.
/// - Throws: ``CVSegError/invalidArgument(_:)`` for `count < 1` or a grid with more columns than
///   the image is wide or more rows than it is high.
/// - Complexity: O(count) time and memory (25 gradient evaluations per seed).
///
/// References: R. Adams, L. Bischof, "Seeded region growing", IEEE TPAMI 16(6), 1994 (seeds);
/// R. Achanta et al., "SLIC superpixels", IEEE TPAMI 34(11), 2012 (grid seeds moved to the lowest
/// gradient in a small window).
public func autoSeeds<Sample: PixelSample>(_ image: Image<Sample>, count: Int) throws -> [Seed] {
    guard count >= 1 else {
        throw CVSegError.invalidArgument("autoSeeds: count must be >= 1, got \(count)")
    }
    var cols = 1
    while cols * cols < count { cols += 1 }
    let rows = (count + cols - 1) / cols
    let width = image.width, height = image.height
    guard cols <= width, rows <= height else {
        throw CVSegError.invalidArgument(
            "autoSeeds: a \(cols)x\(rows) seed grid needs at least that many pixels, image is \(width)x\(height)")
    }
    let channels = image.layout.isGray ? 1 : 3, stride = image.channels
    func gradient(_ x: Int, _ y: Int) -> Double {
        var g = 0.0
        for c in 0..<channels {
            func at(_ x: Int, _ y: Int) -> Double {
                Double(image.samples[(min(max(y, 0), height - 1) * width + min(max(x, 0), width - 1)) * stride + c])
            }
            let gx = at(x + 1, y) - at(x - 1, y), gy = at(x, y + 1) - at(x, y - 1)
            g += gx * gx + gy * gy
        }
        return g
    }
    var seeds: [Seed] = []
    seeds.reserveCapacity(count)
    for cell in 0..<count {
        let ci = cell % cols, cj = cell / cols
        let x0 = ci * width / cols, x1 = (ci + 1) * width / cols
        let y0 = cj * height / rows, y1 = (cj + 1) * height / rows
        let cx = (x0 + x1 - 1) / 2, cy = (y0 + y1 - 1) / 2
        var bx = cx, by = cy, bg = Double.infinity
        for y in max(cy - 2, y0)...min(cy + 2, y1 - 1) {
            for x in max(cx - 2, x0)...min(cx + 2, x1 - 1) {
                let g = gradient(x, y)
                if g < bg { bg = g; bx = x; by = y }
            }
        }
        seeds.append(Seed(x: bx, y: by, label: Int32(cell + 1)))
    }
    return seeds
}

/// Flood fill with a tolerance: the pixels connected to `seed` through pixels whose value is
/// within `tolerance` of the seed pixel's value.
///
/// A pixel is accepted when `|v − s| <= tolerance` (gray; `s` the seed pixel's value) or when the
/// Euclidean RGB distance to the seed's colour is `<= tolerance` (colour; alpha ignored), and it
/// is connected to the seed through accepted pixels. For gray images and integer tolerances this
/// is `skimage.segmentation.flood(image, (y, x), tolerance=t, connectivity=1)` for `.four` and
/// `connectivity=2` for `.eight` (note skimage's default is full connectivity, i.e. `.eight`). For
/// a fractional tolerance on an integer image skimage casts `s ± t` to the image's dtype; this
/// function uses the exact test instead.
///
/// - Parameters:
///   - image: any layout.
///   - seed: the start pixel, column `x` and row `y`, inside the image.
///   - tolerance: finite, `>= 0`, in sample units.
///   - connectivity: `.four` (default) or `.eight`.
/// - Returns: a one-channel mask the size of `image`: 1 in the flooded region, 0 elsewhere.
/// - Throws: ``CVSegError/invalidArgument(_:)`` for a seed outside the image or a negative or
///   non-finite tolerance.
/// - Complexity: O(N) time and memory for N pixels.
///
/// References: A. R. Smith, "Tint fill", SIGGRAPH 1979 (seed fill); scikit-image
/// `skimage.segmentation.flood`.
public func floodFill<Sample: PixelSample>(_ image: Image<Sample>, seed: (x: Int, y: Int), tolerance: Double,
                                           connectivity: Connectivity = .four) throws -> Image<UInt8>
{
    let width = image.width, height = image.height
    guard seed.x >= 0, seed.x < width, seed.y >= 0, seed.y < height else {
        throw CVSegError.invalidArgument("floodFill: seed (\(seed.x), \(seed.y)) is outside the \(width)x\(height) image")
    }
    guard tolerance.isFinite, tolerance >= 0 else {
        throw CVSegError.invalidArgument("floodFill: tolerance must be finite and >= 0, got \(tolerance)")
    }
    let channels = image.layout.isGray ? 1 : 3, stride = image.channels
    let offsets = neighbourOffsets(connectivity)
    var mask = [UInt8](repeating: 0, count: image.pixelCount)
    let start = seed.y * width + seed.x
    let t2 = tolerance * tolerance
    image.samples.withUnsafeBufferPointer { s in
        mask.withUnsafeMutableBufferPointer { m in
            func accepted(_ p: Int) -> Bool {
                if channels == 1 { return abs(Double(s[p * stride]) - Double(s[start * stride])) <= tolerance }
                var d2 = 0.0
                for c in 0..<channels {
                    let d = Double(s[p * stride + c]) - Double(s[start * stride + c])
                    d2 += d * d
                }
                return d2 <= t2
            }
            var stack = [start]
            m[start] = 1
            while let p = stack.popLast() {
                let x = p % width, y = p / width
                for (dx, dy) in offsets {
                    let nx = x + dx, ny = y + dy
                    guard nx >= 0, nx < width, ny >= 0, ny < height else { continue }
                    let q = ny * width + nx
                    if m[q] == 0 && accepted(q) {
                        m[q] = 1
                        stack.append(q)
                    }
                }
            }
        }
    }
    return Image(width: width, height: height, layout: .gray, samples: mask)
}

/// Flood fills from several seeds into one label map: each seed floods as
/// ``floodFill(_:seed:tolerance:connectivity:)`` does, on its own (a flood passes through pixels
/// that earlier floods took), and a pixel gets the label of the first seed whose flood reaches
/// it; pixels no flood reaches stay 0.
///
/// The same result as running ``floodFill(_:seed:tolerance:connectivity:)`` per seed and
/// keeping the first label per pixel, with one byte of bookkeeping per pixel instead of a mask
/// and a whole-image scan per seed. Each flood runs by spans of a row (scanline fill), and on
/// 8-bit gray images tests a pixel by a 256-entry table made from the seed's value.
///
/// - Throws: ``CVSegError/invalidArgument(_:)`` as ``floodFill(_:seed:tolerance:connectivity:)``
///   (the first bad seed, before anything is flooded).
/// - Complexity: O(N + Σ flood sizes) time; memory: the labels, 1 byte per pixel and the stack.
@_specialize(where Sample == UInt8)
@_specialize(where Sample == UInt16)
@_specialize(where Sample == UInt8)
@_specialize(where Sample == UInt16)
public func floodFillLabels<Sample: PixelSample>(_ image: Image<Sample>, seeds: [Seed], tolerance: Double,
                                                 connectivity: Connectivity = .four) throws -> LabelMap
{
    let width = image.width, height = image.height, n = image.pixelCount
    for seed in seeds {
        guard seed.x >= 0, seed.x < width, seed.y >= 0, seed.y < height else {
            throw CVSegError.invalidArgument("floodFill: seed (\(seed.x), \(seed.y)) is outside the \(width)x\(height) image")
        }
    }
    guard tolerance.isFinite, tolerance >= 0 else {
        throw CVSegError.invalidArgument("floodFill: tolerance must be finite and >= 0, got \(tolerance)")
    }
    guard n <= Int(Int32.max) else {
        throw CVSegError.invalidArgument("floodFill: images over 2^31 pixels are not supported")
    }
    let channels = image.layout.isGray ? 1 : 3, stride = image.channels
    let eight = connectivity == .eight
    var labels = [Int32](repeating: 0, count: n)
    // visited[p] == mark: reached by the current flood; marks cycle through 1...255.
    var visited = [UInt8](repeating: 0, count: n)
    let t2 = tolerance * tolerance
    image.samples.withUnsafeBufferPointer { sb in
        labels.withUnsafeMutableBufferPointer { lb in
            visited.withUnsafeMutableBufferPointer { vb in
                guard let s = sb.baseAddress, let lab = lb.baseAddress, let vis = vb.baseAddress else { return }
                var stack: [Int32] = []
                var mark: UInt8 = 0
                // 8-bit gray: the seed's acceptance of each of the 256 values, by the same test.
                var table = [Bool](repeating: false, count: Sample.self == UInt8.self && channels == 1 ? 256 : 0)
                for seed in seeds {
                    if mark == 255 {
                        vis.update(repeating: 0, count: n)
                        mark = 0
                    }
                    mark += 1
                    let start = seed.y * width + seed.x
                    let r0 = Double(s[start * stride])
                    let r1 = channels == 3 ? Double(s[start * stride + 1]) : 0
                    let r2 = channels == 3 ? Double(s[start * stride + 2]) : 0
                    vis[start] = mark // the seed is in its flood whatever its own value
                    if lab[start] == 0 { lab[start] = seed.label }
                    if !table.isEmpty {
                        for v in 0..<256 { table[v] = abs(Double(v) - r0) <= tolerance }
                        table.withUnsafeBufferPointer { t in
                            floodSpans(from: start, width: width, height: height, eight: eight, mark: mark,
                                       label: seed.label, visited: vis, labels: lab, stack: &stack) { t[Int(s[$0 * stride])] }
                        }
                    } else if channels == 1 {
                        floodSpans(from: start, width: width, height: height, eight: eight, mark: mark,
                                   label: seed.label, visited: vis, labels: lab, stack: &stack) {
                            abs(Double(s[$0 * stride]) - r0) <= tolerance
                        }
                    } else {
                        floodSpans(from: start, width: width, height: height, eight: eight, mark: mark,
                                   label: seed.label, visited: vis, labels: lab, stack: &stack) { q in
                            let d0 = Double(s[q * stride]) - r0, d1 = Double(s[q * stride + 1]) - r1
                            let d2 = Double(s[q * stride + 2]) - r2
                            return (0.0 + d0 * d0) + d1 * d1 + d2 * d2 <= t2
                        }
                    }
                }
            }
        }
    }
    return LabelMap(width: width, height: height, labels: labels)
}

// MARK: - Helpers

/// One seed's flood by spans: the connected set (4- or 8-connected) of pixels that pass `accept`
/// around `start` (which is taken whatever its value, already marked and labelled). A popped
/// pixel grows into the longest run of unvisited accepted pixels of its row; each run of such
/// pixels next to it in the rows above and below (one column further each way for
/// 8-connectivity) is pushed once. The set reached does not depend on the order, so the result
/// is that of the pixel-by-pixel flood; rows are divided once per span, not once per pixel.
@inline(__always)
private func floodSpans(from start: Int, width: Int, height: Int, eight: Bool, mark: UInt8, label: Int32,
                        visited vis: UnsafeMutablePointer<UInt8>, labels lab: UnsafeMutablePointer<Int32>,
                        stack: inout [Int32], accept: (Int) -> Bool) {
    @inline(__always) func open(_ q: Int) -> Bool { vis[q] != mark && accept(q) }
    @inline(__always) func take(_ q: Int) {
        vis[q] = mark
        if lab[q] == 0 { lab[q] = label }
    }
    // Pushed pixels pass `accept`; they may have been taken by a span since.
    var first = true
    stack.append(Int32(truncatingIfNeeded: start))
    while let top = stack.popLast() {
        let p = Int(top)
        if first { first = false } else if vis[p] == mark { continue } else { take(p) }
        let y = p / width, row = y * width, x = p - row
        var xl = x, xr = x
        while xl > 0 && open(row + xl - 1) { xl -= 1; take(row + xl) }
        while xr + 1 < width && open(row + xr + 1) { xr += 1; take(row + xr) }
        let lo = eight ? max(xl - 1, 0) : xl, hi = eight ? min(xr + 1, width - 1) : xr
        for ny in stride(from: y - 1, through: y + 1, by: 2) where ny >= 0 && ny < height {
            let nrow = ny * width
            var nx = lo
            while nx <= hi {
                if open(nrow + nx) {
                    stack.append(Int32(truncatingIfNeeded: nrow + nx))
                    nx += 1
                    while nx <= hi && open(nrow + nx) { nx += 1 }
                } else {
                    nx += 1
                }
            }
        }
    }
}

/// Neighbour offsets `(dx, dy)` in a fixed order: left, right, up, down, then the four corners.
private func neighbourOffsets(_ connectivity: Connectivity) -> [(Int, Int)] {
    let four = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    return connectivity == .four ? four : four + [(-1, -1), (1, -1), (-1, 1), (1, 1)]
}

/// Growth candidates, smallest `(delta, seq)` first; `seq` counts pushes, so ties pop in push order.
///
/// A binary heap of 16-byte entries (the sequence number and the pixel as `UInt32`), sifted
/// with a hole instead of swaps: the heap is most of the method's time and memory.
private struct GrowHeap {
    struct Entry {
        var delta: Double, seq: UInt32, pixel: UInt32
        @inline(__always) static func < (a: Entry, b: Entry) -> Bool { a.delta < b.delta || (a.delta == b.delta && a.seq < b.seq) }
    }
    private var items: [Entry] = []
    private var nextSeq: UInt32 = 0

    mutating func push(delta: Double, pixel: Int) {
        precondition(nextSeq < UInt32.max && pixel <= Int(UInt32.max), "seededRegionGrowing: image too large")
        let e = Entry(delta: delta, seq: nextSeq, pixel: UInt32(truncatingIfNeeded: pixel))
        nextSeq &+= 1
        items.append(e)
        items.withUnsafeMutableBufferPointer { h in
            var i = h.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                guard e < h[parent] else { break }
                h[i] = h[parent]
                i = parent
            }
            h[i] = e
        }
    }

    mutating func pop() -> (delta: Double, pixel: Int)? {
        guard let last = items.popLast() else { return nil }
        if items.isEmpty { return (last.delta, Int(last.pixel)) }
        return items.withUnsafeMutableBufferPointer { h in
            let top = h[0]
            let n = h.count
            var i = 0
            while true {
                let l = 2 * i + 1
                if l >= n { break }
                var m = l
                if l + 1 < n && h[l + 1] < h[l] { m = l + 1 }
                guard h[m] < last else { break }
                h[i] = h[m]
                i = m
            }
            h[i] = last
            return (top.delta, Int(top.pixel))
        }
    }
}
