import Foundation
import Testing
import CVSegCore
import CVSegIO
@testable import CVSegEval

/// COCO and VOC numbers against pycocotools 2.0.11 and the VOC devkit computation, on the sets
/// scripts/reference/eval_reference.py builds (crowds, every area range, tied scores, images
/// without ground truth or without detections, more than 100 detections per image).
@Suite struct DetectionParityTests {
    static func load(_ set: String, kind: String) throws -> (truth: DetectionGroundTruth, detections: [DetectedObject], expected: JSON) {
        let dir = "\(evalFixtures)/\(kind)/\(set)"
        let expected = try readJSON(dir + "/expected.json")
        let gtPath: String
        if let source = expected["gt_source"]?.stringValue {
            gtPath = evalDataRoot + "/" + source
        } else if let gt = expected["gt"]?.stringValue {
            gtPath = evalFixtures + "/" + gt
        } else {
            gtPath = dir + "/gt.json"
        }
        let dtPath = expected["dt"]?.stringValue.map { evalFixtures + "/" + $0 } ?? dir + "/dt.json"
        let truth = try COCOFormat.groundTruth(FileBytes.read(gtPath), file: gtPath)
        let detections = try COCOFormat.detections(FileBytes.read(dtPath), file: dtPath)
        return (truth, detections, expected)
    }

    @Test func setsArePresent() {
        #expect(Set(fixtureSets("coco")).isSuperset(of: ["basic", "crowd", "maxdets", "empty_category", "coco128"]))
        #expect(Set(fixtureSets("voc")).isSuperset(of: ["basic", "voc_difficult"]))
    }

    @Test func thresholdsAreNumpysBitForBit() throws {
        let params = try readJSON(evalFixtures + "/coco/basic/expected.json")["params"]
        let evaluator = COCOEvaluator()
        #expect(evaluator.iouThresholds == doubles(params?["iouThrs"]).map { $0! })
        #expect(evaluator.recallThresholds == doubles(params?["recThrs"]).map { $0! })
        #expect(evaluator.iouThresholds[8] == 0.8999999999999999)
    }

    @Test(arguments: fixtureSets("coco"))
    func cocoStatsMatchPycocotools(set: String) throws {
        let (truth, detections, expected) = try Self.load(set, kind: "coco")
        let result = try COCOEvaluator().evaluate(detections, truth: truth)
        let stats = result.stats
        let want = doubles(expected["stats"])
        #expect(want.count == 12)
        for (i, (got, w)) in zip(stats, want).enumerated() {
            #expect(abs(got - w!) <= 1e-6, "stat \(i): \(got) vs \(w!)")
        }
        for entry in expected["per_category"]?.arrayValue ?? [] {
            let id = entry["category_id"]!.intValue!
            guard let k = result.categoryIds.firstIndex(of: id) else { Issue.record("category \(id) missing"); continue }
            let ap = entry["AP"]!.doubleValue!, ap50 = entry["AP50"]!.doubleValue!
            #expect(abs(result.categoryAP(k) - ap) <= 1e-6, "category \(id) AP")
            #expect(abs(result.categoryAP(k, iou: 0) - ap50) <= 1e-6, "category \(id) AP50")
        }
    }

    @Test(arguments: fixtureSets("voc"))
    func vocAPMatchesTheDevkit(set: String) throws {
        let (truth, detections, expected) = try Self.load(set, kind: "voc")
        for (key, interpolation) in [("voc07", VOCEvaluator.Interpolation.elevenPoint), ("voc12", .allPoints)] {
            let results = VOCEvaluator(interpolation: interpolation).evaluate(detections, truth: truth)
            let want = expected[key]
            for r in results {
                // A class without positives has no recall: cvseg says NaN in both variants (numpy's
                // 11-point loop happens to give 0 there, since NaN >= t is false).
                if expected["npos"]?[String(r.categoryId)]?.intValue == 0 {
                    #expect(r.ap.isNaN && r.positives == 0, "class \(r.categoryId) has no positives")
                    continue
                }
                guard let w = want?[String(r.categoryId)]?.doubleValue else {
                    Issue.record("\(key): no reference AP for class \(r.categoryId)")
                    continue
                }
                #expect(abs(r.ap - w) <= 1e-6, "\(key) class \(r.categoryId): \(r.ap) vs \(w)")
            }
            let mean = expected["mAP" + key.dropFirst(3)]!.doubleValue!
            #expect(abs(VOCEvaluator.mean(results) - mean) <= 1e-6)
        }
    }

