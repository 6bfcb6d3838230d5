#!/usr/bin/env python3
"""Write the safetensors fixtures read by Tests/CVSegNNTests/SafetensorsTests.swift.

Makes Tests/CVSegNNTests/Fixtures/safetensors/ (located from this script's own path). Every
.safetensors file is written by the Hugging Face `safetensors` library itself (its Rust core,
through the Python binding), never by hand:

  f32.safetensors            F32 only, one metadata entry. Names that test the writer's order
                             (byte order: "B" < "a" < "a.b" < "a_b" < "\u00e9") and its JSON
                             escaping (quote, backslash, tab, newline, \\b, \\f, U+0001, U+001B, U+007F,
                             "/"); special values (+-0, +-inf, NaN with a payload, the smallest
                             subnormal, the largest finite); a scalar (shape []) and empty tensors
                             (shapes [0] and [2, 0]).
  f32_no_metadata.safetensors  F32 only, metadata=None (no "__metadata__" key).
  f32_empty_metadata.safetensors  F32 only, metadata={} ("__metadata__":{}).
  no_tensors.safetensors     save({}): the header "{}" and six spaces of padding.
  f16.safetensors            F16: every class of half (subnormals, +-0, +-inf, quiet, signalling
                             and negative NaNs, 65504), seeded random values, a scalar.
  bf16.safetensors           BF16 (raw bit patterns given to safetensors.serialize, since numpy
                             has no bfloat16): +-0, +-inf, NaNs, subnormals, the largest finite.
  mixed.safetensors          F32, F16 and BF16 in one file (the writer orders by dtype, then name).
  metadata_many.safetensors  five metadata entries (the library writes them in HashMap order,
                             which changes from run to run, so this file is read, never compared).
  i64.safetensors            an F32 and an I64 tensor: cvseg reads the integers as exact Floats.

expected.json lists, per file, the tensors in data-offset order (name, dtype, shape and the
float32 bit patterns the reader must produce: F32 as stored; F16 as numpy's astype(float32),
which keeps a NaN's sign and payload; BF16 as bits << 16), the metadata, and "writer_identical":
whether cvseg's F32 writer must reproduce the file byte for byte (F32 only, at most one metadata
entry: with more, the library's order is HashMap order).

Cross-checks (non-zero exit on failure): safetensors.numpy.load_file gives back every F32/F16
array bit for bit; safetensors.deserialize gives back the BF16 and I64 bytes; the header of each
file, parsed here with json, has the library's layout (8-byte length, header padded with spaces
to a multiple of 8, offsets contiguous from 0 in dtype-then-name order, data to the end); and the
library refuses a handful of damaged files (hole, overlap, trailing bytes, huge header) with the
errors that SafetensorsTests.swift expects cvseg to raise too. Deterministic: a rerun rewrites
identical files (a file whose only change would be the library's metadata order is left alone).

Run:  $(scripts/python-env)/bin/python scripts/reference/safetensors_reference.py
"""

import json
import os
import struct
import sys

import numpy as np
import safetensors
from safetensors import TensorSpec
from safetensors.numpy import load_file, save, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "Tests", "CVSegNNTests", "Fixtures", "safetensors")
FAILURES = []


def check(condition, what):
    if not condition:
        FAILURES.append(what)
        print("FAILED:", what, file=sys.stderr)


def f32_bits(array):
    return [int(v) for v in np.ascontiguousarray(array, np.float32).reshape(-1).view(np.uint32)]


