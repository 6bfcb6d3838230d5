import CVSegCore

/// The contingency table of two partitions of the same pixels: a predicted label map S (rows)
/// and a ground-truth label map G (columns), `n_ij = |S_i ∩ G_j|`, the pixels that carry
/// predicted label i and ground-truth label j.
///
/// Labels are arbitrary `Int32` values (negative ones included); each distinct value is one
/// region, whether or not its pixels are connected. Rows and columns are the labels present,
/// in ascending order of label value, so the table (and every number computed from it) does
/// not depend on how the labels are numbered. Only nonzero cells are stored, row by row (CSR).
///
/// Ground-truth pixels equal to `ignoreLabel` are left out of the table altogether (of both
/// partitions: a predicted region is then sized by its pixels that are not ignored, and a
/// predicted region that lies wholly on ignored pixels is no row). Without an ignore label
/// every pixel counts.
///
/// Building it is O(pixels + rows + columns + nonzero cells): labels are made dense (a lookup
/// array when their span is small, else a hash map), the pixels are grouped by row with a
/// counting sort, and each row's cells are counted in a scratch array.
public struct ContingencyTable: Sendable, Equatable {
    /// Pixels counted, N = Σ n_ij (all pixels but the ignored ones).
    public let pixels: Int
    /// The label value of each row (predicted region), ascending.
    public let predictedLabels: [Int32]
    /// The label value of each column (ground-truth region), ascending.
    public let truthLabels: [Int32]
    /// Row sums a_i = |S_i| (counted pixels of each predicted region).
    public let predictedSizes: [Int]
    /// Column sums b_j = |G_j|.
    public let truthSizes: [Int]
    /// Row i's nonzero cells are `rowStart[i] ..< rowStart[i + 1]` of `columns` and `counts`.
    public let rowStart: [Int]
    /// Column index of each nonzero cell, ascending within a row.
    public let columns: [Int]
    /// n_ij of each nonzero cell.
    public let counts: [Int]

    /// Rows (predicted regions with at least one counted pixel).
    public var rows: Int { predictedLabels.count }
    /// Columns (ground-truth regions with at least one counted pixel).
    public var columnCount: Int { truthLabels.count }
    /// Nonzero cells.
    public var nonzeroCells: Int { counts.count }

    /// The table of two label maps of the same size.
    /// - Parameter ignoreLabel: ground-truth label whose pixels are left out (none by default).
    /// - Throws: ``CVSegError/invalidArgument(_:)`` when the sizes differ.
    public init(predicted: LabelMap, truth: LabelMap, ignoreLabel: Int32? = nil) throws {
        guard predicted.width == truth.width, predicted.height == truth.height else {
            throw CVSegError.invalidArgument(
                "prediction is \(predicted.width)x\(predicted.height) but ground truth is \(truth.width)x\(truth.height)")
        }
        self.init(predicted: predicted.labels, truth: truth.labels, ignoreLabel: ignoreLabel)
    }

