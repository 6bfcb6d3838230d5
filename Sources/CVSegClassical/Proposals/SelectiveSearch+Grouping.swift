import CVSegCore

extension SelectiveSearch {
    /// The initial regions of one segmentation with their sizes, boxes, histograms and
    /// neighbours, ready for hierarchical grouping.
    struct RegionFeatures {
        let count: Int
        let imageSize: Int
        let sizes: [Int]
        let boxes: [PixelBox]
        /// `count × colorBins`, L1-normalised rows.
        let color: [Float]
        /// `count × textureBins`, L1-normalised rows.
        let texture: [Float]
        let colorBins: Int
        let textureBins: Int
        /// Neighbouring pairs `(a, b)`, `a < b`, sorted.
        let pairs: [(Int32, Int32)]

        static let colorBinsPerChannel = 25
        static let textureBinsPerOrientation = 10

        init(labels: LabelMap, space: SpaceImage) {
            let (w, h) = (labels.width, labels.height)
            let n = w * h
            let count = Int(labels.labels.max() ?? -1) + 1
            let c = space.channels
            let colorBins = c * Self.colorBinsPerChannel
            let textureBins = c * 8 * Self.textureBinsPerOrientation
            var sizes = [Int](repeating: 0, count: count)
            var boxes = [PixelBox](repeating: PixelBox(x0: .max, y0: .max, x1: .min, y1: .min), count: count)
            var colorCounts = [UInt32](repeating: 0, count: count * colorBins)
            var textureCounts = [UInt32](repeating: 0, count: count * textureBins)
            var pairs: [(Int32, Int32)] = []
            labels.labels.withUnsafeBufferPointer { l in
                space.image.samples.withUnsafeBufferPointer { px in
                    space.texture.withUnsafeBufferPointer { tex in
                        for y in 0..<h {
                            for x in 0..<w {
                                let i = y * w + x
                                let r = Int(l[i])
                                sizes[r] += 1
                                let (x32, y32) = (Int32(x), Int32(y))
                                if x32 < boxes[r].x0 { boxes[r].x0 = x32 }
                                if x32 > boxes[r].x1 { boxes[r].x1 = x32 }
                                if y32 < boxes[r].y0 { boxes[r].y0 = y32 }
                                if y32 > boxes[r].y1 { boxes[r].y1 = y32 }
                                for ch in 0..<c {
                                    colorCounts[r * colorBins + ch * Self.colorBinsPerChannel
                                                + Int(px[i * c + ch]) * Self.colorBinsPerChannel / 256] += 1
                                    let base = r * textureBins + ch * 8 * Self.textureBinsPerOrientation
                                    for o in 0..<4 {
                                        let v = Int(tex[(i * c + ch) * 4 + o])
                                        let (pos, neg) = v >= 0 ? (v, 0) : (0, -v)
                                        textureCounts[base + o * Self.textureBinsPerOrientation + pos] += 1
                                        textureCounts[base + (o + 4) * Self.textureBinsPerOrientation + neg] += 1
                                    }
                                }
                                // Neighbours share an edge (4-connectivity: right, down), as the
                                // paper's code finds them.
                                @inline(__always) func touch(_ j: Int) {
                                    let s = l[j]
                                    if s != l[i] { pairs.append(l[i] < s ? (l[i], s) : (s, l[i])) }
                                }
                                if x + 1 < w { touch(i + 1) }
                                if y + 1 < h { touch(i + w) }
                            }
                        }
                    }
                }
            }
            pairs.sort { $0 < $1 }
            var unique: [(Int32, Int32)] = []
            unique.reserveCapacity(pairs.count / 2)
            for p in pairs where unique.last.map({ $0 != p }) ?? true { unique.append(p) }
            self.count = count
            self.imageSize = n
            self.sizes = sizes
            self.boxes = boxes
            self.colorBins = colorBins
            self.textureBins = textureBins
            var color = [Float](repeating: 0, count: count * colorBins)
            var texture = [Float](repeating: 0, count: count * textureBins)
            for r in 0..<count where sizes[r] > 0 {
                let cs = 1 / Float(sizes[r] * c), ts = 1 / Float(sizes[r] * c * 8)
                for b in 0..<colorBins { color[r * colorBins + b] = Float(colorCounts[r * colorBins + b]) * cs }
                for b in 0..<textureBins { texture[r * textureBins + b] = Float(textureCounts[r * textureBins + b]) * ts }
            }
            self.color = color
            self.texture = texture
            self.pairs = unique
        }

