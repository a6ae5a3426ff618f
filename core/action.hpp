// What a Node asks its driver to do. The driver drains them with Node::poll_action() (or the
// drain() helper) after every handle_* call, in order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include "core/client_service.hpp"
#include "core/time.hpp"
#include "core/types.hpp"

namespace herd {

// Chosen by the driver for every connection it reports (accepted or dialed); never reused.
using ConnectionId = std::uint64_t;
// Chosen by the Node for every Places query.
using QueryId = std::uint64_t;

// Bytes for a client connection: whole replies, in request order.
struct Reply {
    ConnectionId conn;
    std::string bytes;
    // An IAMAT's AT line: a driver with durable storage may hold it until what it acknowledges
    // is kept (and then whatever follows on the connection waits behind it).
    bool acknowledges = false;
};

// Immutable bytes shared between actions: a flooded line goes to every neighbour without a copy
// for each.
using SharedBytes = std::shared_ptr<const std::string>;

// Bytes for a peer connection: one or more whole protocol lines.
struct SendToPeer {
    ConnectionId conn;
    SharedBytes bytes;
};

// Open a connection to a neighbour; answer with handle_dialed() or handle_dial_failed().
struct Dial {
    ServerName peer;
};

// Ask the Places provider; answer with handle_places_reply() (the Node also gives up by itself
// after its places timeout, so a reply may arrive after the Node stopped waiting: it is ignored).
struct QueryPlaces {
    QueryId id;
    PlacesQuery query;
};

enum class CloseMode {
    after_flush,  // send what was already handed over, then close
    now,          // drop anything unsent
};

// Close a connection. The Node has already forgotten it: report nothing more about it.
struct Close {
    ConnectionId conn;
    CloseMode mode;
    std::string reason;  // for the log: "idle", "line timeout", "output cap", ...
};

// Flow control: stop reading from a client whose output is past its high-water mark, until
// ResumeReading. Bytes the driver already had in hand may still be passed on; the Node keeps
// them (bounded by what one read returns) and takes their lines once output drains.
struct PauseReading {
    ConnectionId conn;
};

struct ResumeReading {
    ConnectionId conn;
};

// Notifications, for logs, traces and the simulator's checker; drivers may ignore them.
struct RecordApplied {
    std::string at_line;  // the record that changed the store
    std::string via;      // the peer it came from, or empty when a client sent it here
    std::string origin;   // its fields, so that drivers need not parse the line again
    std::string client;
    Timestamp time;
    std::uint64_t line_hash = 0;  // content_hash_of(at_line), which the Node has already
};

struct PeerUp {
    ConnectionId conn;
    ServerName peer;
};

struct PeerDown {
    ConnectionId conn;
    ServerName peer;
    std::string reason;
};

// An established peer sent a line that could not be processed; it was skipped and the link
// stays up. Reported for the 1st, 2nd, 4th, 8th, ... such line of a link, so a log shows it
// without being flooded by it.
struct PeerLineRejected {
    ConnectionId conn;
    ServerName peer;
    std::string reason;
    std::uint64_t count;  // rejected lines on this link so far
};

using Action = std::variant<Reply, SendToPeer, Dial, QueryPlaces, Close, RecordApplied, PeerUp,
                            PeerDown, PeerLineRejected, PauseReading, ResumeReading>;

}  // namespace herd