def header(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    return n, json.loads(data[8:8 + n].decode("utf-8")), len(data)


def offset_order(parsed):
    """Tensor names in data-offset order, ties (empty tensors) in header order."""
    names = [k for k in parsed if k != "__metadata__"]
    return sorted(names, key=lambda k: (tuple(parsed[k]["data_offsets"]), names.index(k)))


def spec(dtype, shape, raw):
    """A TensorSpec over `raw` (a numpy array kept alive by the caller)."""
    return TensorSpec(dtype=dtype, shape=tuple(shape), data_ptr=raw.ctypes.data, data_len=raw.nbytes)


DTYPE_RANK = ["F16", "BF16", "F32", "I64"]  # increasing in the library's Dtype order


def check_layout(path, parsed, n, size):
    check(n % 8 == 0, f"{path}: header length {n} is not a multiple of 8")
    names = [k for k in parsed if k != "__metadata__"]
    expected_names = sorted(names, key=lambda k: (-DTYPE_RANK.index(parsed[k]["dtype"]), k.encode("utf-8")))
    check(names == expected_names, f"{path}: header order {names} is not dtype-then-name {expected_names}")
    if "__metadata__" in parsed:
        check(list(parsed)[0] == "__metadata__", f"{path}: __metadata__ is not the first key")
    end = 0
    for k in names:
        begin, stop = parsed[k]["data_offsets"]
        check(begin == end, f"{path}: {k} starts at {begin}, not {end}")
        end = stop
    check(8 + n + end == size, f"{path}: the tensors do not cover the data to the end")


def keep_unless_changed(fresh, path):
    """Moves `fresh` to `path` unless `path` already holds the same header (as JSON) and data:
    the metadata order changes from run to run, and a rerun should not rewrite the fixture."""
    if os.path.exists(path):
        with open(fresh, "rb") as f:
            new = f.read()
        with open(path, "rb") as f:
            old = f.read()
        (n_new, h_new, _), (n_old, h_old, _) = header(fresh), header(path)
        if n_new == n_old and h_new == h_old and new[8 + n_new:] == old[8 + n_old:]:
            os.remove(fresh)
            return
    os.replace(fresh, path)
    os.chmod(path, 0o644)


def write_case(doc, name, arrays, metadata=None, raw_specs=None, writer_identical=False):
    """Saves `arrays` (numpy, name -> array) or `raw_specs` (name -> (dtype, shape, uint16 bits))."""
    path = os.path.join(OUT, name)
    fresh = path + ".new"
    keep = []
    if raw_specs is None:
        save_file(arrays, fresh, metadata=metadata)
    else:
        specs = {}
        for key, value in arrays.items():
            keep.append(np.ascontiguousarray(value))
            specs[key] = spec(value.dtype.name, value.shape, keep[-1])
        for key, (dtype, shape, bits) in raw_specs.items():
            keep.append(np.ascontiguousarray(bits))
            specs[key] = spec(dtype, shape, keep[-1])
        safetensors.serialize_file(specs, fresh, metadata=metadata)
    keep_unless_changed(fresh, path)

    n, parsed, size = header(path)
    check_layout(name, parsed, n, size)
    tensors = []
    for key in offset_order(parsed):
        info = parsed[key]
        if key in arrays:
            value = arrays[key]
            if value.dtype == np.float16:
                bits = f32_bits(value.astype(np.float32))
            elif value.dtype == np.float32:
                bits = f32_bits(value)
            else:
                bits = None  # a dtype cvseg refuses
        else:
            _, _, raw = raw_specs[key]
            bits = [int(v) << 16 for v in raw.reshape(-1)]
        check(list(info["shape"]) == [int(d) for d in (arrays[key].shape if key in arrays else raw_specs[key][1])],
              f"{name}: shape of {key}")
        tensors.append(dict(name=key, dtype=info["dtype"], shape=info["shape"], bits=bits))
    doc["files"].append(dict(file=name, metadata=metadata, writer_identical=writer_identical, tensors=tensors))
    return path


def check_read_back(path, arrays):
    """The library's own reader gives every numpy-representable array back bit for bit."""
    loaded = load_file(path) if all(a.dtype != np.int64 for a in arrays.values()) else None
    with open(path, "rb") as f:
        raw = dict(safetensors.deserialize(f.read()))
    for key, value in arrays.items():
        got = bytes(raw[key]["data"])
        check(got == np.ascontiguousarray(value).tobytes(), f"{path}: deserialize bytes of {key}")
        if loaded is not None:
            check(loaded[key].dtype == value.dtype and loaded[key].shape == value.shape, f"{path}: dtype/shape of {key}")
            check(loaded[key].tobytes() == value.tobytes(), f"{path}: load_file values of {key}")


def half_bits():
    """F16 bit patterns covering every class of half."""
    special = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x3555, 0x7BFF, 0xFBFF,
               0x7C00, 0xFC00, 0x7E00, 0xFE00, 0x7C01, 0x7D55, 0xFFFF]
    return np.array(special, np.uint16).view(np.float16)


def bfloat_bits():
    return np.array([0x0000, 0x8000, 0x3F80, 0xBF80, 0x4049, 0x0001, 0x807F, 0x0080, 0x7F7F, 0xFF7F,
                     0x7F80, 0xFF80, 0x7FC0, 0xFFC1, 0x7F81, 0x3EAB], np.uint16)


