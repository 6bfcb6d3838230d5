#!/usr/bin/env python3
"""Write Tests/CVSegIOTests/Fixtures/bad/many_scans.jpg: a tiny progressive JPEG whose last scan
is repeated until the file has over 1000 scans. Each scan re-decodes the whole image, so such a
file can keep a decoder busy for hours at large sizes; cvseg stops after 1000 scans.

Needs jpegtran (Debian: libjpeg-turbo-progs). Deterministic.
Run:  PY=$(scripts/python-env)/bin/python; $PY scripts/reference/make_many_scans.py
"""
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "CVSegIOTests" / "Fixtures" / "bad" / "many_scans.jpg"
REPEATS = 1100

with tempfile.TemporaryDirectory() as tmp:
    base, prog = Path(tmp) / "base.jpg", Path(tmp) / "prog.jpg"
    Image.fromarray(np.full((8, 8), 128, np.uint8)).save(base, quality=90)
    subprocess.run(["jpegtran", "-progressive", "-outfile", str(prog), str(base)], check=True)
    data = prog.read_bytes()

# Walk the marker segments; a scan (SOS) runs until the next marker that is not a stuffed 0xFF00
# or a restart marker.
segments, i = [], 2
while data[i + 1] != 0xD9:
    marker = data[i + 1]
    length = struct.unpack(">H", data[i + 2:i + 4])[0]
    end = i + 2 + length
    if marker == 0xDA:
        while not (data[end] == 0xFF and data[end + 1] != 0x00 and not 0xD0 <= data[end + 1] <= 0xD7):
            end += 1
    segments.append((marker, i, end))
    i = end
last = [s for s in segments if s[0] == 0xDA][-1]
start = last[1]
before = segments[segments.index(last) - 1]
if before[0] == 0xC4:  # the scan's Huffman table goes with it
    start = before[1]
scan = data[start:last[2]]
OUT.write_bytes(data[:last[2]] + scan * REPEATS + b"\xff\xd9")
print(f"wrote {OUT.relative_to(ROOT)}: {OUT.stat().st_size} bytes, {REPEATS} extra scans")
