import Testing
@testable import CVSegCore

@Suite struct BoxTests {
    @Test func iouOfHandComputedBoxes() {
        let a = Box(x1: 0, y1: 0, x2: 10, y2: 10)
        let b = Box(x1: 5, y1: 5, x2: 15, y2: 15)
        // Intersection 5x5 = 25, union 100 + 100 - 25 = 175.
        #expect(abs(a.iou(b) - 25.0 / 175.0) < 1e-6)
        #expect(a.iou(a) == 1)
        #expect(a.iou(Box(x1: 10, y1: 0, x2: 20, y2: 10)) == 0) // touching edges do not overlap
        #expect(Box(x1: 3, y1: 3, x2: 3, y2: 8).area == 0)
        #expect(Box(x: 2, y: 3, width: 4, height: 5) == Box(x1: 2, y1: 3, x2: 6, y2: 8))
    }
}

@Suite struct ColorMapTests {
    @Test func pascalVOCEntriesMatchTheDevkit() {
        let voc = ColorMap.pascalVOC
        #expect(voc.count == 256)
        // Values from the VOC devkit's VOClabelcolormap.m.
        #expect(voc[0] == RGBA(0, 0, 0))
        #expect(voc[1] == RGBA(128, 0, 0))
        #expect(voc[2] == RGBA(0, 128, 0))
        #expect(voc[3] == RGBA(128, 128, 0))
        #expect(voc[15] == RGBA(192, 128, 128))  // person
        #expect(voc[255] == RGBA(224, 224, 192)) // boundary / ignore
        #expect(Set(voc).count == 256)
    }
}

@Suite struct GrayscaleTests {
    @Test func bt601MatchesOpenCVIntegerFormula() {
        // (9798 R + 19235 G + 3735 B + 16384) >> 15, computed by hand for each pixel.
        let rgb = Image<UInt8>(width: 4, height: 1, layout: .rgb,
                               samples: [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 200, 30])
        let gray = rgb.grayscale(weights: .bt601)
        #expect(gray.layout == .gray)
        #expect(gray.samples == [76, 150, 29, 124])
        // (139, 141, 98) is exactly 135.5 in BT.601: OpenCV 5's 15-bit formula rounds it up.
        #expect(Image<UInt8>(width: 1, height: 1, layout: .rgb, samples: [139, 141, 98]).grayscale().samples == [136])
    }

    @Test func bt709RoundsHalfToEven() {
        let rgb = Image<UInt8>(width: 2, height: 1, layout: .rgba, samples: [255, 0, 0, 9, 0, 255, 0, 9])
        // 0.2125*255 = 54.19 -> 54; 0.7154*255 = 182.43 -> 182. Alpha is dropped.
        #expect(rgb.grayscale(weights: .bt709).samples == [54, 182])
    }

    @Test func sixteenBitKeepsItsRange() {
        let rgb = Image<UInt16>(width: 1, height: 1, layout: .rgb, samples: [65535, 65535, 65535])
        #expect(rgb.grayscale().samples == [65535])
        let ga = Image<UInt16>(width: 2, height: 1, layout: .grayAlpha, samples: [1000, 5, 60000, 7])
        #expect(ga.grayscale().samples == [1000, 60000])
        #expect(AnyImage.uint16(ga).to8Bit().samples == [3, 0, 234, 0])
    }
}

@Suite struct LabelMapTests {
    @Test func subscriptIsRowMajor() {
        var map = LabelMap(width: 3, height: 2)
        map[2, 1] = 7
        #expect(map.labels == [0, 0, 0, 0, 0, 7])
        #expect(map.maxLabel == 7)
        #expect(LabelMap.ignoreLabel == 255)
    }
}

@Suite struct ErrorTests {
    @Test func messagesNameTheFileAndTheCause() {
        let e = CVSegError.corruptData(file: "a/b.jpg", format: "JPEG", detail: "Premature end of JPEG file")
        #expect(e.description.hasPrefix("a/b.jpg: "))
        #expect(e.description.contains("Premature end"))
        #expect(CVSegError.wrongExtension(file: "x.png", contents: "JPEG", extension: "PNG").description
                == "x.png: the file holds JPEG data but its extension says PNG")
    }
}

@Suite struct NonzeroCountTests {
    /// Counted 16 bytes at a time in byte lanes flushed every 255 steps: sizes around both, all-nonzero data.
    @Test func countsMatchAPlainLoop() {
        for count in [0, 1, 15, 16, 17, 254, 255, 256, 511, 1000, 4080, 4081, 9000] {
            for pattern in 0..<3 {
                let samples = (0..<count).map { i -> UInt8 in
                    switch pattern {
                    case 0: return 255
                    case 1: return i % 3 == 0 ? 0 : UInt8(i % 256)
                    default: return 0
                    }
                }
                let image = Image<UInt8>(width: count, height: count == 0 ? 0 : 1, layout: .gray, samples: samples)
                #expect(image.nonzeroCount == samples.filter { $0 != 0 }.count, "\(count) samples, pattern \(pattern)")
            }
        }
    }
}
