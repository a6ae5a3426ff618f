// Simulator: runs a Scenario's herd of core Nodes, unchanged, in one process and virtual time.
//
// Links have the scenario's latencies and are reliable and FIFO while connected; partitions,
// cuts and crashes close connections at both ends at once and drop what is in flight; each
// server's wall clock is epoch + simulated time + its offset. Everything random comes from
// seeded PRNGs of our own, so one scenario and seed always give the same run, byte for byte.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "history/check.hpp"
#include "sim/samples.hpp"
#include "sim/scenario.hpp"

namespace herd::sim {

// What a failing expectation found instead, as a kind: what tools compare (a sweep's "fails the
// same way"), while `found` says it in words, with names and values, for people.
enum class Found {
    nothing,           // it held
    no_send_yet,       // expect reply: no send to that server yet
    send_refused,      // expect reply: the latest send was refused (the server was down)
    no_reply_yet,      // expect reply: the reply is not whole yet
    other_reply,       // expect reply: another reply
    server_down,       // the server named is down
    no_record,         // no record of the client
    other_position,    // expect has ... at: another position
    other_time,        // expect has ... time: another time
    a_record,          // expect lacks: a record
    stores_differ,     // expect converged: two servers hold different records for a client
    server_lacks,      // expect converged: a server lacks a record another has
    store_unreadable,  // herd replay: a server's store could not be read
    anomalies,         // expect sessions: more anomalies of the kind than allowed
    no_history,        // expect sessions: this world records no client history (yet)
    too_slow,          // expect visibility: fewer pairs than P % saw the update within D
    no_updates,        // expect visibility: no pair's outcome within D is known yet
};
// A short, stable name of a kind (what a sweep's summary and signatures print).
const char* found_name(Found f);

struct ExpectationResult {
    int line = 0;
    Instant at;
    std::string text;  // the statement
    bool pass = false;
    std::string found;  // on FAIL: what was found instead, in words
    Found found_kind = Found::nothing;
    std::string client;  // `has` and `lacks`: the client the statement names
    // Real world only (herd replay): how long after its time a look found it holding; 0 when
    // it held at its time (always, in the simulator).
    Duration late{0};
};

// Which invariant a run broke (checker.hpp).
enum class Broken {
    older_record,    // a store took an older record than the one it held
    skew_not_clock,  // a record's skew is not its server's clock at acceptance
    forged_record,   // a server holds a record no client sent
    server_stopped,  // herd replay: a real server stopped on a failed assertion
};
const char* broken_name(Broken b);

struct Violation {
    Instant at;
    std::string what;  // in words, with names
    Broken kind = Broken::forged_record;
};

struct SimStats {
    std::uint64_t events = 0;
    std::uint64_t deliveries = 0;     // peer messages delivered
    std::uint64_t peer_messages = 0;  // peer messages sent
    std::uint64_t peer_lines = 0;     // lines in them
    std::uint64_t peer_at_lines = 0;  // records among those lines (floods and anti-entropy)
    std::uint64_t peer_bytes = 0;
    std::uint64_t updates = 0;        // records applied at their origin (IAMATs that won)
    std::uint64_t applies = 0;        // records applied anywhere
    std::uint64_t sends = 0;          // `send` statements carried out
    std::uint64_t sends_refused = 0;  // ... to a crashed server
    std::uint64_t workload_iamats = 0;
    std::uint64_t workload_refused = 0;  // no live server to send to
    std::uint64_t workload_reads = 0;    // WHATSATs of `reads=`
    std::uint64_t workload_skipped = 0;  // a session's operation while its last one was pending,
                                         // or a read before any client was known
    std::uint64_t places_queries = 0;
    std::uint64_t places_failures = 0;  // injected by `places fail`
    std::uint64_t places_hung = 0;      // never answered (`places hang`)
    // Records applied after every server had held them or newer (a restarted server taking an
    // old message): their origin is forgotten by then, so they are not checked (sim/checker.hpp).
    std::uint64_t stale_unchecked = 0;
    // The most updates the checker kept at once (an update is kept while some server has not
    // held it or newer, or some server holds it): bounded by the stores, not by the run.
    std::uint64_t updates_tracked_max = 0;
    std::uint64_t dials = 0;
    std::uint64_t dials_failed = 0;
    std::uint64_t links_up = 0;
    std::uint64_t links_down = 0;
    std::uint64_t silenced_messages = 0;  // lost on silent links
};

struct SimResult {
    std::vector<ExpectationResult> expectations;
    std::vector<Violation> violations;
    // Origin accept -> applied at another server, for updates that met no fault on the way (no
    // partition, cut, silence, crash or pause in force anywhere between the two).
    // Bounded whatever the run's length (sim/samples.hpp); sealed at the end of the run.
    Samples propagation_ns;
    // The same for the others: recovery after a fault, reported apart (not by hops).
    Samples propagation_fault_ns;
    std::map<int, Samples> propagation_by_hops;  // the same, by hop distance
    // t-visibility (sim/visibility.hpp): each pair of an update and another server, how long
    // from the write until a read there would return it or newer, by hop distance from the
    // origin, for pairs no fault was in force during; INT64_MAX for a pair the run ended on.
    // Sealed at the end of the run.
    std::map<int, Samples> visibility_by_hops;
    Samples visibility_fault_ns;  // the others: a fault in force meanwhile
    // The clients' anomalies with their witnesses (herd check's, the first few of each kind),
    // when the run checked its history (`expect sessions`); for the HTML report's timeline.
    std::vector<history::Anomaly> anomalies;
    SimStats stats;
    Instant end;
    std::uint64_t trace_hash = 0;
    bool traced = false;

    bool passed() const;
};

struct SimOptions {
    std::ostream* trace = nullptr;    // JSON lines, when wanted
    std::ostream* history = nullptr;  // the clients' history (design §11), when wanted
    bool hash_trace = false;          // compute the trace hash even without a trace stream
    // Called now and then (every few thousand events) so a driver can show progress.
    std::function<void(Instant now, const SimStats&)> progress;
};

class Simulator {
  public:
    Simulator(const Scenario& scenario, SimOptions options);
    ~Simulator();
    Simulator(const Simulator&) = delete;
    Simulator& operator=(const Simulator&) = delete;

    SimResult run();

  private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace herd::sim
