/// A labelled tick on an axis.
public struct AxisTick: Sendable, Equatable {
    /// The data value at the tick.
    public var value: Double
    /// The text written next to the tick.
    public var label: String
}

/// One axis of a chart: its data range, whether it is logarithmic, and its ticks.
///
/// Linear ticks sit at multiples of a "nice" step, 1, 2 or 5 × 10^k, the smallest such step
/// that gives at most the target number of intervals. Logarithmic ticks sit at powers of ten
/// (every n-th power when there are many decades), with unlabelled minor ticks at 2...9 × 10^k.
public struct AxisScale: Sendable, Equatable {
    /// The data value at the start of the axis (left, or bottom).
    public let lower: Double
    /// The data value at the end of the axis (right, or top).
    public let upper: Double
    public let isLogarithmic: Bool
    /// Labelled ticks, in increasing order, all within `lower...upper`.
    public let ticks: [AxisTick]
    /// Unlabelled ticks between the labelled ones (log axes only).
    public let minorTicks: [Double]

    /// Where `value` falls along the axis: 0 at ``lower``, 1 at ``upper``, outside 0...1 beyond
    /// them; nil when `value` is not finite, or not positive on a logarithmic axis.
    public func fraction(_ value: Double) -> Double? {
        guard value.isFinite else { return nil }
        if isLogarithmic {
            guard value > 0 else { return nil }
            let lo = PlotMath.log10(lower)
            return (PlotMath.log10(value) - lo) / (PlotMath.log10(upper) - lo)
        }
        return (value - lower) / (upper - lower)
    }

    /// A linear axis over `lower...upper` exactly, with nice ticks inside it.
    /// - Precondition: finite bounds, `lower < upper`, `targetTickCount >= 1`.
    public static func linear(lower: Double, upper: Double, targetTickCount: Int) -> AxisScale {
        precondition(lower.isFinite && upper.isFinite && lower < upper, "axis range \(lower)...\(upper)")
        let (step, decimals) = niceStep(span: upper - lower, targetCount: targetTickCount)
        return AxisScale(lower: lower, upper: upper, isLogarithmic: false,
                         ticks: ticks(lower: lower, upper: upper, step: step, decimals: decimals),
                         minorTicks: [])
    }

    /// A linear axis covering `dataMin...dataMax`, widened outward to whole multiples of a nice
    /// tick step (so both ends carry a tick): the smallest step whose widened range still has at
    /// most `targetTickCount` intervals. Equal values get a range of ±1 around them (±10% of the
    /// value when that is larger).
    public static func automaticLinear(dataMin: Double, dataMax: Double, targetTickCount: Int) -> AxisScale {
        precondition(dataMin.isFinite && dataMax.isFinite && dataMin <= dataMax, "data range \(dataMin)...\(dataMax)")
        var lo = dataMin, hi = dataMax
        if lo == hi {
            let pad = max(1, abs(lo) / 10)
            lo -= pad; hi += pad
        }
        var (mantissa, k) = niceMantissa(span: hi - lo, targetCount: targetTickCount)
        while true {
            let step = mantissa * PlotMath.pow10(k)
            // Slack of 1e-9 step so data exactly on a multiple is not widened past it.
            let first = (lo / step + 1e-9).rounded(.down), last = (hi / step - 1e-9).rounded(.up)
            if last - first <= Double(targetTickCount) {
                let lower = first * step, upper = last * step
                return AxisScale(lower: lower, upper: upper, isLogarithmic: false,
                                 ticks: ticks(lower: lower, upper: upper, step: step, decimals: max(0, -k)),
                                 minorTicks: [])
            }
            switch mantissa {
            case 1: mantissa = 2
            case 2: mantissa = 5
            default: mantissa = 1; k += 1
            }
        }
    }