        /// A heap entry: most similar first, then the smaller region numbers.
        struct Candidate: Comparable {
            var similarity: Double
            var a: Int32
            var b: Int32
            static func < (l: Candidate, r: Candidate) -> Bool {
                if l.similarity != r.similarity { return l.similarity > r.similarity }
                return (l.a, l.b) < (r.a, r.b)
            }
        }

        /// Hierarchical grouping with the given similarity set: the boxes of all regions in
        /// creation order (the `count` initial regions, then one per merge).
        func group(similarity: Similarity) -> [PixelBox] {
            let total = max(0, 2 * count - 1)
            var sizes = self.sizes, boxes = self.boxes
            sizes.reserveCapacity(total); boxes.reserveCapacity(total)
            var color = self.color, texture = self.texture
            // A merged region reuses the histogram rows of its first part.
            var row = Array(0..<count)
            row.reserveCapacity(total)
            var alive = [Bool](repeating: true, count: count)
            alive.reserveCapacity(total)
            var neighbours = [[Int32]](repeating: [], count: count)
            neighbours.reserveCapacity(total)
            for (a, b) in pairs {
                neighbours[Int(a)].append(b)
                neighbours[Int(b)].append(a)
            }
            let (useColor, useTexture) = (similarity.contains(.color), similarity.contains(.texture))
            let (useSize, useFill) = (similarity.contains(.size), similarity.contains(.fill))
            let imageSize = Double(self.imageSize)
            let (cb, tb) = (colorBins, textureBins)

            func score(_ a: Int, _ b: Int) -> Double {
                var s = 0.0
                if useColor {
                    let (ra, rb) = (row[a] * cb, row[b] * cb)
                    var acc: Float = 0
                    color.withUnsafeBufferPointer { h in for k in 0..<cb { acc += min(h[ra + k], h[rb + k]) } }
                    s += Double(acc)
                }
                if useTexture {
                    let (ra, rb) = (row[a] * tb, row[b] * tb)
                    var acc: Float = 0
                    texture.withUnsafeBufferPointer { h in for k in 0..<tb { acc += min(h[ra + k], h[rb + k]) } }
                    s += Double(acc)
                }
                if useSize { s += 1 - Double(sizes[a] + sizes[b]) / imageSize }
                if useFill {
                    let (p, q) = (boxes[a], boxes[b])
                    let bw = Double(Int(max(p.x1, q.x1)) - Int(min(p.x0, q.x0)) + 1)
                    let bh = Double(Int(max(p.y1, q.y1)) - Int(min(p.y0, q.y0)) + 1)
                    s += 1 - (bw * bh - Double(sizes[a] + sizes[b])) / imageSize
                }
                return s
            }

            var mark = [Int](repeating: -1, count: total) // last merge that listed a region
            var heap = MinHeap<Candidate>()
            for (a, b) in pairs { heap.push(Candidate(similarity: score(Int(a), Int(b)), a: a, b: b)) }
            while let top = heap.pop() {
                let (a, b) = (Int(top.a), Int(top.b))
                guard alive[a] && alive[b] else { continue }
                let t = sizes.count
                let (sa, sb) = (sizes[a], sizes[b])
                let (wa, wb) = (Float(sa) / Float(sa + sb), Float(sb) / Float(sa + sb))
                let (ra, rb) = (row[a], row[b])
                color.withUnsafeMutableBufferPointer { h in
                    for k in 0..<cb { h[ra * cb + k] = wa * h[ra * cb + k] + wb * h[rb * cb + k] }
                }
                texture.withUnsafeMutableBufferPointer { h in
                    for k in 0..<tb { h[ra * tb + k] = wa * h[ra * tb + k] + wb * h[rb * tb + k] }
                }
                let (p, q) = (boxes[a], boxes[b])
                sizes.append(sa + sb)
                boxes.append(PixelBox(x0: min(p.x0, q.x0), y0: min(p.y0, q.y0), x1: max(p.x1, q.x1), y1: max(p.y1, q.y1)))
                row.append(ra)
                alive[a] = false; alive[b] = false
                alive.append(true)
                var merged: [Int32] = []
                merged.reserveCapacity(neighbours[a].count + neighbours[b].count)
                for u in neighbours[a] + neighbours[b] where alive[Int(u)] && mark[Int(u)] != t {
                    mark[Int(u)] = t
                    merged.append(u)
                }
                neighbours[a] = []; neighbours[b] = []
                neighbours.append(merged)
                for u in merged {
                    let ui = Int(u)
                    neighbours[ui].removeAll { $0 == Int32(a) || $0 == Int32(b) }
                    neighbours[ui].append(Int32(t))
                    heap.push(Candidate(similarity: score(ui, t), a: min(u, Int32(t)), b: max(u, Int32(t))))
                }
            }
            return boxes
        }
    }
}