    @Test func handComputedCrowdAndTies() throws {
        // One image, one category: a 10x10 object, a crowd region, and three detections with
        // equal scores. The first (in file order) matches the object; the second overlaps only
        // the crowd (intersection over its own area = 1) and is ignored; the third is a miss.
        let truth = DetectionGroundTruth(
            images: [EvalImage(id: 1)], categories: [(1, "a")],
            objects: [GroundTruthObject(id: 1, imageId: 1, categoryId: 1, box: EvalBox(x: 0, y: 0, width: 10, height: 10)),
                      GroundTruthObject(id: 2, imageId: 1, categoryId: 1, box: EvalBox(x: 50, y: 50, width: 40, height: 40),
                                        isCrowd: true)])
        let dets = [DetectedObject(imageId: 1, categoryId: 1, box: EvalBox(x: 0, y: 0, width: 10, height: 10), score: 0.9),
                    DetectedObject(imageId: 1, categoryId: 1, box: EvalBox(x: 55, y: 55, width: 10, height: 10), score: 0.9),
                    DetectedObject(imageId: 1, categoryId: 1, box: EvalBox(x: 20, y: 0, width: 10, height: 10), score: 0.9)]
        let r = try COCOEvaluator().evaluate(dets, truth: truth)
        // Precision 1 up to recall 1 (reached at the first detection): AP 1 at every threshold,
        // less pycocotools' eps in tp / (tp + fp + eps).
        #expect(abs(r.stats[0] - 1) < 1e-12)
        #expect(r.stats[8] == 1)
        // The third detection alone: a false positive, AP 0.
        let r2 = try COCOEvaluator().evaluate([dets[2]], truth: truth)
        #expect(r2.stats[0] == 0)
        #expect(throws: CVSegError.self) {
            _ = try COCOEvaluator().evaluate([DetectedObject(imageId: 9, categoryId: 1, box: dets[0].box, score: 1)], truth: truth)
        }
    }
}

@Suite struct DetectionFormatTests {
    @Test(arguments: [
        (#"{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"image_id": 2, "category_id": 1, "bbox": [0,0,1,1]}]}"#,
         "annotations[0]: image_id 2 is not in \"images\""),
        (#"{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"image_id": 1, "category_id": 5, "bbox": [0,0,1,1]}]}"#,
         "annotations[0]: category_id 5 is not in \"categories\""),
        (#"{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"image_id": 1, "category_id": 1, "bbox": [0,0,1]}]}"#,
         "annotations[0] has no \"bbox\" of 4 finite numbers"),
        (#"{"images": [{"id": 1}, {"id": 1}], "annotations": []}"#, "image id 1 appears twice"),
        (#"[1, 2]"#, "expected a COCO instances object"),
    ])
    func groundTruthErrorsNameTheCulprit(json: String, message: String) {
        #expect {
            _ = try COCOFormat.groundTruth(Array(json.utf8), file: "gt.json")
        } throws: { error in
            "\(error)".hasPrefix("gt.json: ") && "\(error)".contains(message)
        }
    }

    @Test func malformedJSONGivesLineAndColumn() {
        #expect {
            _ = try COCOFormat.detections(Array("[\n {\"image_id\": 1,,}\n]".utf8), file: "dt.json")
        } throws: { error in
            "\(error)" == "dt.json:2:17: expected a string key"
        }
    }

    @Test func vocXMLAndInstanceMasks() throws {
        let xml = """
            <annotation><filename>000005.jpg</filename><size><width>500</width><height>375</height><depth>3</depth></size>
            <object><name>chair</name><pose>Rear</pose><truncated>0</truncated><difficult>0</difficult>
            <bndbox><xmin>263</xmin><ymin>211</ymin><xmax>324</xmax><ymax>339</ymax></bndbox></object>
            <object><name>chair</name><difficult>1</difficult><bndbox><xmin>5</xmin><ymin>244</ymin><xmax>67</xmax><ymax>374</ymax></bndbox></object>
            </annotation>
            """
        let a = try VOCFormat.annotation(Array(xml.utf8), file: "a.xml")
        #expect(a.fileName == "000005.jpg" && a.width == 500 && a.height == 375)
        #expect(a.objects.count == 2 && a.objects[1].difficult && !a.objects[0].difficult)
        #expect(a.objects[0].xmin == 263 && a.objects[0].ymax == 339)
        #expect(throws: CVSegError.self) {
            _ = try VOCFormat.annotation(Array("<annotation><object><name>x</name></object></annotation>".utf8), file: "b.xml")
        }
        var mask = LabelMap(width: 6, height: 4)
        mask[1, 1] = 1; mask[2, 2] = 1; mask[5, 3] = 2
        let boxes = instanceBoxes(mask)
        #expect(boxes.count == 2)
        #expect(boxes[0].box == EvalBox(x: 1, y: 1, width: 2, height: 2) && boxes[0].area == 2)
        #expect(boxes[1].box == EvalBox(x: 5, y: 3, width: 1, height: 1))
    }
}

@Suite struct VOCFuzzTests {
    /// Random cuts and byte flips of a valid file: an error or a result, never a crash.
    @Test func damagedXMLNeverCrashes() {
        let xml = Array("<annotation><size><width>5</width></size><object><name>a</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object><x/></annotation>".utf8)
        var state: UInt64 = 7
        var parsed = 0, rejected = 0
        for _ in 0..<3000 {
            var bytes = xml
            for _ in 0..<2 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let at = Int(state >> 33) % bytes.count
                bytes[at] = [UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "/"), 0x20, 0xFF][Int(state >> 20) % 5]
            }
            state = state &* 6364136223846793005 &+ 1442695040888963407
            if state >> 63 == 1 { bytes = Array(bytes.prefix(Int(state >> 33) % (bytes.count + 1))) }
            do {
                _ = try VOCFormat.annotation(bytes, file: "f.xml")
                parsed += 1
            } catch {
                #expect("\(error)".hasPrefix("f.xml: "))
                rejected += 1
            }
        }
        // Both outcomes occur, so the damage reaches the parser's error paths and its happy path.
        #expect(parsed > 300 && rejected > 300, "parsed \(parsed), rejected \(rejected)")
    }
}
