import Foundation

/// The folder of this test target's fixture files (made by scripts/reference/make_io_fixtures.py).
let fixtureRoot: String = {
    let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    return here.appendingPathComponent("Fixtures").path
}()

func loadManifest(_ folder: String) throws -> [[String: Any]] {
    let data = try Data(contentsOf: URL(fileURLWithPath: "\(fixtureRoot)/\(folder)/manifest.json"))
    let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    return object?["files"] as? [[String: Any]] ?? []
}

func manifestNames(_ folder: String) -> [String] {
    ((try? loadManifest(folder)) ?? []).compactMap { $0["file"] as? String }
}

func entry(_ folder: String, _ name: String) throws -> [String: Any] {
    let all = try loadManifest(folder)
    guard let found = all.first(where: { $0["file"] as? String == name }) else {
        throw FixtureError.missing("\(folder)/\(name)")
    }
    return found
}

enum FixtureError: Error { case missing(String) }

func ints(_ value: Any?) -> [Int] { (value as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } ?? [] }