    /// A base-10 logarithmic axis over `lower...upper` exactly.
    /// - Precondition: `0 < lower < upper`, both finite.
    public static func logarithmic(lower: Double, upper: Double, targetTickCount: Int) -> AxisScale {
        precondition(lower > 0 && upper.isFinite && lower < upper, "log axis range \(lower)...\(upper)")
        let kLo = PlotMath.decadeExponent(lower), kHi = PlotMath.decadeExponent(upper)
        let majors = (kLo ... kHi).filter { PlotMath.pow10($0) >= lower }
        if majors.count < 2 {
            // Less than a decade: label 1, 2 and 5 × 10^k so the axis still reads.
            let values = (kLo ... kHi).flatMap { k in [1.0, 2, 5].map { $0 * PlotMath.pow10(k) } }
                .filter { $0 >= lower && $0 <= upper }
            let ticks = values.map { AxisTick(value: $0, label: logLabel($0)) }
            return AxisScale(lower: lower, upper: upper, isLogarithmic: true, ticks: ticks, minorTicks: [])
        }
        let every = (majors.count - 1 + max(targetTickCount, 1) - 1) / max(targetTickCount, 1)
        let labelled = majors.filter { ($0 - majors[0]) % every == 0 }
        let ticks = labelled.map { k -> AxisTick in
            let v = PlotMath.pow10(k)
            return AxisTick(value: v, label: logLabel(v))
        }
        var minor: [Double] = []
        if kHi - kLo <= 8 {
            for k in kLo ... kHi {
                for m in 2 ... 9 {
                    let v = Double(m) * PlotMath.pow10(k)
                    if v >= lower && v <= upper { minor.append(v) }
                }
            }
        }
        return AxisScale(lower: lower, upper: upper, isLogarithmic: true, ticks: ticks, minorTicks: minor)
    }

    /// A logarithmic axis from the power of ten at or below `dataMin` to the power of ten at or
    /// above `dataMax` (at least one decade).
    public static func automaticLogarithmic(dataMin: Double, dataMax: Double, targetTickCount: Int) -> AxisScale {
        precondition(dataMin > 0 && dataMax.isFinite && dataMin <= dataMax, "log data range \(dataMin)...\(dataMax)")
        let kLo = PlotMath.decadeExponent(dataMin)
        var kHi = PlotMath.decadeExponent(dataMax)
        if PlotMath.pow10(kHi) < dataMax { kHi += 1 }
        if kHi == kLo { kHi += 1 }
        return logarithmic(lower: PlotMath.pow10(kLo), upper: PlotMath.pow10(kHi), targetTickCount: targetTickCount)
    }

    /// The smallest step of 1, 2 or 5 × 10^k with `span / step <= targetCount`, and the
    /// number of decimals its multiples need.
    static func niceStep(span: Double, targetCount: Int) -> (step: Double, decimals: Int) {
        let (mantissa, k) = niceMantissa(span: span, targetCount: targetCount)
        return (mantissa * PlotMath.pow10(k), max(0, -k))
    }

    /// ``niceStep(span:targetCount:)`` as `(m, k)`, step = m × 10^k with m in {1, 2, 5}.
    static func niceMantissa(span: Double, targetCount: Int) -> (mantissa: Double, exponent: Int) {
        precondition(span > 0 && span.isFinite && targetCount >= 1, "tick step for span \(span)")
        let raw = span / Double(targetCount)
        let k = PlotMath.decadeExponent(raw)
        // Relative slack so a span of exactly 5 × 0.2 still takes the step 0.2.
        for m in [1.0, 2, 5] where m * PlotMath.pow10(k) >= raw * (1 - 1e-9) {
            return (m, k)
        }
        return (1, k + 1)
    }

    /// Multiples of `step` within `lower...upper` (with a 1e-9 step of slack at both ends).
    static func ticks(lower: Double, upper: Double, step: Double, decimals: Int) -> [AxisTick] {
        let first = Int((lower / step - 1e-9).rounded(.up)), last = Int((upper / step + 1e-9).rounded(.down))
        guard first <= last else { return [] }
        let large = max(abs(Double(first) * step), abs(Double(last) * step)) >= 1e6
        return (first ... last).map { i in
            let v = Double(i) * step
            return AxisTick(value: v, label: large ? PlotMath.scientific(v) : PlotMath.fixed(v, decimals: decimals))
        }
    }

    /// Label of a power of ten (or 2 or 5 times one): plain digits from 0.001 to 1000000,
    /// otherwise scientific (`1e7`, `1e-4`).
    static func logLabel(_ v: Double) -> String {
        let k = PlotMath.decadeExponent(v)
        guard k >= -3 && k <= 6 else { return PlotMath.scientific(v) }
        return PlotMath.fixed(v, decimals: max(0, -k))
    }
}
