"""Expected values for PlanarImage.resizedForNetwork (area averaging when shrinking): OpenCV's
cv2.resize(..., interpolation=cv2.INTER_AREA) on float32 images, per channel.

Run: $(scripts/bench-env)/bin/python scripts/reference/resize_reference.py
Writes Tests/CVSegNNTests/Fixtures/resize/area.json.
"""
import json
from pathlib import Path

import cv2
import numpy as np

OUT = Path(__file__).resolve().parents[2] / "Tests/CVSegNNTests/Fixtures/resize/area.json"


def main():
    rng = np.random.default_rng(20261129)
    cases = []
    # (width, height) in -> out: integer factors, fractional factors, one side unchanged, to 1 pixel.
    for (w, h), (ow, oh) in [((12, 8), (6, 4)), ((13, 11), (5, 4)), ((13, 11), (7, 3)), ((10, 9), (10, 4)),
                              ((17, 5), (3, 5)), ((9, 7), (1, 1)), ((40, 30), (16, 12)), ((31, 23), (30, 22))]:
        planes = rng.integers(0, 256, (3, h, w)).astype(np.float32)  # 8-bit pixel values
        hwc = np.ascontiguousarray(planes.transpose(1, 2, 0))
        out = cv2.resize(hwc, (ow, oh), interpolation=cv2.INTER_AREA)
        if out.ndim == 2:
            out = out[:, :, None]
        cases.append({"width": w, "height": h, "out_width": ow, "out_height": oh,
                      "input": [int(v) for v in planes.ravel()],
                      "expected": [float(v) for v in out.transpose(2, 0, 1).ravel()]})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"opencv": cv2.__version__, "cases": cases}, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
