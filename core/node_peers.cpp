// The Node (core/node.hpp), its peers: the link handshake and its per-origin limits, floods and
// their batching, peer lines, anti-entropy, and dialing with backoff.
#include "core/node.hpp"

#include <algorithm>
#include <utility>

#include "core/assert.hpp"
#include "core/client_protocol.hpp"
#include "core/defects.hpp"
#include "core/hash.hpp"
#include "core/text.hpp"
#include "core/whatsat_reply.hpp"

namespace herd {

namespace {

// The fourth space-separated field, found with memchr; empty when the line has fewer spaces.
std::string_view fourth_field_fast(std::string_view line) {
    std::size_t start = 0;
    for (int i = 0; i < 3; ++i) {
        const std::size_t space = line.find(' ', start);
        if (space == std::string_view::npos) return {};
        start = space + 1;
    }
    const std::size_t end = line.find(' ', start);
    if (end == std::string_view::npos) return {};
    return line.substr(start, end - start);
}

// A line with its newline, made once and shared by every link it goes out on.
SharedBytes line_bytes(std::string_view line) {
    std::string bytes;
    bytes.reserve(line.size() + 1);
    bytes.append(line);
    bytes.push_back('\n');
    return std::make_shared<const std::string>(std::move(bytes));
}

}  // namespace

// ---------------------------------------------------------------- peers: handshake

HandshakeTranscript Node::transcript(const Connection& c) const {
    const Neighbour& nb = neighbours_[static_cast<std::size_t>(c.neighbour)];
    HandshakeTranscript t;
    if (c.dialed_by_us) {
        t.dialer = config_.self.str();
        t.acceptor = nb.name.str();
        t.dialer_incarnation = config_.incarnation;
        t.dialer_nonce = c.local_nonce;
        t.acceptor_incarnation = c.remote_incarnation;
        t.acceptor_nonce = c.remote_nonce;
    } else {
        t.dialer = nb.name.str();
        t.acceptor = config_.self.str();
        t.dialer_incarnation = c.remote_incarnation;
        t.dialer_nonce = c.remote_nonce;
        t.acceptor_incarnation = config_.incarnation;
        t.acceptor_nonce = c.local_nonce;
    }
    return t;
}

void Node::handle_first_line(ConnectionId conn, Connection& c, std::string_view line, Now now) {
    if (first_field(line) == "HELLO") {
        if (config_.peers_need_secure_transport && !c.secured) {
            refuse(conn, "secure-transport-required", now);
            return;
        }
        if (auto hello = parse_hello(line)) {
            handle_hello(conn, c, *hello, now);
            return;
        }
    }
    if (c.peers_only) {
        // Admitted over a connection cap only in case it was a peer; it is not.
        stats_.clients_refused_peers_only += 1;
        close_connection(conn, CloseMode::now, "connection cap (not a peer)", now);
        return;
    }
    c.role = Role::client;
    handle_client_line(conn, c, line, now);
}

void Node::refuse(ConnectionId conn, std::string_view reason, Now now) {
    stats_.handshakes_refused += 1;
    Connection* c = find(conn);
    if (c != nullptr) {
        auto bytes = std::make_shared<const std::string>(format_refused(reason));
        c->unsent_bytes += bytes->size();
        stats_.peer_writes += 1;
        emit(SendToPeer{conn, std::move(bytes)});
    }
    close_connection(conn, CloseMode::after_flush, reason, now);
}

void Node::handle_hello(ConnectionId conn, Connection& c, const Hello& hello, Now now) {
    if (hello.acceptor != config_.self.str()) {
        refuse(conn, "wrong-server", now);
        return;
    }
    const int n = neighbour_index(hello.dialer);
    if (n < 0) {
        refuse(conn, "not-a-neighbour", now);
        return;
    }
    if (!c.identity.empty() && c.identity != hello.dialer) {
        refuse(conn, "identity-mismatch", now);  // its certificate names another server
        return;
    }
    if (const char* why = origin_refusal(c.origin, now)) {
        refuse(conn, why, now);
        return;
    }
    origin_begin(c);
    c.role = Role::welcome_sent;
    c.neighbour = n;
    c.remote_incarnation = hello.incarnation;
    c.remote_nonce = hello.nonce;
    c.local_nonce = prng_.next();
    const std::string mac = welcome_mac(config_.secret, transcript(c));
    send_peer(conn, c,
              format_welcome(Welcome{config_.self.str(), config_.incarnation, c.local_nonce, mac}),
              1, now);
    // Now a handshake: its deadline (silence_timeout), not the client idle one armed before.
    if (find(conn) == &c) schedule_check(conn, c);
}

void Node::handle_welcome(ConnectionId conn, Connection& c, std::string_view line, Now now) {
    const auto welcome = parse_welcome(line);
    if (!welcome) {
        // REFUSED, or anything else: the peer did not accept us.
        close_connection(conn, CloseMode::now,
                         first_field(line) == "REFUSED" ? line : "bad handshake", now);
        return;
    }
    if (welcome->acceptor != neighbours_[static_cast<std::size_t>(c.neighbour)].name.str()) {
        refuse(conn, "wrong-server", now);
        return;
    }
    c.remote_incarnation = welcome->incarnation;
    c.remote_nonce = welcome->nonce;
    const HandshakeTranscript t = transcript(c);
    if (!mac_equal(welcome->mac, welcome_mac(config_.secret, t))) {
        refuse(conn, "authentication-failed", now);
        return;
    }
    send_peer(conn, c, format_auth(auth_mac(config_.secret, t)), 1, now);
    establish(conn, c, now);
}

void Node::handle_auth(ConnectionId conn, Connection& c, std::string_view line, Now now) {
    const auto mac = parse_auth(line);
    if (!mac || !mac_equal(*mac, auth_mac(config_.secret, transcript(c)))) {
        origins_.failed(c.origin, now.mono);
        refuse(conn, "authentication-failed", now);
        return;
    }
    establish(conn, c, now);
}

const char* Node::origin_refusal(std::uint64_t origin, Now now) {
    const HandshakeOrigins::Refusal r = origins_.refusal(origin, now.mono);
    if (r == HandshakeOrigins::Refusal::full) stats_.origin_refused_full += 1;
    if (r == HandshakeOrigins::Refusal::blocked) stats_.origin_refused_blocked += 1;
    if (r == HandshakeOrigins::Refusal::pending) stats_.origin_refused_pending += 1;
    return refusal_reason(r);
}

// A handshake from this connection's origin has begun.
void Node::origin_begin(Connection& c) {
    HERD_ASSERT(!c.origin_pending);
    if (c.origin == 0) return;
    origins_.begin(c.origin);
    c.origin_pending = true;
}

// A handshake from this connection's origin is over (established, refused or closed).
void Node::origin_done(Connection& c) {
    if (!c.origin_pending) return;
    c.origin_pending = false;
    origins_.done(c.origin, last_now_.mono);
}

void Node::establish(ConnectionId conn, Connection& c, Now now) {
    HERD_ASSERT(c.neighbour >= 0 && (c.role == Role::hello_sent || c.role == Role::welcome_sent));
    Neighbour& nb = neighbours_[static_cast<std::size_t>(c.neighbour)];
    if (c.role == Role::hello_sent) nb.dials_in_handshake -= 1;
    HERD_ASSERT(nb.dials_in_handshake >= 0);
    origin_done(c);
    c.role = Role::peer;
    const bool replaces = nb.link.has_value();
    if (nb.link) {
        const ConnectionId old_id = *nb.link;
        Connection& old = connection(old_id);
        if (old.remote_incarnation != c.remote_incarnation) {
            close_connection(old_id, CloseMode::now, "replaced by a newer incarnation", now);
        } else {
            // Both ends dialed at once (or the peer redialed): keep the connection dialed by the
            // smaller name, so both ends keep the same one; between two from the same dialer,
            // the newer, since the dialer gave up on the older.
            const bool old_by_smaller = old.dialed_by_us == (config_.self < nb.name);
            const bool new_by_smaller = c.dialed_by_us == (config_.self < nb.name);
            if (old_by_smaller && !new_by_smaller) {
                close_connection(conn, CloseMode::now, "duplicate link", now);
                return;
            }
            close_connection(old_id, CloseMode::now, "duplicate link", now);
        }
    }
    nb.link = conn;
    if (!defect(Defect::backoff_never_reset)) nb.backoff = config_.limits.backoff_initial;
    stats_.links_established += 1;
    emit(PeerUp{conn, nb.name});
    disarm(c.timer);  // re-armed with the peer deadlines
    schedule_check(conn, c);
    // Anti-entropy: one exchange per link-up, starting from the root digest.
    if (defect(Defect::sync_skipped_when_empty) && store_.size() == 0) return;
    if (defect(Defect::sync_not_started_on_replacement_link) && replaces) return;
    send_digest(conn, c, BucketId{0, 0}, now);
}

// ---------------------------------------------------------------- peers: established

void Node::send_peer(ConnectionId conn, Connection& c, SharedBytes bytes, std::size_t lines,
                     Now now, std::size_t records) {
    HERD_ASSERT(!bytes->empty() && bytes->back() == '\n' && lines > 0);
    if (c.unsent_bytes + bytes->size() > config_.limits.peer_output_bytes_max) {
        stats_.links_closed_overflow += 1;
        close_connection(conn, CloseMode::now, "output queue overflow", now);
        return;
    }
    c.unsent_bytes += bytes->size();
    HERD_ASSERT(c.unsent_bytes <= config_.limits.peer_output_bytes_max);
    c.last_sent = now.mono;
    if (c.role == Role::peer) {
        stats_.peer_lines_sent += lines;
        stats_.peer_bytes_sent += bytes->size();
        stats_.peer_records_sent += records;
    }
    stats_.peer_writes += 1;
    emit(SendToPeer{conn, std::move(bytes)});
}

// With the relay_by_linked_position defect: the neighbour at the source's position among the
// linked ones (else none: the source itself is left out by its link).
const Node::Neighbour* Node::relay_skipped(std::optional<ConnectionId> except) const {
    if (!defect(Defect::relay_by_linked_position) || !except) return nullptr;
    std::size_t position = 0;
    for (const Neighbour& nb : neighbours_) {
        if (!nb.link) continue;
        if (nb.link == except) return &neighbours_[position];
        position += 1;
    }
    return nullptr;
}

void Node::flood(const Record& record, std::optional<ConnectionId> except, Now now) {
    // The record size limit: whatever this server stored, every peer can take.
    HERD_ASSERT(record.at_line().size() <= config_.limits.line_bytes_max);
    SharedBytes line;
    const Neighbour* skipped = relay_skipped(except);
    for (Neighbour& nb : neighbours_) {
        if (!nb.link || nb.link == except || &nb == skipped) continue;
        if (defect(Defect::relay_skips_first_neighbour) && except && &nb == &neighbours_.front())
            continue;
        const ConnectionId id = *nb.link;
        if (config_.limits.flood_batch > Duration{}) {
            batch_line(id, connection(id), record.at_line(), now);
            continue;
        }
        if (!line) line = line_bytes(record.at_line());
        send_peer(id, connection(id), line, 1, now, 1);
    }
}

void Node::batch_line(ConnectionId conn, Connection& c, std::string_view line, Now now) {
    c.batch.append(line);
    c.batch.push_back('\n');
    c.batch_records += 1;
    if (c.batch.size() >= config_.limits.flood_batch_bytes_max) {
        flush_batch(conn, c, now);
        return;
    }
    if (!c.flush_timer && !defect(Defect::flood_batch_timer_not_armed))
        c.flush_timer = arm(now.mono + config_.limits.flood_batch, TimerKind::flush, conn);
}

void Node::flush_batch(ConnectionId conn, Connection& c, Now now) {
    disarm(c.flush_timer);
    if (c.batch_records == 0) return;
    const std::size_t records = c.batch_records;
    c.batch_records = 0;
    send_peer(conn, c, std::make_shared<const std::string>(std::exchange(c.batch, {})), records,
              now, records);
}

void Node::handle_peer_line(ConnectionId conn, Connection& c, std::string_view line, Now now) {
    stats_.peer_lines_received += 1;
    const std::string_view verb = first_field(line);
    if (defect(Defect::peer_lines_capped_at_32k) && line.size() > 32 * 1024) {
        reject_peer_line(conn, c, "line too long");
        return;
    }
    if (verb == "AT") {
        apply_from_peer(conn, c, line, now);
    } else if (verb == "DIGEST") {
        handle_digest(conn, c, line, now);
    } else if (verb == "PING" || verb.empty()) {
        // Only keeps the link alive (last_received was updated).
    } else {
        reject_peer_line(conn, c, "unknown verb");
    }
}

void Node::reject_peer_line(ConnectionId conn, Connection& c, std::string_view reason) {
    stats_.peer_lines_rejected += 1;
    c.lines_rejected += 1;
    // Reported at 1, 2, 4, 8, ... so that a peer sending garbage cannot flood the log.
    if ((c.lines_rejected & (c.lines_rejected - 1)) != 0) return;
    emit(PeerLineRejected{conn, neighbours_[static_cast<std::size_t>(c.neighbour)].name,
                          std::string(reason), c.lines_rejected});
}

void Node::apply_from_peer(ConnectionId conn, Connection& c, std::string_view line, Now now) {
    // Most floods bring a record this server already has, byte for byte: recognise those before
    // validating every field. Stored lines have single spaces, so the client ID of a line equal
    // to a stored one lies between its third and fourth space.
    stats_.peer_records_received += 1;
    const std::string_view fast_client = fourth_field_fast(line);
    RecordStore::Found current;
    if (!fast_client.empty()) {
        current = store_.locate(fast_client);
        if (current.record != nullptr && current.record->at_line() == line) {
            stats_.peer_records_duplicate += 1;
            return;
        }
    }
    const auto view = AtLineView::parse(line);
    if (!view) {
        reject_peer_line(conn, c, "malformed AT line");
        return;
    }
    clients_.peer_line_received(view->client, line);
    const Record* stored = nullptr;
    // The lookup above is reused when it was for the same client (it is, for canonical lines).
    const ApplyOutcome outcome = view->client == fast_client
                                     ? store_.apply_found(*view, current, &stored)
                                     : store_.apply(*view, &stored);
    if (!changed_store(outcome)) {
        stats_.peer_records_duplicate += 1;
        return;
    }
    applied(*stored, neighbours_[static_cast<std::size_t>(c.neighbour)].name.str(), view->origin);
    flood(*stored, conn, now);
}

void Node::applied(const Record& record, std::string_view via, std::string_view origin) {
    stats_.records_applied += 1;
    if (!config_.notify_applied) return;
    emit(RecordApplied{std::string(record.at_line()), std::string(via), std::string(origin),
                       std::string(record.client()), record.time(), record.content_hash()});
}

void Node::send_digest(ConnectionId conn, Connection& c, BucketId bucket, Now now) {
    if (!c.sync.first_digest(bucket)) return;
    stats_.digests_sent += 1;
    std::string digest = format_digest(bucket, store_.child_digests(bucket));
    stats_.sync_bytes_sent += digest.size();
    send_peer(conn, c, std::move(digest), 1, now);
}

void Node::handle_digest(ConnectionId conn, Connection& c, std::string_view line, Now now) {
    auto message = parse_digest(line);
    if (!message) {
        reject_peer_line(conn, c, "malformed DIGEST line");
        return;
    }
    if (defect(Defect::sync_skipped_when_empty) && store_.size() == 0) return;
    const BucketId bucket = message->bucket;
    // Answer with our own digest of this bucket if we have not sent it: the peer compares
    // too, and sends its side of every differing bucket.
    send_digest(conn, c, bucket, now);
    if (find(conn) != &c) return;
    std::array<BucketDigest, bucket_fanout> theirs{};
    for (const DigestEntry& e : message->entries)
        theirs[static_cast<std::size_t>(e.child)] = e.digest;
    const std::vector<BucketId> deeper = c.sync.compare(bucket, store_.child_digests(bucket),
                                                        theirs, config_.limits.leaf_records_max);
    for (const BucketId& sub : deeper) {
        send_digest(conn, c, sub, now);
        if (find(conn) != &c) return;
    }
    pump_sync(conn, c, now);
}

void Node::pump_sync(ConnectionId conn, Connection& c, Now now) {
    // Never fill the peer's queue past half its bound, so floods still fit beside a transfer.
    const std::size_t low_water =
        std::min(config_.limits.sync_low_water_bytes, config_.limits.peer_output_bytes_max / 2);
    constexpr std::size_t line_bytes_guess = 128;
    while (c.sync.pending() && c.unsent_bytes < low_water) {
        const std::size_t room = (low_water - c.unsent_bytes) / line_bytes_guess;
        const std::size_t records_max =
            std::clamp<std::size_t>(room, 1, config_.limits.sync_records_per_step);
        const auto records = c.sync.next_records(store_, records_max);
        if (records.empty()) continue;
        std::string bytes;
        for (const Record* r : records) {
            bytes += r->at_line();
            bytes += '\n';
        }
        stats_.sync_records_sent += records.size();
        stats_.sync_bytes_sent += bytes.size();
        send_peer(conn, c, std::make_shared<const std::string>(std::move(bytes)), records.size(),
                  now, records.size());
        if (find(conn) != &c) return;
    }
}

// ---------------------------------------------------------------- dialing

void Node::dial(int n) {
    Neighbour& nb = neighbours_[static_cast<std::size_t>(n)];
    nb.dialing = true;
    emit(Dial{nb.name});
}

void Node::schedule_dial(int n, Now now) {
    Neighbour& nb = neighbours_[static_cast<std::size_t>(n)];
    if (nb.link || nb.dialing || nb.dials_in_handshake > 0 || nb.dial_timer) return;
    // Exponential backoff with jitter: uniform in [backoff/2, backoff], then doubled, capped.
    const std::int64_t half = nb.backoff.ns / 2;
    const Duration delay{half + prng_.between(0, nb.backoff.ns - half)};
    nb.backoff = std::min(nb.backoff * 2, config_.limits.backoff_max);
    HERD_ASSERT(delay.ns >= 0 && delay <= config_.limits.backoff_max);
    nb.dial_timer = arm(now.mono + delay, TimerKind::dial, static_cast<std::uint64_t>(n));
}

}  // namespace herd
