// Micro-benchmarks of the core's hot paths: line parsing and AT formatting, store apply (and
// client IDs aimed at one bucket), a
// node's handling of a flooded record, and WHATSAT JSON assembly.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "core/client_protocol.hpp"
#include "core/node.hpp"
#include "core/record_store.hpp"
#include "core/synthetic_places.hpp"
#include "core/whatsat_reply.hpp"

namespace {

using namespace herd;

void BM_ParseIamat(benchmark::State& state) {
    const std::string line = "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450";
    for (auto _ : state)
        benchmark::DoNotOptimize(parse_client_line(line));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseIamat);

void BM_FormatAtLine(benchmark::State& state) {
    const auto request = std::get<IamatRequest>(
        parse_client_line("IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450"));
    const ServerName alford = *ServerName::parse("Alford");
    for (auto _ : state)
        benchmark::DoNotOptimize(format_at_line(alford, Timestamp{1479413884, 656887836}, request));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FormatAtLine);

std::vector<std::string> at_lines(int clients, int updates) {
    std::vector<std::string> lines;
    for (int u = 0; u < updates; ++u) {
        for (int c = 0; c < clients; ++c) {
            lines.push_back("AT Alford +0.263873386 client" + std::to_string(c) +
                            " +34.068930-118.445127 " + std::to_string(1479413884 + u) +
                            ".392014450");
        }
    }
    return lines;
}

// Applying peers' lines to a store of `range(0)` clients: mostly new records (each line is a
// later time than the last for its client).
void BM_StoreApply(benchmark::State& state) {
    const auto lines = at_lines(static_cast<int>(state.range(0)), 4);
    std::size_t i = 0;
    RecordStore store;
    for (auto _ : state) {
        if (i == lines.size()) {
            state.PauseTiming();
            store = RecordStore();
            i = 0;
            state.ResumeTiming();
        }
        benchmark::DoNotOptimize(store.apply(*AtLineView::parse(lines[i++])));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreApply)->Arg(1000)->Arg(100000);

// Hash flooding: storing and finding 100 000 client IDs, ordinary ones (range(0) == 0) or IDs
// whose hash under the store's key shares its top range(0) bits, the key being known (a herd
// with neither secret nor certificates takes it from its herd file). The attack of issue 23 aimed
// 8 bits. Compare items_per_second across the rows: the target is within 2x.
std::vector<std::string> client_ids(int aimed_bits, std::size_t count, HashKey key) {
    std::vector<std::string> ids;
    for (std::uint64_t n = 0; ids.size() < count; ++n) {
        std::string id = "kiwi" + std::to_string(n) + ".cs.ucla.edu";
        if (aimed_bits == 0 || client_key_hash(id, key) >> (64 - aimed_bits) == 0)
            ids.push_back(std::move(id));
    }
    return ids;
}

void BM_StoreAimedClientIds(benchmark::State& state) {
    const HashKey key{0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL};
    const std::size_t count =
        state.range(1) == 0 ? 100000 : static_cast<std::size_t>(state.range(1));
    std::vector<std::string> lines;
    for (const std::string& id : client_ids(static_cast<int>(state.range(0)), count, key))
        lines.push_back("AT Alford +0.263873386 " + id + " +34.068930-118.445127 1479413884.3");
    for (auto _ : state) {
        RecordStore store(TieBreak::first, key);
        for (const std::string& line : lines)
            store.apply(*AtLineView::parse(line));
        for (const std::string& line : lines)
            benchmark::DoNotOptimize(store.find(AtLineView::parse(line)->client));
        state.counters["probes_per_id"] =
            static_cast<double>(store.probes()) / static_cast<double>(lines.size());
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(lines.size()));
}
BENCHMARK(BM_StoreAimedClientIds)
    ->Args({0, 0})
    ->Args({8, 0})
    ->Args({0, 20000})
    ->Args({12, 20000})
    ->Unit(benchmark::kMillisecond);

// A node with two linked neighbours receiving flooded lines: every update arrives from both,
// so half the lines are new (applied and forwarded to the other neighbour) and half are
// duplicates (recognised and dropped). Lines are built as they go (about 30 ns of the time).
void BM_NodeFloodHandling(benchmark::State& state) {
    NodeConfig config;
    config.self = *ServerName::parse("Hamilton");
    config.neighbours = {*ServerName::parse("Alford"), *ServerName::parse("Holiday")};
    config.notify_applied = false;
    Now now{Instant{0}, Timestamp{1479413884, 0}};
    Node node(config, now);
    ConnectionId id = 1;
    for (const char* peer : {"Alford", "Holiday"}) {
        node.handle_accepted(id, now);
        node.handle_bytes(
            id,
            std::string("HELLO herd/1 ") + peer + " Hamilton 0000000000000001 0000000000000002\n",
            now);
        node.handle_bytes(id, "AUTH -\n", now);
        ++id;
    }
    while (node.poll_action()) {
    }
    std::string line;
    std::uint64_t update = 0;
    std::uint64_t forwarded = 0;
    for (auto _ : state) {
        if ((update & 1) == 0) {
            const std::uint64_t n = update / 2;
            line = "AT Alford +0.263873386 client";
            line += std::to_string(n % 10000);
            line += " +34.068930-118.445127 ";
            line += std::to_string(1479413884 + n / 10000);
            line += ".392014450\n";
        }
        node.handle_bytes(1 + (update & 1), line, now);
        while (auto a = node.poll_action()) {
            if (auto* s = std::get_if<SendToPeer>(&*a)) {
                node.handle_sent(s->conn, s->bytes->size(), now);
                ++forwarded;
            }
        }
        ++update;
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["forwarded_share"] =
        static_cast<double>(forwarded) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_NodeFloodHandling);

void BM_WhatsatReply(benchmark::State& state) {
    const std::string body =
        synthetic_places_json(34'068'930'000, -118'445'127'000, *RadiusKm::parse("10"), 20);
    const std::string at =
        "AT Alford +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450";
    for (auto _ : state)
        benchmark::DoNotOptimize(
            format_whatsat_reply(at, body, static_cast<unsigned>(state.range(0))));
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_WhatsatReply)->Arg(5)->Arg(20);

void BM_SyntheticPlaces(benchmark::State& state) {
    for (auto _ : state)
        benchmark::DoNotOptimize(
            synthetic_places_json(34'068'930'000, -118'445'127'000, *RadiusKm::parse("10"), 20));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SyntheticPlaces);

}  // namespace

BENCHMARK_MAIN();