    /// The table of two equally long label sequences (pixel i of one with pixel i of the other).
    public init(predicted: [Int32], truth: [Int32], ignoreLabel: Int32? = nil) {
        precondition(predicted.count == truth.count, "\(predicted.count) predicted labels for \(truth.count) ground-truth labels")
        let total = truth.count
        // Dense column index of each pixel, -1 where the ground truth is ignored.
        var column = [Int32](repeating: -1, count: total)
        let truthValues = truth.withUnsafeBufferPointer { t in
            column.withUnsafeMutableBufferPointer { out in
                Self.densify(t, into: out) { i in ignoreLabel.map { t[i] != $0 } ?? true }
            }
        }
        var row = [Int32](repeating: -1, count: total)
        let predictedValues = predicted.withUnsafeBufferPointer { p in
            column.withUnsafeBufferPointer { c in
                row.withUnsafeMutableBufferPointer { out in Self.densify(p, into: out) { i in c[i] >= 0 } }
            }
        }
        let m = predictedValues.count, n = truthValues.count
        // Counting sort of the counted pixels' columns by row.
        var start = [Int](repeating: 0, count: m + 1)
        var counted = 0
        row.withUnsafeBufferPointer { r in
            for i in 0..<total where r[i] >= 0 {
                start[Int(r[i]) + 1] += 1
                counted += 1
            }
        }
        for i in 0..<m { start[i + 1] += start[i] }
        var grouped = [Int32](repeating: 0, count: counted)
        var next = Array(start.dropLast())
        row.withUnsafeBufferPointer { r in
            column.withUnsafeBufferPointer { c in
                grouped.withUnsafeMutableBufferPointer { g in
                    next.withUnsafeMutableBufferPointer { nx in
                        for i in 0..<total where r[i] >= 0 {
                            let k = Int(r[i])
                            g[nx[k]] = c[i]
                            nx[k] += 1
                        }
                    }
                }
            }
        }
        // Each row's cells, counted in a scratch array that is cleared after the row.
        var scratch = [Int](repeating: 0, count: n)
        var touched: [Int] = []
        var rowStart = [Int](repeating: 0, count: m + 1)
        var columns: [Int] = [], counts: [Int] = []
        var rowSums = [Int](repeating: 0, count: m), columnSums = [Int](repeating: 0, count: n)
        grouped.withUnsafeBufferPointer { g in
            scratch.withUnsafeMutableBufferPointer { s in
                for r in 0..<m {
                    touched.removeAll(keepingCapacity: true)
                    for k in start[r]..<start[r + 1] {
                        let j = Int(g[k])
                        if s[j] == 0 { touched.append(j) }
                        s[j] += 1
                    }
                    touched.sort()
                    for j in touched {
                        columns.append(j)
                        counts.append(s[j])
                        columnSums[j] += s[j]
                        s[j] = 0
                    }
                    rowSums[r] = start[r + 1] - start[r]
                    rowStart[r + 1] = columns.count
                }
            }
        }
        pixels = counted
        predictedLabels = predictedValues
        truthLabels = truthValues
        predictedSizes = rowSums
        truthSizes = columnSums
        self.rowStart = rowStart
        self.columns = columns
        self.counts = counts
    }

    /// Replaces each counted label (where `counted(i)`) by its rank among the distinct counted
    /// labels, writing ranks into `out` (uncounted pixels keep -1); returns the distinct labels,
    /// ascending. A lookup array is used when the labels span at most max(2·count, 65536)
    /// values, a hash map otherwise.
    private static func densify(_ labels: UnsafeBufferPointer<Int32>, into out: UnsafeMutableBufferPointer<Int32>,
                                counted: (Int) -> Bool) -> [Int32] {
        var low = Int32.max, high = Int32.min
        for i in 0..<labels.count where counted(i) {
            low = min(low, labels[i])
            high = max(high, labels[i])
        }
        guard low <= high else { return [] }
        let span = Int(high) - Int(low) + 1
        if span <= max(2 * labels.count, 65536) {
            var rank = [Int32](repeating: -1, count: span)
            for i in 0..<labels.count where counted(i) { rank[Int(labels[i]) - Int(low)] = 0 }
            var values: [Int32] = []
            for v in 0..<span where rank[v] == 0 {
                rank[v] = Int32(values.count)
                values.append(Int32(Int(low) + v))
            }
            rank.withUnsafeBufferPointer { rk in
                for i in 0..<labels.count where counted(i) { out[i] = rk[Int(labels[i]) - Int(low)] }
            }
            return values
        }
        var rank: [Int32: Int32] = [:]
        for i in 0..<labels.count where counted(i) { rank[labels[i]] = 0 }
        let values = rank.keys.sorted()
        for (k, v) in values.enumerated() { rank[v] = Int32(k) }
        for i in 0..<labels.count where counted(i) {
            // Every counted label was entered above.
            out[i] = rank[labels[i], default: -1]
        }
        return values
    }
}
