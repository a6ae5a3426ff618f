// NodeConfig: everything a Node is told at start. Bounds end in _max; units end the names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/line_buffer.hpp"
#include "core/record_store.hpp"
#include "core/time.hpp"
#include "core/types.hpp"

namespace herd {

// The longest flood batching window (NodeLimits::flood_batch) a server or a scenario may set.
inline constexpr Duration flood_batch_max = Duration::seconds(10);

// How long a Places query is awaited unless told otherwise: the one default of `herd serve
// --places-timeout-ms`, a scenario's `places timeout`, and the Node's own limit.
inline constexpr Duration places_timeout_default = Duration::seconds(4);
// ... and what they may be set to, in whole milliseconds.
inline constexpr Duration places_timeout_min = Duration::milliseconds(100);
inline constexpr Duration places_timeout_max = Duration::milliseconds(60'000);
// In a real server the provider's client gives up at the timeout and its failure answers the
// client; the Node's own timer waits this much longer, so that failure is what comes through.
inline constexpr Duration places_timeout_grace = Duration::seconds(1);

struct NodeLimits {
    // The longest line a server reads from anyone, client or peer (line ending excluded). It is
    // also the one size limit of a record: an IAMAT whose AT line would be longer is answered
    // `?`, so every stored record fits in a peer line and can always be replicated.
    std::size_t line_bytes_max = line_bytes_max_default;
    // The store's size limit, in bytes of stored AT lines: an IAMAT that would grow the store
    // past it (a new client, or a longer line for a known one) is answered `?` at its origin;
    // updates that do not grow it, and peers' records, are still taken. Every server holds
    // every record, so this bounds the whole herd's stores.
    std::size_t store_bytes_max = std::size_t{1} << 30;  // RecordStore::memory_bytes

    // Client flow control. Output counts the bytes handed to the driver and not yet sent, plus
    // replies held back behind an unanswered WHATSAT. Past the high-water mark the Node stops
    // taking lines from the connection (and asks the driver to stop reading, PauseReading); below
    // the low-water mark it goes on (ResumeReading). Only past the hard cap is a client
    // disconnected ("output cap"); a client that takes nothing for the write timeout is too.
    std::size_t client_output_high_water_bytes = 64 << 10;
    std::size_t client_output_low_water_bytes = 16 << 10;
    std::size_t client_output_bytes_max = 8 << 20;
    // Bytes read from clients and not yet taken as lines (unfinished lines, mostly), over every
    // connection: past it the connections holding the most are closed ("buffer budget"). 10 000
    // connections with a 64 KiB line each would otherwise hold 640 MiB.
    std::size_t client_buffered_bytes_max = std::size_t{128} << 20;
    // Output waiting for clients (handed over and not yet taken, or held in order), over every
    // connection: past it the connections holding the most are closed ("output budget"). Each
    // connection alone may hold up to client_output_bytes_max; 10 000 could otherwise hold 80 GB.
    std::size_t client_output_total_bytes_max = std::size_t{256} << 20;
    // Replies waiting in order on one connection (answered or not): reading stops at this many.
    std::size_t client_pending_replies_max = 1024;
    // WHATSATs of one connection waiting for Places: reading stops at this many.
    std::size_t client_queries_max = 64;
    // Places queries in flight for the whole server: a WHATSAT beyond this is answered at once
    // with the failure body and status OVER_QUERY_LIMIT.
    std::size_t places_pending_max = 4096;
    // One origin's share of those (a source address, as the driver names it; origins it does
    // not name are not limited): at most this many, and at most places_pending_max / (n + 1)
    // with n origins waiting for Places, so one address, or a few, never take every slot and a
    // newcomer always finds room. Past it the origin's WHATSAT is answered at once with the
    // failure body, status OVER_QUERY_LIMIT; its own earlier queries are not touched.
    std::size_t places_per_origin_max = 256;

    // A peer's output queue: past this the link is closed (anti-entropy repairs it later).
    std::size_t peer_output_bytes_max = 16 << 20;
    // Anti-entropy sends more records only while the peer's queue is below this.
    std::size_t sync_low_water_bytes = 64 << 10;
    std::size_t sync_records_per_step = 64;
    // A differing bucket with at most this many records (on either side) is sent whole;
    // a bigger one is compared child by child.
    std::size_t leaf_records_max = 4;

    // Handshakes accepted from one origin (a source address, as the driver names it): at most
    // this many pending at once; after this many failed authentications within the window, its
    // HELLOs are refused for the window. Origins the driver does not name (0) are not limited.
    std::size_t handshakes_per_origin_max = 8;
    std::size_t auth_failures_per_origin_max = 5;
    Duration auth_failure_window = Duration::seconds(10);
    // Origins tracked at once; past it the one idle longest is forgotten (its failures with it),
    // and only when every one has a handshake pending is a new origin refused.
    std::size_t origins_max = 4096;
    // Transport (TLS) handshakes of accepted connections in progress at once, from all origins
    // (each costs the driver tens of KB): a further one is closed at once.
    std::size_t transport_handshakes_max = 256;
    // The same for connections from the neighbours' addresses (NodeConfig::neighbour_origins),
    // counted apart: stalled handshakes from other addresses never take these.
    std::size_t neighbour_handshakes_max = 32;

    // Flood batching: a record flooded to a peer waits up to this long, so that the records
    // flooded to it meanwhile go out in the same write (one message instead of one each); a
    // batch reaching flood_batch_bytes_max is written at once. 0: every record is written
    // alone, at once (each hop then costs no added delay). Anti-entropy is never batched.
    Duration flood_batch{};
    std::size_t flood_batch_bytes_max = 64 << 10;

    Duration heartbeat_interval = Duration::seconds(1);
    Duration silence_timeout = Duration::seconds(3);  // also bounds a handshake
    Duration backoff_initial = Duration::milliseconds(100);
    Duration backoff_max = Duration::seconds(5);
    // A Places query's answer is awaited this long (places_timeout_default), the provider's own
    // timeout included: `herd serve --places-timeout-ms`, a scenario's `places timeout`.
    Duration places_timeout = places_timeout_default;
    // Client deadlines (0: never). Bytes trickling in extend none of them.
    Duration client_line_timeout = Duration::seconds(10);   // a started line must end by then
    Duration client_idle_timeout = Duration::seconds(300);  // nothing pending, nothing received
    Duration client_write_timeout = Duration::seconds(30);  // output pending and none taken
};

struct NodeConfig {
    ServerName self;
    std::vector<ServerName> neighbours;  // the configured links of this server
    TieBreak tie_break = TieBreak::first;
    std::string secret;  // the herd secret; empty: peers are not authenticated
    // Peer handshakes only on connections whose transport the driver secured (TLS): a HELLO on
    // any other connection is refused `secure-transport-required`. Clients are not affected.
    bool peers_need_secure_transport = false;
    std::uint64_t incarnation = 0;  // random, new at every start of the server
    std::uint64_t seed = 0;         // seeds the Node's PRNG (nonces, reconnect jitter)
    // The herd's key for the store's client hash (RecordStore): the same on every server of a
    // herd, unknown to clients. Zero: unkeyed (tests).
    HashKey client_hash_key;
    // The origins (as the driver names them in handle_accepted) of the neighbours' addresses:
    // their transport handshakes have slots of their own (neighbour_handshakes_max).
    std::vector<std::uint64_t> neighbour_origins;
    // Emit a RecordApplied action for every store change (the simulator's checker and traces
    // want them; a server without a trace need not pay for them).
    bool notify_applied = true;
    NodeLimits limits;
};

}  // namespace herd
