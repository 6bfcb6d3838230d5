import Testing
@testable import CVSegCore

@Suite struct JSONTests {
    @Test func parsesEveryKindOfValue() throws {
        let text = #"{"a": [1, -2.5, 3e2, true, false, null], "s": "x\"\\\/\n\u00e9\ud83d\ude00", "o": {}, "e": []}"#
        let v = try JSON.parse(text, file: "t.json")
        #expect(v["a"]?.arrayValue?.count == 6)
        #expect(v["a"]?.arrayValue?[0].intValue == 1)
        #expect(v["a"]?.arrayValue?[1].doubleValue == -2.5)
        #expect(v["a"]?.arrayValue?[2].intValue == 300)
        #expect(v["a"]?.arrayValue?[3].boolValue == true)
        #expect(v["a"]?.arrayValue?[5].isNull == true)
        #expect(v["s"]?.stringValue == "x\"\\/\n\u{e9}\u{1F600}")
        #expect(v["o"]?.objectValue?.isEmpty == true)
        #expect(v["missing"] == nil)
    }

    @Test func writesWhatItReads() throws {
        let value = JSON.object([("k", .array([.int(1), .number(0.1), .string("a\u{1}b"), .null, .bool(false)]))])
        let again = try JSON.parse(value.text(), file: "x")
        #expect(again == value)
        #expect(value.text(indent: 0) == #"{"k":[1,0.1,"a\u0001b",null,false]}"#)
        #expect(JSON.number(.nan).text() == "null")
    }

    @Test(arguments: [
        ("{\"a\": 1,\n \"b\": }", 2, 7, "unexpected character '}'"),
        ("[1, 2", 1, 6, "unclosed array"),
        ("{\"a\" 1}", 1, 6, "expected ':'"),
        ("\"abc", 1, 1, "unterminated string"),
        ("[01x]", 1, 4, "expected ',' or ']'"),
        ("[1.]", 1, 2, "no digits after '.'"),
        ("{} x", 1, 4, "unexpected text after"),
        ("", 1, 1, "unexpected end"),
    ])
    func errorsGiveLineAndColumn(text: String, line: Int, column: Int, reason: String) {
        #expect {
            _ = try JSON.parse(text, file: "bad.json")
        } throws: { error in
            guard case let CVSegError.malformed(file, l, c, r) = error else { return false }
            return file == "bad.json" && l == line && c == column && r.contains(reason)
        }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: CVSegError.self) { _ = try JSON.parse(deep, file: "deep.json") }
    }

    @Test func fixedDecimals() {
        #expect(fixed(0.99515, 4) == "0.9952" || fixed(0.99515, 4) == "0.9951") // binary rounding of .5
        #expect(fixed(2.5, 0) == "3")
        #expect(fixed(-0.00001, 3) == "0.000")
        #expect(fixed(-1.25, 1) == "-1.3")
        #expect(fixed(.nan, 2) == "nan")
        #expect(fixed(12, 2) == "12.00")
    }
}
