// The "core" timing of scripts/bench/classical: the segmentation call alone, in this process,
// on images decoded (and, for the gray methods, converted to gray) beforehand — what the Python
// loops there time as "core" for OpenCV and scikit-image. The end-to-end table of that bench
// times the whole `cvseg segment` process instead (start-up, decoding and PNG writing included).
import CVSegClassical
import CVSegCore
import CVSegIO
import Glibc

/// The library calls `cvseg segment <method>` makes for one bench method, after decoding and
/// gray conversion (the bench's method names and parameters, scripts/bench/classical_peers.py).
enum ClassicalCoreMethod: String, CaseIterable {
    case otsu, multiOtsu = "multi-otsu", adaptive, sauvola, canny, cannyS1 = "canny-s1"
    case cannyCC = "canny+cc", cannyS1CC = "canny-s1+cc", graph, flood = "grow-flood"

    /// Whether the method runs on the gray image (the others on the image as decoded).
    var usesGray: Bool { self != .graph && self != .flood }

    /// Runs the method once; returns a number from its result so the work cannot be dropped.
    func run(_ image: AnyImage, seeds: [Seed]) throws -> Int {
        let cannyAbsolute = CannyThresholds.absolute(low: 50, high: 150)
        let cannyQuantiles = CannyThresholds.quantiles(low: 0.8, high: 0.9)
        switch (self, image) {
        case (.graph, .uint8(let i)):
            return try felzenszwalb(i, scale: 100, sigma: 0.8, minSize: 20).labels.count
        case (.flood, .uint8(let i)):
            return try floodFillLabels(i, seeds: seeds, tolerance: 10).labels.count
        case (_, .uint8(let g)):
            switch self {
            case .otsu: // as globalMask in the CLI: histogram, threshold, mask
                let counts = histogram(g)
                guard let t = otsuThreshold(histogram: counts) else { return 0 }
                return binarize(g, threshold: UInt8(t), foreground: 255).pixelCount
            case .multiOtsu:
                let t = try multiOtsuThresholds(histogram: histogram(g), classes: 3)
                return multiThresholdLabels(g, thresholds: t).pixelCount
            case .adaptive:
                return try adaptiveThreshold(g, method: .mean, blockSize: 11, offset: 2, foreground: 255).pixelCount
            case .sauvola:
                return try localThreshold(g, window: 15, rule: .sauvola(k: 0.2, r: nil), foreground: 255).pixelCount
            case .canny:
                return try CVSegClassical.canny(g, sigma: 0, thresholds: cannyAbsolute, edgeValue: 255).pixelCount
            case .cannyS1:
                return try CVSegClassical.canny(g, sigma: 1, thresholds: cannyQuantiles, edgeValue: 255).pixelCount
            case .cannyCC:
                return try edgeRegions(CVSegClassical.canny(g, sigma: 0, thresholds: cannyAbsolute)).regions
            case .cannyS1CC:
                return try edgeRegions(CVSegClassical.canny(g, sigma: 1, thresholds: cannyQuantiles)).regions
            case .graph, .flood:
                throw CVSegError.invalidArgument("unreachable")
            }
        case (_, .uint16):
            throw CVSegError.invalidArgument("the bench images are 8-bit")
        }
    }
}

/// `cvseg-bench --classical-core METHOD --dir DIR [--seeds CSV] [--runs R]`: decodes every PNG
/// of DIR, then times METHOD over all of them R times (after one warm-up) and prints
/// `{"method": …, "images": n, "seconds": median, "min": …, "max": …}`.
///
/// METHOD `decode` times the decoding alone (every PNG of DIR read and expanded, as `cvseg
/// segment` reads them): what no cvseg run can go below while its PNGs go through libpng.
func classicalCore(method name: String, folder: String, seedsFile: String?, runs: Int) throws {
    let method = ClassicalCoreMethod(rawValue: name)
    guard method != nil || name == "decode" else {
        throw CVSegError.invalidArgument("--classical-core: unknown method \(name); one of decode, "
                                         + ClassicalCoreMethod.allCases.map(\.rawValue).joined(separator: ", "))
    }
    guard let dir = opendir(folder) else {
        throw CVSegError.io(path: folder, operation: "list", reason: String(cString: strerror(errno)))
    }
    var files: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name.hasSuffix(".png") && !name.hasPrefix(".") { files.append(name) }
    }
    closedir(dir)
    files.sort()
    guard !files.isEmpty else { throw CVSegError.invalidArgument("--classical-core: no PNG in \(folder)") }
    guard let method else {
        var checksum = 0
        let (median, times) = try timed(runs: runs) {
            for file in files {
                checksum &+= try ImageFile.read(folder + "/" + file, options: DecodeOptions(palette: .expand)).expanded().width
            }
        }
        print("{\"method\": \"decode\", \"images\": \(files.count), \"seconds\": \(median), "
              + "\"min\": \(times[0]), \"max\": \(times[times.count - 1]), \"checksum\": \(checksum)}")
        return
    }
    let images: [AnyImage] = try files.map { file in
        let image = try ImageFile.read(folder + "/" + file, options: DecodeOptions(palette: .expand)).expanded()
        return method.usesGray ? image.grayscale(weights: .bt601) : image
    }
    var seeds: [Seed] = []
    if let seedsFile { // the bench's CSV: "x,y,label" lines, '#' comments
        let text = String(decoding: try FileBytes.read(seedsFile), as: UTF8.self)
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.isEmpty {
            let v = line.split(separator: ",").map { Int($0.filter { $0 != " " }) }
            guard v.count == 3, let x = v[0], let y = v[1], let label = v[2] else {
                throw CVSegError.invalidArgument("\(seedsFile): expected x,y,label lines, got \(line)")
            }
            seeds.append(Seed(x: x, y: y, label: Int32(label)))
        }
    }
    var checksum = 0
    let (median, times) = try timed(runs: runs) {
        for image in images { checksum &+= try method.run(image, seeds: seeds) }
    }
    print("{\"method\": \"\(method.rawValue)\", \"images\": \(images.count), \"seconds\": \(median), "
          + "\"min\": \(times[0]), \"max\": \(times[times.count - 1]), \"checksum\": \(checksum)}")
}

/// Runs `body` once to warm up, then `runs` times (at least 1): the median and the sorted times.
private func timed(runs: Int, _ body: () throws -> Void) rethrows -> (Double, [Double]) {
    var times: [Double] = []
    for run in 0...max(runs, 1) {
        let t0 = now()
        try body()
        if run > 0 { times.append(now() - t0) } // run 0 is the warm-up
    }
    times.sort()
    let median = times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
    return (median, times)
}
