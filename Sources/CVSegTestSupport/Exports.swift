// SplitMix64 moved to CVSegCore (the library needs seeded randomness too); tests keep
// getting it from here.
@_exported import struct CVSegCore.SplitMix64
