#include "core/peer_protocol.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/text.hpp"

namespace herd {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

template <std::size_t N>
std::size_t fields(std::string_view line, std::string_view (&f)[N]) {
    return split_fields(line, f, N);
}

std::optional<std::uint64_t> parse_decimal(std::string_view s) {
    if (s.size() > 19) return std::nullopt;
    return parse_whole(s, UINT64_MAX);
}

std::string transcript_text(std::string_view label, const HandshakeTranscript& t) {
    std::string s(label);
    s += '|';
    s += peer_protocol_version;
    s += '|';
    s += t.dialer;
    s += '|';
    s += t.acceptor;
    for (std::uint64_t v :
         {t.dialer_incarnation, t.dialer_nonce, t.acceptor_incarnation, t.acceptor_nonce}) {
        s += '|';
        s += hex64(v);
    }
    return s;
}

std::string hmac_hex(std::string_view secret, std::string_view label,
                     const HandshakeTranscript& t) {
    if (secret.empty()) return "-";
    return hmac_sha256_hex(secret, transcript_text(label, t));
}

}  // namespace

std::string hmac_sha256_hex(std::string_view secret, std::string_view data) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &length);
    std::string out;
    out.reserve(length * 2);
    for (unsigned i = 0; i < length; ++i) {
        out.push_back(hex_digits[mac[i] >> 4]);
        out.push_back(hex_digits[mac[i] & 0xf]);
    }
    return out;
}

std::string hex64(std::uint64_t v) {
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = hex_digits[v & 0xf];
        v >>= 4;
    }
    return out;
}

std::optional<std::uint64_t> parse_hex64(std::string_view s) {
    if (s.empty() || s.size() > 16) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return std::nullopt;
        v = (v << 4) | static_cast<std::uint64_t>(d);
    }
    return v;
}

std::string_view first_field(std::string_view line) {
    return take_field(line);
}

std::string format_hello(const Hello& h) {
    return "HELLO " + std::string(peer_protocol_version) + ' ' + h.dialer + ' ' + h.acceptor + ' ' +
           hex64(h.incarnation) + ' ' + hex64(h.nonce) + '\n';
}

std::optional<Hello> parse_hello(std::string_view line) {
    std::string_view f[7];
    if (fields(line, f) != 6 || f[0] != "HELLO" || f[1] != peer_protocol_version)
        return std::nullopt;
    auto inc = parse_hex64(f[4]);
    auto nonce = parse_hex64(f[5]);
    if (!inc || !nonce) return std::nullopt;
    return Hello{std::string(f[2]), std::string(f[3]), *inc, *nonce};
}

std::string format_welcome(const Welcome& w) {
    return "WELCOME " + std::string(peer_protocol_version) + ' ' + w.acceptor + ' ' +
           hex64(w.incarnation) + ' ' + hex64(w.nonce) + ' ' + w.mac + '\n';
}

std::optional<Welcome> parse_welcome(std::string_view line) {
    std::string_view f[7];
    if (fields(line, f) != 6 || f[0] != "WELCOME" || f[1] != peer_protocol_version)
        return std::nullopt;
    auto inc = parse_hex64(f[3]);
    auto nonce = parse_hex64(f[4]);
    if (!inc || !nonce) return std::nullopt;
    return Welcome{std::string(f[2]), *inc, *nonce, std::string(f[5])};
}

std::string format_auth(std::string_view mac) {
    return "AUTH " + std::string(mac) + '\n';
}

std::optional<std::string> parse_auth(std::string_view line) {
    std::string_view f[3];
    if (fields(line, f) != 2 || f[0] != "AUTH") return std::nullopt;
    return std::string(f[1]);
}

std::string format_refused(std::string_view reason) {
    return "REFUSED " + std::string(reason) + '\n';
}

std::string format_digest(BucketId bucket,
                          const std::array<BucketDigest, bucket_fanout>& children) {
    std::string out = "DIGEST ";
    append_decimal(out, static_cast<std::uint64_t>(bucket.depth));
    out += ' ';
    out += hex64(bucket.prefix);
    for (int c = 0; c < bucket_fanout; ++c) {
        const BucketDigest& d = children[static_cast<std::size_t>(c)];
        if (d.count == 0) continue;
        out += ' ';
        append_decimal(out, static_cast<std::uint64_t>(c));
        out += '=';
        out += hex64(d.sum);
        out += '/';
        append_decimal(out, d.count);
    }
    out += '\n';
    return out;
}

std::optional<DigestMessage> parse_digest(std::string_view line) {
    std::string_view f[3 + bucket_fanout + 1];
    const std::size_t n = fields(line, f);
    if (n < 3 || n > 3 + bucket_fanout || f[0] != "DIGEST") return std::nullopt;
    auto depth = parse_decimal(f[1]);
    auto prefix = parse_hex64(f[2]);
    if (!depth || *depth >= static_cast<std::uint64_t>(bucket_depth_max) || !prefix)
        return std::nullopt;
    if (*depth > 0 && (*prefix >> (bucket_fanout_bits * *depth)) != 0) return std::nullopt;
    if (*depth == 0 && *prefix != 0) return std::nullopt;
    DigestMessage m{BucketId{static_cast<int>(*depth), *prefix}, {}};
    int previous = -1;
    for (std::size_t i = 3; i < n; ++i) {
        const std::string_view e = f[i];
        const std::size_t eq = e.find('=');
        const std::size_t slash = e.find('/');
        if (eq == std::string_view::npos || slash == std::string_view::npos || slash < eq)
            return std::nullopt;
        auto child = parse_decimal(e.substr(0, eq));
        auto sum = parse_hex64(e.substr(eq + 1, slash - eq - 1));
        auto count = parse_decimal(e.substr(slash + 1));
        if (!child || !sum || !count || *count == 0 || *child >= bucket_fanout) return std::nullopt;
        if (static_cast<int>(*child) <= previous) return std::nullopt;
        previous = static_cast<int>(*child);
        m.entries.push_back(DigestEntry{previous, BucketDigest{*sum, *count}});
    }
    return m;
}

std::string welcome_mac(std::string_view secret, const HandshakeTranscript& t) {
    return hmac_hex(secret, "welcome", t);
}

std::string auth_mac(std::string_view secret, const HandshakeTranscript& t) {
    return hmac_hex(secret, "auth", t);
}

bool mac_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace herd
