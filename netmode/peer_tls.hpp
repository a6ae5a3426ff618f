// PeerTls: TLS 1.3 for peer links (OpenSSL through Boost.Asio's SSL streams).
//
// Two ways for both ends of a link to prove they belong to the herd:
// - the herd secret: an external pre-shared key (RFC 8446 §2.2) derived from it with
//   HMAC-SHA-256, no certificates at all; the key exchange still runs (ECDHE), so a recorded
//   session stays secret even if the herd secret leaks later;
// - certificates: every server presents its own (tls-cert, tls-key in the herd file), signed by
//   the herd's CA (tls-ca), whose common name is the server's name: a peer may only handshake as
//   the server its certificate names, and a dialer also checks that the certificate names the
//   host it dialed (a DNS name or IP address in subjectAltName).
// Either way every peer line is encrypted and integrity-protected, and the handshake of design
// §4 (names, incarnations, neighbour check, and the MAC when there is a secret) runs inside.
//
// Clients keep the plain-text protocol on the same port: a TLS connection opens with a
// handshake record (first byte 0x16), which no client line does.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "core/herd_file.hpp"

namespace herd::net {

// The first byte of a TLS handshake record: what tells a TLS peer from a plain-text line.
inline constexpr unsigned char tls_handshake_record = 0x16;

using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>;

class PeerTls {
  public:
    // From the herd secret (non-empty) or, when `files` are complete, from certificates (the
    // secret then only keys the MAC of the handshake inside). An error names the file or step
    // that failed.
    static Result<std::unique_ptr<PeerTls>> make(const std::string& secret, const TlsFiles& files);

    // A stream over `socket`, for a dial to `host` (certificates: its name is checked) or for an
    // accepted connection (host empty).
    std::unique_ptr<TlsStream> stream(boost::asio::ip::tcp::socket& socket,
                                      const std::string& host);
    // Certificates: the server a completed handshake's peer certificate names (its common name,
    // which must be the server's name in the herd file); empty with the herd key or no name.
    std::string certificate_name(TlsStream& stream) const;
    bool uses_certificates() const { return psk_.empty(); }
    // "TLS 1.3, key from the herd secret" or "TLS 1.3, certificates of CA FILE", for the banner.
    const std::string& describe() const { return description_; }

  private:
    PeerTls();
    static int use_session(SSL* ssl, const EVP_MD* md, const unsigned char** id, size_t* id_len,
                           SSL_SESSION** session);
    static int find_session(SSL* ssl, const unsigned char* id, size_t id_len,
                            SSL_SESSION** session);
    SSL_SESSION* psk_session(SSL* ssl) const;

    boost::asio::ssl::context context_;
    std::string psk_;  // 32 bytes; empty in certificate mode
    std::string description_;
};

// The TLS key both ends derive from the herd secret (32 bytes). Public for its test.
std::string peer_tls_key(const std::string& secret);

}  // namespace herd::net
