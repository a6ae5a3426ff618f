// Named, fixed hash functions. Anything that reaches output, the wire or a digest is hashed with
// these, never with std::hash (which differs between standard libraries).
#pragma once

#include <cstdint>
#include <string_view>

namespace herd {

inline constexpr std::uint64_t fnv1a64_offset = 0xcbf29ce484222325ULL;
inline constexpr std::uint64_t fnv1a64_prime = 0x100000001b3ULL;

// FNV-1a, 64-bit, continuing from `state` (start with fnv1a64_offset).
constexpr std::uint64_t fnv1a64(std::string_view bytes, std::uint64_t state = fnv1a64_offset) {
    for (char c : bytes) {
        state ^= static_cast<unsigned char>(c);
        state *= fnv1a64_prime;
    }
    return state;
}

// Mixes a 64-bit value into `state`, byte by byte, little-endian (FNV-1a).
constexpr std::uint64_t fnv1a64_u64(std::uint64_t value, std::uint64_t state = fnv1a64_offset) {
    for (int i = 0; i < 8; ++i) {
        state ^= (value >> (8 * i)) & 0xff;
        state *= fnv1a64_prime;
    }
    return state;
}

// The SplitMix64 finaliser: spreads the bits of a hash (FNV's high bits are weak).
constexpr std::uint64_t mix64(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// SipHash-2-4 (Aumasson and Bernstein), keyed by (k0, k1): a hash an attacker who does not know
// the key cannot aim, for tables keyed by bytes that clients choose. Integer arithmetic only, so
// the simulator's results do not depend on the standard library.
struct HashKey {
    std::uint64_t k0 = 0;
    std::uint64_t k1 = 0;
    bool zero() const { return k0 == 0 && k1 == 0; }
};
std::uint64_t siphash24(HashKey key, std::string_view bytes);

}  // namespace herd
