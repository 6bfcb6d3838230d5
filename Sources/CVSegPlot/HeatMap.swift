import CVSegCore

/// What a ``HeatMap`` cell shows and is coloured by.
public enum HeatMapValues: Sendable, Equatable {
    /// Each count divided by its row's total (the fraction of a ground-truth class predicted as
    /// each class), written with 2 decimals; colour 0 = white, 1 = dark blue. A row with no
    /// ground truth has no fractions (NaN): its cells are gray and show `-`.
    case rowFractions
    /// The raw counts; colour scaled by the largest count in the matrix.
    case counts
}

/// Where a ``HeatMap``'s cells land on its canvas.
public struct HeatMapLayout: Sendable, Equatable {
    public let canvasWidth: Int
    public let canvasHeight: Int
    /// The matrix: `classes` × `classes` cells of ``cellSize`` pixels, row 0 at the top.
    public let grid: PixelRect
    public let cellSize: Int
    public let classes: Int
    /// The colour bar: value 1 (or the largest count) at the top, 0 at the bottom.
    public let colorBar: PixelRect
    /// Scale of the class names (1 or 2).
    public let labelScale: Int
    /// Scale of the numbers in the cells; nil when a cell is too small to hold them.
    public let valueScale: Int?

    /// The pixels of the cell for ground-truth class `row` and predicted class `column`.
    public func cellRect(row: Int, column: Int) -> PixelRect {
        precondition((0 ..< classes).contains(row) && (0 ..< classes).contains(column),
                     "cell (\(row), \(column)) outside a \(classes)-class matrix")
        return PixelRect(x: grid.x + column * cellSize, y: grid.y + row * cellSize, width: cellSize, height: cellSize)
    }
}

/// A confusion matrix drawn as coloured cells: rows are ground-truth classes (top to bottom),
/// columns are predicted classes (left to right), in class-index order.
///
/// The output has the title on top, class names left of the rows and written upward below
/// the columns (shortened with `..` past ``maxLabelLength`` characters), the axis labels
/// outside those, a colour bar on the right, and the value in each cell when the cells are
/// large enough (black or white, whichever reads on the cell). Cells are coloured by
/// ``BlueColorMap`` (white → dark blue). The cell size shrinks as classes are added
/// (96 pixels for up to 5 classes, down to 16 from 30 classes on) and the canvas grows to fit,
/// never below 640 × 480.
///
/// ```swift
/// let map = HeatMap(counts: matrix.counts, classNames: names)  // CVSegEval's ConfusionMatrix
/// let png = try ImageEncoder.png(try map.render().image)
/// ```
public struct HeatMap: Sendable, Equatable {
    /// Counts, row-major: `counts[truth * classes + predicted]` (as CVSegEval's `ConfusionMatrix`).
    public var counts: [Int]
    /// One name per class; their number sets the matrix size.
    public var classNames: [String]
    public var values: HeatMapValues
    public var title: String
    public var xLabel: String
    public var yLabel: String
    /// Cell side in pixels; nil picks it from the class count.
    public var cellSize: Int?
    /// Longest class name written in full (at least 3).
    public var maxLabelLength: Int

    /// - Precondition: `counts.count == classNames.count²`.
    public init(counts: [Int], classNames: [String], values: HeatMapValues = .rowFractions,
                title: String = "Confusion matrix", xLabel: String = "Predicted", yLabel: String = "Ground truth",
                cellSize: Int? = nil, maxLabelLength: Int = 16) {
        precondition(counts.count == classNames.count * classNames.count,
                     "\(counts.count) counts for \(classNames.count) classes (needs \(classNames.count * classNames.count))")
        self.counts = counts
        self.classNames = classNames
        self.values = values
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.cellSize = cellSize
        self.maxLabelLength = maxLabelLength
    }

    public var classes: Int { classNames.count }

    /// The number cell `(row, column)` shows: a row fraction (NaN for an empty row) or a count.
    public func value(row: Int, column: Int) -> Double {
        let count = Double(counts[row * classes + column])
        switch values {
        case .counts:
            return count
        case .rowFractions:
            let total = counts[row * classes ..< (row + 1) * classes].reduce(0, +)
            return total == 0 ? .nan : count / Double(total)
        }
    }

    /// Where `value(row:column:)` falls on the colour map, 0...1 (NaN for an empty row).
    public func colorFraction(row: Int, column: Int) -> Double {
        let v = value(row: row, column: column)
        switch values {
        case .rowFractions: return v
        case .counts:
            let largest = counts.max() ?? 0
            return largest == 0 ? 0 : v / Double(largest)
        }
    }

    /// The text written in a cell.
    func cellText(row: Int, column: Int) -> String {
        let v = value(row: row, column: column)
        switch values {
        case .counts: return String(counts[row * classes + column])
        case .rowFractions: return v.isNaN ? "-" : PlotMath.fixed(v, decimals: 2)
        }
    }

    /// The cell side for `classes` classes: 480 pixels shared out, kept within 16...96.
    static func automaticCellSize(classes: Int) -> Int { min(96, max(16, 480 / classes)) }

    // Spacing in pixels.
    static let margin = 12, gap = 6, colorBarWidth = 16, minimumSize = (width: 640, height: 480)
    static let titleScale = 2
}
