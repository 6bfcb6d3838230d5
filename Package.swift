// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "cvseg",
    products: [
        .executable(name: "cvseg", targets: ["CVSegCLI"]),
        .library(name: "CVSegCore", targets: ["CVSegCore"]),
        .library(name: "CVSegIO", targets: ["CVSegIO"]),
        .library(name: "CVSegClassical", targets: ["CVSegClassical"]),
        .library(name: "CVSegEval", targets: ["CVSegEval"]),
        .library(name: "CVSegPlot", targets: ["CVSegPlot"]),
        .library(name: "CVSegTensor", targets: ["CVSegTensor"]),
        .library(name: "CVSegNN", targets: ["CVSegNN"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: - System libraries (C). Each is imported by exactly one target.
        .systemLibrary(
            name: "CPNG", pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]),
        .systemLibrary(
            name: "CJPEG", pkgConfig: "libjpeg",
            providers: [.apt(["libjpeg-dev"])]),
        // oneDNN's headers (Debian's libdnnl-dev has no pkg-config file). The library itself is
        // opened on first use by CVSegDNNLLoader, not linked (Sources/CVSegDNNLLoader/dnnl_loader.c).
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .target(name: "CVSegDNNLLoader", dependencies: ["CDNNL"], linkerSettings: [.linkedLibrary("dl")]),
        // C shims: libpng and libjpeg report errors with longjmp, which Swift must never see.
        .target(name: "CVSegShims", dependencies: ["CPNG", "CJPEG"]),

        // MARK: - Public API
        .target(name: "CVSegCore"),
        .target(name: "CVSegIO", dependencies: ["CVSegCore", "CVSegShims"]),
        .target(name: "CVSegClassical", dependencies: ["CVSegCore"]),
        .target(name: "CVSegEval", dependencies: ["CVSegCore"]),
        .target(name: "CVSegPlot", dependencies: ["CVSegCore"]),
        .target(name: "CVSegTensor", dependencies: ["CVSegCore", "CDNNL", "CVSegDNNLLoader"]),
        .target(name: "CVSegNN", dependencies: ["CVSegTensor", "CVSegCore", "CVSegIO", "CVSegEval", "CVSegClassical"]),
        .executableTarget(
            name: "CVSegCLI",
            dependencies: [
                "CVSegCore", "CVSegIO", "CVSegClassical", "CVSegEval", "CVSegPlot", "CVSegNN", "CVSegTensor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // The Swift side of scripts/bench/nn, segnets, detnets and classical (not a product: built on demand).
        .executableTarget(name: "CVSegBench", dependencies: ["CVSegCore", "CVSegIO", "CVSegTensor", "CVSegNN", "CVSegClassical"]),

        // MARK: - Tests
        .target(name: "CVSegTestSupport", dependencies: ["CVSegCore", "CVSegTensor"], path: "Sources/CVSegTestSupport"),
        .testTarget(name: "CVSegCoreTests", dependencies: ["CVSegCore"], exclude: ["Fixtures"]),
        .testTarget(name: "CVSegIOTests", dependencies: ["CVSegIO", "CVSegCore", "CVSegTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "CVSegClassicalTests", dependencies: ["CVSegClassical", "CVSegIO", "CVSegCore", "CVSegTestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "CVSegEvalTests", dependencies: ["CVSegEval", "CVSegCore", "CVSegIO", "CVSegTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "CVSegCLITests", dependencies: ["CVSegCLI", "CVSegIO", "CVSegCore", "CVSegNN", "CVSegTensor", "CVSegTestSupport"]),
        .testTarget(name: "CVSegPlotTests", dependencies: ["CVSegPlot", "CVSegCore", "CVSegIO"]),
        .testTarget(name: "CVSegTensorTests", dependencies: ["CVSegTensor", "CVSegCore", "CVSegTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "CVSegNNTests", dependencies: ["CVSegNN", "CVSegTensor", "CVSegCore", "CVSegIO", "CVSegTestSupport"],
                    exclude: ["Fixtures"]),
    ]
)
