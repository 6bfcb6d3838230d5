// Logarithms and number formatting written on the standard library alone (it has no `log10` or
// `pow`, and CVSegPlot does not import Foundation or Glibc). Exact where charts need exactness:
// `pow10` is exact for 0...22, `decadeExponent` compares against those powers directly, and
// `log10` of an exact power of ten is exactly its exponent.

enum PlotMath {
    static let ln2 = 0.693147180559945309417232121458176568
    static let ln10 = 2.302585092994045684017968632097166698

    /// 10^k: exact for 0 <= k <= 22; otherwise a correctly rounded quotient or product.
    static func pow10(_ k: Int) -> Double {
        var p = 1.0
        for _ in 0 ..< min(abs(k), 400) { p *= 10 }
        return k >= 0 ? p : 1 / p
    }

    /// The largest `k` with `10^k <= v`.
    /// - Precondition: `v` is finite and positive.
    static func decadeExponent(_ v: Double) -> Int {
        precondition(v > 0 && v.isFinite, "decade of \(v)")
        var k = 0
        while pow10(k) > v { k -= 1 }
        while pow10(k + 1) <= v { k += 1 }
        return k
    }

    /// Natural logarithm of `v` in [1, 2): 2 atanh((v-1)/(v+1)) as a series; |s| <= 1/3, so
    /// 25 terms leave an error below 1e-23.
    private static func lnNearOne(_ v: Double) -> Double {
        let s = (v - 1) / (v + 1), s2 = s * s
        var term = s, sum = 0.0
        for n in 0 ..< 25 {
            sum += term / Double(2 * n + 1)
            term *= s2
        }
        return 2 * sum
    }

    /// Base-10 logarithm of a finite positive `v`.
    static func log10(_ v: Double) -> Double {
        let k = decadeExponent(v)
        let m = v / pow10(k)  // in [1, 10) up to rounding
        let lnM = Double(Int(m.exponent)) * ln2 + lnNearOne(m.significand)
        return Double(k) + lnM / ln10
    }

    /// `v` with exactly `decimals` digits after the point, halves rounded away from zero
    /// (`-0` prints as `0`). Magnitudes of 1e15 and more fall back to ``scientific(_:)``.
    static func fixed(_ v: Double, decimals: Int) -> String {
        precondition(decimals >= 0 && decimals <= 15, "decimals must be 0...15")
        guard v.isFinite else { return v.isNaN ? "NaN" : (v < 0 ? "-inf" : "inf") }
        guard abs(v) < 1e15 else { return scientific(v) }
        let unit = pow10(decimals)
        let scaled = (v * unit).rounded()
        guard abs(scaled) < 9e18 else { return scientific(v) }  // beyond Int
        let magnitude = Int(abs(scaled))
        let unitInt = Int(unit)
        var text = String(magnitude / unitInt)
        if decimals > 0 {
            let fraction = String(magnitude % unitInt)
            text += "." + String(repeating: "0", count: decimals - fraction.count) + fraction
        }
        return scaled < 0 ? "-" + text : text
    }

    /// `v` as `m.de±k` with one decimal in the mantissa, trailing `.0` dropped (`2e6`, `1.5e-7`).
    static func scientific(_ v: Double) -> String {
        guard v.isFinite, v != 0 else { return fixed(v, decimals: 0) }
        var k = decadeExponent(abs(v))
        var mantissa = ((abs(v) / pow10(k)) * 10).rounded() / 10
        if mantissa >= 10 { mantissa /= 10; k += 1 }
        var m = fixed(mantissa, decimals: 1)
        if m.hasSuffix(".0") { m.removeLast(2) }
        return (v < 0 ? "-" : "") + m + "e" + String(k)
    }
}
