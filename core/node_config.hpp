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

struct NodeLimits {
    std::size_t line_bytes_max = line_bytes_max_default;
    // Bytes handed to the driver and not yet reported sent. A client past this is not reading
    // and is disconnected; a peer past this loses its link (anti-entropy repairs it later).
    std::size_t client_output_bytes_max = 1 << 20;
    std::size_t peer_output_bytes_max = 16 << 20;
    // Replies waiting behind an unanswered WHATSAT on one connection.
    std::size_t client_pending_replies_max = 1024;
    // Anti-entropy sends more records only while the peer's queue is below this.
    std::size_t sync_low_water_bytes = 64 << 10;
    std::size_t sync_records_per_step = 64;
    // A differing bucket with at most this many records (on either side) is sent whole;
    // a bigger one is compared child by child.
    std::size_t leaf_records_max = 4;

    Duration heartbeat_interval = Duration::seconds(1);
    Duration silence_timeout = Duration::seconds(3);  // also bounds a handshake
    Duration backoff_initial = Duration::milliseconds(100);
    Duration backoff_max = Duration::seconds(5);
    Duration places_timeout = Duration::seconds(5);
    Duration client_idle_timeout = Duration::seconds(300);  // 0: never
};

struct NodeConfig {
    ServerName self;
    std::vector<ServerName> neighbours;  // the configured links of this server
    TieBreak tie_break = TieBreak::first;
    std::string secret;             // the herd secret; empty: peers are not authenticated
    std::uint64_t incarnation = 0;  // random, new at every start of the server
    std::uint64_t seed = 0;         // seeds the Node's PRNG (nonces, reconnect jitter)
    // Emit a RecordApplied action for every store change (the simulator's checker and traces
    // want them; a server without a trace need not pay for them).
    bool notify_applied = true;
    NodeLimits limits;
};

}  // namespace herd