def refusals():
    """Damaged files the library refuses; SafetensorsTests.swift builds the same ones."""
    def raw(text, data=b""):
        body = text.encode("utf-8")
        return struct.pack("<Q", len(body)) + body + data

    cases = {
        "hole": raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                    '"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', bytes(12)),
        "overlap": raw('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                       '"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', bytes(8)),
        "trailing bytes": raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', bytes(8)),
        "size mismatch": raw('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', bytes(4)),
        "overflow": raw('{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}', bytes(4)),
        "huge header": struct.pack("<Q", 2 ** 60) + b"{}",
        "header past the end": struct.pack("<Q", 100) + b"{}",
        "unknown dtype": raw('{"a":{"dtype":"Q32","shape":[1],"data_offsets":[0,4]}}', bytes(4)),
        "metadata not string": raw('{"__metadata__":{"a":1},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
                                   bytes(4)),
        "negative shape": raw('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', bytes(4)),
    }
    outcome = {}
    for name, data in cases.items():
        try:
            safetensors.deserialize(data)
            outcome[name] = "accepted"
        except Exception as error:  # noqa: BLE001 - the message is what is recorded
            outcome[name] = str(error)
        check(outcome[name] != "accepted", f"the library accepted the damaged file '{name}'")
    return outcome


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240606)
    versions = f"safetensors {safetensors.__version__}, numpy {np.__version__}"
    doc = dict(generator="scripts/reference/safetensors_reference.py", versions=versions, files=[])

    tiny = np.float32(np.finfo(np.float32).smallest_subnormal)
    special = np.array([0.0, -0.0, np.inf, -np.inf, 1.0, -1.5, tiny, np.finfo(np.float32).max,
                        np.finfo(np.float32).tiny, 1.0 / 3.0], np.float32)
    special = np.concatenate([special, np.array([0x7FC00001, 0xFF800123], np.uint32).view(np.float32)])
    f32 = {
        "conv1.weight": rng.standard_normal((2, 3, 3, 3)).astype(np.float32),
        "conv1.bias": rng.standard_normal(2).astype(np.float32),
        "B": np.arange(6, dtype=np.float32).reshape(2, 3),
        "a": np.array([1.25], np.float32),
        "a.b": np.array([2.5, -2.5], np.float32),
        "a_b": np.array([[3.0]], np.float32),
        "\u00e9": np.array([4.0], np.float32),
        'we"ird\\name\t\n\b\f\x01\x1b\x7f/': np.array([5.0], np.float32),
        "special": special,
        "scalar": np.array(-7.75, np.float32),
        "empty": np.zeros(0, np.float32),
        "empty2d": np.zeros((2, 0), np.float32),
    }
    path = write_case(doc, "f32.safetensors", f32, metadata={"format": "pt"}, writer_identical=True)
    check_read_back(path, f32)

    small = {"weight": rng.standard_normal((3, 2)).astype(np.float32), "bias": np.array([0.5, -0.5], np.float32)}
    path = write_case(doc, "f32_no_metadata.safetensors", small, writer_identical=True)
    check_read_back(path, small)
    path = write_case(doc, "f32_empty_metadata.safetensors", small, metadata={}, writer_identical=True)
    check_read_back(path, small)
    write_case(doc, "no_tensors.safetensors", {}, writer_identical=True)
    check(save({}) == b"\x08" + bytes(7) + b"{}      ", "save({}) is not the 16-byte empty file")

    f16 = {
        "half.special": half_bits(),
        "half.random": rng.standard_normal((4, 5)).astype(np.float16),
        "half.scalar": np.array(0.1, np.float16),
    }
    path = write_case(doc, "f16.safetensors", f16)
    check_read_back(path, f16)

    bf16 = bfloat_bits()
    write_case(doc, "bf16.safetensors", {}, raw_specs={
        "bf.special": ("bfloat16", (16,), bf16),
        "bf.matrix": ("bfloat16", (2, 2), np.array([0x3F80, 0x4000, 0x4040, 0x4080], np.uint16)),
    })

    mixed = {"m.f32": np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), "m.f16": np.array([0.5, -2.0], np.float16)}
    write_case(doc, "mixed.safetensors", mixed, metadata={"note": "mixed"}, raw_specs={
        "m.bf16": ("bfloat16", (3,), np.array([0x3F80, 0xC000, 0x7F80], np.uint16)),
    })

    many = {"x": np.array([1.0, 2.0], np.float32)}
    meta = {"format": "pt", "author": "cvseg", "empty": "", "unicode": "\u00e9\u4e2d", "quote": 'a"b\\c'}
    path = write_case(doc, "metadata_many.safetensors", many, metadata=meta)
    check_read_back(path, many)

    i64 = {"ok": np.array([1.0], np.float32), "step": np.array([7, -1], np.int64)}
    path = write_case(doc, "i64.safetensors", i64)
    check_read_back(path, i64)

    doc["library_refusals"] = refusals()
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, ensure_ascii=True)
        f.write("\n")
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print(f"wrote {len(doc['files'])} files to {os.path.relpath(OUT, REPO)} ({versions})")


if __name__ == "__main__":
    main()
