import Testing
@testable import CVSegPlot

@Suite struct AxisScaleTests {
    @Test func niceStepsAreOneTwoFiveTimesAPowerOfTen() {
        #expect(AxisScale.niceStep(span: 1, targetCount: 6) == (0.2, 1))  // 1/6 -> 0.2
        #expect(AxisScale.niceStep(span: 1, targetCount: 5) == (0.2, 1))  // exactly 5 x 0.2
        #expect(AxisScale.niceStep(span: 97, targetCount: 5) == (20, 0))
        #expect(AxisScale.niceStep(span: 0.003, targetCount: 4) == (0.001, 3))
        #expect(AxisScale.niceStep(span: 9, targetCount: 1) == (10, 0))
    }

    @Test func unitRangeTicks() {
        let axis = AxisScale.linear(lower: 0, upper: 1, targetTickCount: 6)
        #expect(axis.ticks.map(\.label) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        #expect(axis.fraction(0.25) == 0.25 && axis.fraction(.nan) == nil)
    }

    @Test func automaticRangeWidensToWholeSteps() {
        let axis = AxisScale.automaticLinear(dataMin: 3, dataMax: 97, targetTickCount: 5)
        #expect(axis.lower == 0 && axis.upper == 100)
        #expect(axis.ticks.map(\.label) == ["0", "20", "40", "60", "80", "100"])
        let flat = AxisScale.automaticLinear(dataMin: 5, dataMax: 5, targetTickCount: 4)
        #expect(flat.lower <= 4 && flat.upper >= 6)
        let negative = AxisScale.automaticLinear(dataMin: -0.35, dataMax: 0.1, targetTickCount: 5)
        #expect(negative.lower == -0.4 && negative.ticks.first?.label == "-0.4")
        // Data ending exactly on a multiple is not widened past it.
        let exact = AxisScale.automaticLinear(dataMin: 0, dataMax: 100_000, targetTickCount: 4)
        #expect(exact.lower == 0 && exact.upper == 100_000)
        // Widening by a step can need a larger step: 20000 would give 6 intervals here.
        let coarse = AxisScale.automaticLinear(dataMin: -3, dataMax: 100_000, targetTickCount: 4)
        #expect(coarse.lower == -50_000 && coarse.upper == 100_000)
        #expect(coarse.ticks.map(\.label) == ["-50000", "0", "50000", "100000"])
    }

    @Test func logTicksAtPowersOfTen() {
        let axis = AxisScale.automaticLogarithmic(dataMin: 1, dataMax: 10000, targetTickCount: 6)
        #expect(axis.lower == 1 && axis.upper == 10000)
        #expect(axis.ticks.map(\.label) == ["1", "10", "100", "1000", "10000"])
        #expect(axis.minorTicks.count == 4 * 8)
        #expect(axis.fraction(100) == 0.5)
        #expect(axis.fraction(0) == nil)
        let wide = AxisScale.logarithmic(lower: 1e-10, upper: 1e10, targetTickCount: 5)
        #expect(wide.ticks.map(\.label) == ["1e-10", "1e-6", "0.01", "100", "1000000", "1e10"])
        let narrow = AxisScale.logarithmic(lower: 2, upper: 30, targetTickCount: 5)
        #expect(narrow.ticks.map(\.label) == ["2", "5", "10", "20"])
    }

    @Test func automaticLogRangeRoundsOutToDecades() {
        let axis = AxisScale.automaticLogarithmic(dataMin: 3, dataMax: 2000, targetTickCount: 6)
        #expect(axis.lower == 1 && axis.upper == 10000)
        let one = AxisScale.automaticLogarithmic(dataMin: 100, dataMax: 100, targetTickCount: 6)
        #expect(one.lower == 100 && one.upper == 1000)
    }

    @Test func log10IsExactAtPowersAndAccurateBetween() {
        for k in -20 ... 22 { #expect(PlotMath.log10(PlotMath.pow10(k)) == Double(k)) }
        // Known values (Python's math.log10); the series leaves well under 1e-15 error.
        #expect(abs(PlotMath.log10(2) - 0.30102999566398120) < 1e-15)
        #expect(abs(PlotMath.log10(7) - 0.84509804001425684) < 1e-15)
        #expect(abs(PlotMath.log10(123456.789) - 5.09151497716927) < 1e-14)
        #expect(PlotMath.decadeExponent(999.9999) == 2 && PlotMath.decadeExponent(1000) == 3)
        #expect(PlotMath.decadeExponent(0.001) == -3)
    }

    @Test func numberFormatting() {
        #expect(PlotMath.fixed(0.25, decimals: 2) == "0.25")
        #expect(PlotMath.fixed(0.005, decimals: 1) == "0.0")
        #expect(PlotMath.fixed(2.5, decimals: 0) == "3")
        #expect(PlotMath.fixed(-2.5, decimals: 0) == "-3")
        #expect(PlotMath.fixed(-0.0001, decimals: 2) == "0.00")
        #expect(PlotMath.fixed(-1.05, decimals: 3) == "-1.050")
        #expect(PlotMath.fixed(1234567, decimals: 0) == "1234567")
        #expect(PlotMath.scientific(2_000_000) == "2e6")
        #expect(PlotMath.scientific(1.5e-7) == "1.5e-7")
        #expect(PlotMath.scientific(-9.99e9) == "-1e10")
    }
}
