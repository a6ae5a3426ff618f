// Scenario: a herd, settings and a timeline (design §6), as parsed from a scenario file.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/herd_file.hpp"
#include "core/node_config.hpp"
#include "core/record_store.hpp"
#include "core/time.hpp"
#include "history/check.hpp"
#include "sim/distribution.hpp"
#include "sim/glob.hpp"

namespace herd::sim {

// The ranges of a scenario's times (design §6): `at` times and workload lengths from 0 to one
// day; clock offsets within a year either way; distributions: distribution_duration_max.
inline constexpr Duration scenario_time_max = Duration::milliseconds(86'400'000);
inline constexpr Duration clock_offset_max = Duration::milliseconds(365 * std::int64_t{86'400'000});
// The latest `epoch`: a day of scenario time later, `{now}` is still a 10-digit client time.
inline constexpr std::int64_t epoch_seconds_max = 9'999'999'999 - 86'400;
// A server clock's rate error (`clock S drift ±Nppm`): a bad crystal drifts by 100 ppm; this
// allows ten times that.
inline constexpr std::int32_t clock_drift_ppm_max = 1000;

// Sizes: a scenario file, its lines, an `expect reply` glob.
inline constexpr std::size_t scenario_bytes_max = std::size_t{16} << 20;
inline constexpr std::size_t scenario_lines_max = 1'000'000;
inline constexpr std::size_t glob_bytes_max = 1024;

struct SendStep {
    int server;
    std::string line;  // verbatim; `{now}` is replaced when it is sent
};
struct PartitionStep {
    std::vector<std::vector<int>> groups;
};
struct CutStep {
    int a, b;
};
struct RestoreStep {
    int a, b;
};
struct HealStep {};
// The link drops every byte (both ways, or from `a` to `b` only) without closing: only
// heartbeats and deadlines can tell. Undone by `restore` or `heal`.
struct SilenceStep {
    int a, b;
    bool one_way;
};
// The server handles nothing for a while (messages and timers wait), then goes on with its state.
struct PauseStep {
    int server;
    Duration length;
};
// The server's clock steps by `by` (either way), as when NTP steps it or someone sets it.
struct ClockJumpStep {
    int server;
    Duration by;
};
struct CrashStep {
    int server;
};
struct RestartStep {
    int server;
};
// Workload clients are named prefix + number: "w0".."w999" by default (`prefix=NAME`).
inline constexpr std::size_t workload_prefix_bytes_max = 32;
struct WorkloadStep {
    std::uint64_t clients;
    std::uint64_t rate_per_s;
    Duration length;
    std::string prefix = "w";
    std::uint64_t reads_per_s = 0;
    bool sessions = false;
    bool sticky = false;  // sessions=sticky: each session stays at one server (its home)
};
struct ExpectConverged {};
struct ExpectHasAt {
    int server;
    std::string client;
    std::string latlon;
};
struct ExpectHasTime {
    int server;
    std::string client;
    Timestamp time;
    std::string time_text;
};
struct ExpectLacks {
    int server;
    std::string client;
};
// `expect sessions KIND at most N`: the clients' history so far (herd check's checker) holds at
// most N anomalies of KIND.
struct ExpectSessions {
    history::AnomalyKind kind;
    std::uint64_t max;
};
struct ExpectReply {
    int server;
    Glob glob;
};
// `expect visibility P% within D`: of the pairs (update, other server) that met no fault and
// whose outcome within D is known by now, at least P % saw the update (or a newer record of its
// client) within D of the write (t-visibility, sim/visibility.hpp).
struct ExpectVisibility {
    std::uint64_t per_100k;  // P in thousandths of a percent
    Duration within;
};

using StepAction = std::variant<SendStep, PartitionStep, CutStep, RestoreStep, HealStep, CrashStep,
                                RestartStep, WorkloadStep, ExpectConverged, ExpectHasAt,
                                ExpectHasTime, ExpectLacks, ExpectReply, SilenceStep, PauseStep,
                                ClockJumpStep, ExpectSessions, ExpectVisibility>;

struct Step {
    Instant at;
    int line;          // in the scenario file
    std::string text;  // the statement after `at T`, for reports
    StepAction action;
};

inline bool is_expectation(const StepAction& a) {
    return std::holds_alternative<ExpectConverged>(a) || std::holds_alternative<ExpectHasAt>(a) ||
           std::holds_alternative<ExpectHasTime>(a) || std::holds_alternative<ExpectLacks>(a) ||
           std::holds_alternative<ExpectReply>(a) || std::holds_alternative<ExpectSessions>(a) ||
           std::holds_alternative<ExpectVisibility>(a);
}

struct Scenario {
    std::string file;
    HerdSpec herd;
    std::string herd_description;  // "fall2017", "random 300 4", or "inline"
    std::uint64_t seed = 1;
    Timestamp epoch{1479413884, 0};
    Distribution latency = Distribution::constant(Duration::milliseconds(1));
    std::map<std::pair<int, int>, Distribution> link_latency;  // keys: (smaller, larger) index
    Distribution client_latency = Distribution::constant(Duration{0});
    Distribution places_latency = Distribution::constant(Duration{0});
    std::uint32_t places_fail_ppm = 0;  // failure probability, parts per million
    // Probability that a request is never answered (the server's Places timeout answers the
    // client), parts per million; drawn before `places fail`.
    std::uint32_t places_hang_ppm = 0;
    // How long a server waits for Places before answering the client with UNKNOWN_ERROR
    // (`places timeout D`; herd serve's --places-timeout-ms, whose default this is).
    Duration places_timeout = places_timeout_default;
    // What a server spends handling one message it receives (a client's connection and line, a
    // peer's message): one draw per message, and a server handles one at a time.
    Distribution processing = Distribution::constant(Duration{0});
    // The peers' deadlines (`peer heartbeat D`, `peer silence-timeout D`): nothing means the
    // Node's defaults (1 s and 3 s). A link handshake must fit in the silence timeout, so a
    // one-way latency of half of it or more never links.
    std::optional<Duration> heartbeat;
    std::optional<Duration> silence_timeout;
    // `peer flood-batch D`: floods to a peer wait up to D to go out in one write (0: at once).
    Duration flood_batch{};
    std::map<int, Duration> clock_offset;
    std::map<int, std::int32_t> clock_drift_ppm;  // parts per million, either way
    TieBreak tie_break = TieBreak::first;
    // The settings the file gives, each once ("places fail", "clock Welsh", "latency A B", ...).
    std::set<std::string> settings;
    std::vector<Step> steps;        // ordered by time, file order within one instant
    std::optional<Duration> until;  // `until T`: the run goes on to T after its last statement
    // What the file says that it may not mean ("file:line: warning: ..."), in line order: a
    // timeline line earlier than the one before it, a crash of a crashed server, a restart of a
    // live one. `herd sim --strict` makes them errors.
    std::vector<std::string> warnings;

    // When the run ends: its last statement, or `until` if later.
    Instant end() const {
        const Instant last = steps.empty() ? Instant{0} : steps.back().at;
        return until && until->ns > last.ns ? Instant{until->ns} : last;
    }

    const Distribution& latency_of(int a, int b) const {
        auto it = link_latency.find({std::min(a, b), std::max(a, b)});
        return it == link_latency.end() ? latency : it->second;
    }
};

// Parses a scenario. `seed_override` (from `herd sim --seed`) replaces the file's seed, also for
// the `herd random` preset.
// A malformed scenario gives an Error "file:line: what was expected".
Result<Scenario> parse_scenario(std::string_view text, std::string_view file_name,
                                std::optional<std::uint64_t> seed_override = {});

// The same, from a document already read (sim/scenario_doc.hpp): parse_scenario is
// parse_document then this.
struct ScenarioDoc;
Result<Scenario> build_scenario(const ScenarioDoc& doc,
                                std::optional<std::uint64_t> seed_override = {});

}  // namespace herd::sim
