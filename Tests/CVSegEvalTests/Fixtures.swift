import Foundation
import CVSegCore
import CVSegIO

let evalFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
let evalPackageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().path
let evalDataRoot = ProcessInfo.processInfo.environment["CVSEG_DATA"] ?? evalPackageRoot + "/../shared/data"

/// Fixture JSON, read with cvseg's own parser: Foundation's JSONSerialization on Linux rounds
/// some doubles (it reads 0.8999999999999999 as 0.8999999999999997), which would blur a 1e-6 check.
func readJSON(_ path: String) throws -> JSON {
    try JSON.parse(FileBytes.read(path), file: path)
}

func fixtureSets(_ kind: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: evalFixtures + "/" + kind)) ?? [])
        .filter { FileManager.default.fileExists(atPath: "\(evalFixtures)/\(kind)/\($0)/expected.json") }.sorted()
}

func doubles(_ value: JSON?) -> [Double?] {
    value?.arrayValue?.map { $0.doubleValue } ?? []
}
