#include "netmode/peer_tls.hpp"

#include <openssl/hmac.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl/host_name_verification.hpp>
#include <cstring>

#include "core/assert.hpp"

namespace herd::net {

namespace ssl = boost::asio::ssl;

namespace {

// What the dialer names its key by; the acceptor knows no other.
constexpr std::string_view psk_identity = "herd-peer-psk-v1";
// TLS_AES_128_GCM_SHA256: the suite the key is bound to (its hash, SHA-256, must match).
constexpr unsigned char psk_suite[2] = {0x13, 0x01};
constexpr std::size_t psk_bytes = 32;

// Where a context keeps its PeerTls for the callbacks (Asio keeps its own things in the
// context's app data, so not there).
int owner_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    HERD_ASSERT(index >= 0);
    return index;
}

const PeerTls* owner_of(SSL* ssl) {
    return static_cast<const PeerTls*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), owner_index()));
}

}  // namespace

std::string peer_tls_key(const std::string& secret) {
    HERD_ASSERT(!secret.empty());
    constexpr std::string_view label = "herd peer links: TLS 1.3 external PSK, version 1";
    unsigned char key[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(label.data()), label.size(), key, &length);
    HERD_ASSERT(length == psk_bytes);
    return std::string(reinterpret_cast<const char*>(key), length);
}

PeerTls::PeerTls() : context_(ssl::context::tls) {}

Result<std::unique_ptr<PeerTls>> PeerTls::make(const std::string& secret, const TlsFiles& files) {
    HERD_ASSERT(!secret.empty() || files.complete());
    std::unique_ptr<PeerTls> tls(new PeerTls());
    SSL_CTX* ctx = tls->context_.native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_num_tickets(ctx, 0);                  // links are long-lived: no resumption
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);  // idle and half-open streams hold less
    SSL_CTX_set_ex_data(ctx, owner_index(), tls.get());
    if (files.complete()) {
        boost::system::error_code ec;
        tls->context_.load_verify_file(files.ca, ec);
        if (ec) return Error{"tls-ca " + files.ca + ": " + ec.message()};
        tls->context_.use_certificate_chain_file(files.cert, ec);
        if (ec) return Error{"tls-cert " + files.cert + ": " + ec.message()};
        tls->context_.use_private_key_file(files.key, ssl::context::pem, ec);
        if (ec) return Error{"tls-key " + files.key + ": " + ec.message()};
        if (SSL_CTX_check_private_key(ctx) != 1)
            return Error{"tls-key " + files.key + " does not match tls-cert " + files.cert};
        tls->context_.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
        tls->description_ = "TLS 1.3, certificates of the CA in " + files.ca;
        return tls;
    }
    tls->psk_ = peer_tls_key(secret);
    // Only suites hashed with SHA-256, the key's hash.
    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256");
    SSL_CTX_set_psk_use_session_callback(ctx, &PeerTls::use_session);
    SSL_CTX_set_psk_find_session_callback(ctx, &PeerTls::find_session);
    tls->description_ = "TLS 1.3, key from the herd secret";
    return tls;
}

std::unique_ptr<TlsStream> PeerTls::stream(boost::asio::ip::tcp::socket& socket,
                                           const std::string& host) {
    auto s = std::make_unique<TlsStream>(socket, context_);
    if (psk_.empty() && !host.empty()) s->set_verify_callback(ssl::host_name_verification(host));
    return s;
}

std::string PeerTls::certificate_name(TlsStream& stream) const {
    if (!uses_certificates()) return {};
    X509* cert = SSL_get1_peer_certificate(stream.native_handle());
    if (cert == nullptr) return {};
    char name[256];
    const int length =
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof name);
    X509_free(cert);
    return length > 0 ? std::string(name, static_cast<std::size_t>(length)) : std::string();
}

SSL_SESSION* PeerTls::psk_session(SSL* ssl) const {
    const SSL_CIPHER* cipher = SSL_CIPHER_find(ssl, psk_suite);
    if (cipher == nullptr) return nullptr;
    SSL_SESSION* session = SSL_SESSION_new();
    if (session == nullptr) return nullptr;
    if (SSL_SESSION_set1_master_key(session, reinterpret_cast<const unsigned char*>(psk_.data()),
                                    psk_.size()) != 1 ||
        SSL_SESSION_set_cipher(session, cipher) != 1 ||
        SSL_SESSION_set_protocol_version(session, TLS1_3_VERSION) != 1) {
        SSL_SESSION_free(session);
        return nullptr;
    }
    return session;
}

// The dialer offers the key (OpenSSL asks again with `md` set after a HelloRetryRequest: the
// key is only offered when the suite's hash matches its own).
int PeerTls::use_session(SSL* ssl, const EVP_MD* md, const unsigned char** id, size_t* id_len,
                         SSL_SESSION** session) {
    const PeerTls* self = owner_of(ssl);
    *session = nullptr;
    *id = nullptr;
    *id_len = 0;
    SSL_SESSION* s = self->psk_session(ssl);
    if (s == nullptr) return 0;
    if (md != nullptr && md != SSL_CIPHER_get_handshake_digest(SSL_SESSION_get0_cipher(s))) {
        SSL_SESSION_free(s);
        return 1;  // no key for this suite
    }
    *session = s;
    *id = reinterpret_cast<const unsigned char*>(psk_identity.data());
    *id_len = psk_identity.size();
    return 1;
}

// The acceptor finds the key by its name; anything else gets no key, and since there is no
// certificate either, the handshake fails.
int PeerTls::find_session(SSL* ssl, const unsigned char* id, size_t id_len, SSL_SESSION** session) {
    const PeerTls* self = owner_of(ssl);
    *session = nullptr;
    if (id_len != psk_identity.size() || std::memcmp(id, psk_identity.data(), id_len) != 0)
        return 1;
    *session = self->psk_session(ssl);
    return *session != nullptr ? 1 : 0;
}

}  // namespace herd::net
