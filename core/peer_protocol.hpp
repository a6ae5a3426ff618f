// The peer protocol: text lines between servers, readable in logs, versioned by the handshake.
//
// A connection's first line decides its role; a peer connection starts with HELLO:
//
//   dialer   -> acceptor   HELLO herd/1 <dialer> <acceptor> <incarnation> <nonce>
//   acceptor -> dialer     WELCOME herd/1 <acceptor> <incarnation> <nonce> <mac>
//   dialer   -> acceptor   AUTH <mac>
//
// Incarnations and nonces are 16 hex digits. With a herd secret, each <mac> is HMAC-SHA-256
// (hex) over both sides' names, incarnations and nonces, with a different label per direction,
// so each side proves it knows the secret without sending it; without a secret each <mac> is
// "-" and the herd is unauthenticated (anyone who can reach the port can claim a name).
// Either side may answer `REFUSED <reason>` and close instead.
//
// After the handshake:
//   AT <origin> <skew> <client> <latlon> <time>   a record, the origin's line verbatim
//   DIGEST <depth> <prefix> [<child>=<sum>/<count> ...]   anti-entropy bucket digests
//   PING                                           keeps a quiet link known to be alive
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/record_store.hpp"

namespace herd {

inline constexpr std::string_view peer_protocol_version = "herd/1";

struct Hello {
    std::string dialer;
    std::string acceptor;
    std::uint64_t incarnation = 0;
    std::uint64_t nonce = 0;
};

struct Welcome {
    std::string acceptor;
    std::uint64_t incarnation = 0;
    std::uint64_t nonce = 0;
    std::string mac;  // hex, or "-"
};

struct DigestEntry {
    int child = 0;
    BucketDigest digest;
};

struct DigestMessage {
    BucketId bucket;
    std::vector<DigestEntry> entries;  // non-empty children only, in child order
};

// The first field of a line, for dispatch.
std::string_view first_field(std::string_view line);

std::string format_hello(const Hello& h);
std::optional<Hello> parse_hello(std::string_view line);
std::string format_welcome(const Welcome& w);
std::optional<Welcome> parse_welcome(std::string_view line);
std::string format_auth(std::string_view mac);
std::optional<std::string> parse_auth(std::string_view line);
std::string format_refused(std::string_view reason);
std::string format_digest(BucketId bucket, const std::array<BucketDigest, bucket_fanout>& children);
std::optional<DigestMessage> parse_digest(std::string_view line);

// The handshake MACs. `secret` empty means unauthenticated: the MAC is "-".
struct HandshakeTranscript {
    std::string_view dialer;
    std::string_view acceptor;
    std::uint64_t dialer_incarnation = 0;
    std::uint64_t dialer_nonce = 0;
    std::uint64_t acceptor_incarnation = 0;
    std::uint64_t acceptor_nonce = 0;
};
std::string welcome_mac(std::string_view secret, const HandshakeTranscript& t);
std::string auth_mac(std::string_view secret, const HandshakeTranscript& t);
// HMAC-SHA-256 of `data` under `key`, as 64 lower-case hex digits.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
// Constant-time comparison of two MAC strings.
bool mac_equal(std::string_view a, std::string_view b);

std::string hex64(std::uint64_t v);
std::optional<std::uint64_t> parse_hex64(std::string_view s);

}  // namespace herd
