import Foundation
import CVSegCore
import CVSegIO

/// Runs the built `cvseg` executable, as a user would.
enum CLI {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// The `cvseg` binary SwiftPM built next to this test bundle.
    static let binary: String = {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("cvseg").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return packageRoot + "/.build/debug/cvseg"
    }()

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs cvseg with `arguments`; `environment` entries are added to (or replace) this process's.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes before waiting, so a full pipe cannot block the child.
        let group = DispatchGroup()
        nonisolated(unsafe) var errData = Data()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// A fresh temporary folder, removed by `cleanup()`.
struct TempDir {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "cvseg-cli-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    /// Removes the folder with rm(1): Foundation's removeItem crashes on names that are not UTF-8,
    /// which one test creates on purpose.
    func cleanup() {
        let rm = Process()
        rm.executableURL = URL(fileURLWithPath: "/bin/rm")
        rm.arguments = ["-rf", path]
        try? rm.run()
        rm.waitUntilExit()
    }

    func write(_ relative: String, _ bytes: [UInt8]) throws {
        try ImageFile.writeAtomically(bytes, to: path + "/" + relative)
    }

    /// Every regular file under the folder, relative, sorted.
    func files(_ sub: String = "") -> [String] {
        let root = sub.isEmpty ? path : path + "/" + sub
        guard let e = FileManager.default.enumerator(atPath: root) else { return [] }
        var out: [String] = []
        while let name = e.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + name, isDirectory: &isDir), !isDir.boolValue {
                out.append(name)
            }
        }
        return out.sorted()
    }
}

/// A gray test image with a bright rectangle on a darker noisy background.
func testImage(width: Int, height: Int, seed: UInt64) -> Image<UInt8> {
    var state = seed
    var samples = [UInt8](repeating: 0, count: width * height)
    for y in 0..<height {
        for x in 0..<width {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let noise = Int(state >> 59)
            let inside = x > width / 4 && x < 3 * width / 4 && y > height / 3 && y < 2 * height / 3
            samples[y * width + x] = UInt8((inside ? 180 : 60) + noise)
        }
    }
    return Image(width: width, height: height, layout: .gray, samples: samples)
}
