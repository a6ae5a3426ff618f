// A scenario file as a typed value (design §6): every line of the file, each a blank, a comment
// or one typed statement (with its trailing comment). parse_document is the one reader of
// scenario text; format_document writes the canonical text back (`herd fmt`); build_scenario
// (scenario_parser.cpp) turns a document into the Scenario the simulator runs. Tools that make
// or edit scenarios (the sweep's generator and shrinker) edit documents and format them.
//
// Round trip: parse_document(format_document(d)) == d for every document that parses, and a
// formatted file runs to the same trace as its original (a step's text is its statement's
// canonical text, whatever the spacing of the file). Values keep their spelling (`1500ms` stays
// `1500ms`, `1.5s` stays `1.5s`): the formatter changes space and layout, never what the file says.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.hpp"
#include "core/node_config.hpp"
#include "core/record_store.hpp"
#include "core/time.hpp"
#include "sim/distribution.hpp"

namespace herd::sim {

// A value and the text the file spells it with. Two spellings are equal when their texts are:
// the value is a function of the text.
template <class T>
T unspelled() {
    return T{};
}
template <>
inline Distribution unspelled<Distribution>() {
    return Distribution::constant(Duration{0});
}
template <class T>
struct Spelled {
    T value = unspelled<T>();
    std::string text;
    friend bool operator==(const Spelled& a, const Spelled& b) { return a.text == b.text; }
};

// Canonical spellings of values a tool makes: "150ms", "2s"; signed: "+30ms", "-2s".
Spelled<Duration> spell(Duration d);
Spelled<Duration> spell_signed(Duration d);

// ------------------------------------------------------------------ settings
struct SeedLine {
    std::uint64_t seed;
    friend bool operator==(const SeedLine&, const SeedLine&) = default;
};
// `herd fall2017`, `herd line N`, `herd ring N`, `herd grid RxC`, `herd random N D [seed S]`.
struct HerdPresetLine {
    enum class Shape { fall2017, line, ring, grid, random };
    Shape shape = Shape::fall2017;
    int servers = 0;  // line, ring, random
    int rows = 0, cols = 0;
    int degree = 0;
    std::optional<std::uint64_t> topology_seed;
    friend bool operator==(const HerdPresetLine&, const HerdPresetLine&) = default;
};
// `server`, `link`, `tls-*` lines: the herd file's own grammar (core/herd_file) reads them.
struct HerdFileLine {
    std::vector<std::string> fields;
    friend bool operator==(const HerdFileLine&, const HerdFileLine&) = default;
};
struct EpochLine {
    Spelled<Timestamp> epoch;
    friend bool operator==(const EpochLine&, const EpochLine&) = default;
};
// `latency DIST` (every link; a and b empty) or `latency A B DIST`.
struct LatencyLine {
    std::string a, b;
    Spelled<Distribution> dist;
    friend bool operator==(const LatencyLine&, const LatencyLine&) = default;
};
// `client latency DIST`, `places latency DIST`, `processing DIST`.
struct DistributionLine {
    enum class Which { client_latency, places_latency, processing };
    Which which;
    Spelled<Distribution> dist;
    friend bool operator==(const DistributionLine&, const DistributionLine&) = default;
};
// `places fail P` / `places hang P`: a probability in parts per million.
struct PlacesChanceLine {
    bool hang = false;
    Spelled<std::uint32_t> ppm;
    friend bool operator==(const PlacesChanceLine&, const PlacesChanceLine&) = default;
};
// `places timeout D`, `peer heartbeat D`, `peer silence-timeout D`, `peer flood-batch D`,
// `until T`: one duration each.
struct DurationSetting {
    enum class Which { places_timeout, heartbeat, silence_timeout, flood_batch, until };
    Which which;
    Spelled<Duration> value;
    friend bool operator==(const DurationSetting&, const DurationSetting&) = default;
};
// `clock S offset ±D` or `clock S drift ±Nppm`.
struct ClockLine {
    std::string server;
    bool drift = false;
    Spelled<Duration> offset;         // offset
    Spelled<std::int32_t> drift_ppm;  // drift
    friend bool operator==(const ClockLine&, const ClockLine&) = default;
};
struct TieBreakLine {
    TieBreak rule;
    friend bool operator==(const TieBreakLine&, const TieBreakLine&) = default;
};

// ------------------------------------------------------------------ the timeline (`at T ...`)
struct SendLine {
    std::string server;
    std::string line;  // verbatim to the end of the file's line: `#` is part of it
    friend bool operator==(const SendLine&, const SendLine&) = default;
};
// Groups of server names; a group `*` (alone) stands for every server named in no other group.
struct PartitionLine {
    std::vector<std::vector<std::string>> groups;
    friend bool operator==(const PartitionLine&, const PartitionLine&) = default;
};
struct HealLine {
    friend bool operator==(const HealLine&, const HealLine&) = default;
};
// `cut A B`, `restore A B`, `silence A B`, `silence A B oneway`.
struct LinkLine {
    enum class Kind { cut, restore, silence, silence_oneway };
    Kind kind;
    std::string a, b;
    friend bool operator==(const LinkLine&, const LinkLine&) = default;
};
// `crash S`, `restart S`, `pause S for D`, `clock S jump ±D`.
struct ServerLine {
    enum class Kind { crash, restart, pause, clock_jump };
    Kind kind;
    std::string server;
    Spelled<Duration> length;  // pause: how long; clock_jump: by how much (signed)
    friend bool operator==(const ServerLine&, const ServerLine&) = default;
};
// `workload clients=N rate=R/s for=D [prefix=NAME] [reads=R/s] [sessions=on|sticky]`.
struct WorkloadLine {
    std::uint64_t clients = 0;
    std::uint64_t rate_per_s = 0;
    Spelled<Duration> length;
    std::optional<std::string> prefix;
    std::uint64_t reads_per_s = 0;  // WHATSATs of known clients at random servers
    bool sessions = false;          // each client a session that moves between servers
    bool sticky = false;            // sessions=sticky: ... that stays at one server
    friend bool operator==(const WorkloadLine&, const WorkloadLine&) = default;
};
// `expect converged`, `expect S has C at LATLON`, `expect S has C time T`, `expect S lacks C`,
// `expect reply S "GLOB"`, `expect sessions KIND at most N`, `expect visibility P% within D`.
struct ExpectLine {
    enum class Kind { converged, has_at, has_time, lacks, reply, sessions, visibility };
    Kind kind;
    std::string server, client;
    std::string value;        // has_at: the coordinate; has_time: the client time; reply: the glob;
                              // sessions: the anomaly kind; visibility: P (as written, no `%`)
    std::uint64_t count = 0;  // sessions: at most this many; visibility: P in units of 0.001 %
    Spelled<Duration> within{};  // visibility: D
    friend bool operator==(const ExpectLine&, const ExpectLine&) = default;
};
using TimelineStatement =
    std::variant<SendLine, PartitionLine, HealLine, LinkLine, ServerLine, WorkloadLine, ExpectLine>;
struct AtLine {
    Spelled<Duration> at;
    TimelineStatement what;
    friend bool operator==(const AtLine&, const AtLine&) = default;
};

using Statement = std::variant<std::monostate, SeedLine, HerdPresetLine, HerdFileLine, EpochLine,
                               LatencyLine, DistributionLine, PlacesChanceLine, DurationSetting,
                               ClockLine, TieBreakLine, AtLine>;

// One line of the file: a statement (monostate: none) and its comment ("# ..." or empty).
struct DocLine {
    int number = 0;  // in the file it was read from (0: made by a tool)
    Statement statement;
    std::string comment;
    // A tool's identity for lines that go together (herd sweep's: a fault and the statement
    // that undoes it; a client's sends and the expectation their outcome makes right): they
    // share one nonzero value. Neither written nor compared.
    int unit = 0;
    friend bool operator==(const DocLine& a, const DocLine& b) {
        return a.statement == b.statement && a.comment == b.comment;  // not where it was
    }
};

struct ScenarioDoc {
    std::string file;
    std::vector<DocLine> lines;
    friend bool operator==(const ScenarioDoc& a, const ScenarioDoc& b) {
        return a.lines == b.lines;
    }
};

// Reads a scenario file's lines; a malformed one gives an Error "file:line: what was expected".
// What needs the herd (server names, links, settings given twice) is build_scenario's.
Result<ScenarioDoc> parse_document(std::string_view text, std::string_view file_name);

// The canonical text: one line per DocLine, fields one space apart, `at T` with T left-aligned
// in six columns so the statements of a timeline line up, a trailing comment two spaces after
// its statement, comment lines as written (without indentation or trailing space).
std::string format_document(const ScenarioDoc& doc);
std::string format_statement(const Statement& s);         // one line, without a comment
std::string format_timeline(const TimelineStatement& s);  // the statement after `at T`

// The time of a timeline line; nothing for other lines.
inline const AtLine* timeline_of(const DocLine& l) {
    return std::get_if<AtLine>(&l.statement);
}

// The document's lines with its timeline lines in time order (ties in file order: the order the
// simulator runs them), each other line where it was.
void sort_timeline(ScenarioDoc& doc);

}  // namespace herd::sim
