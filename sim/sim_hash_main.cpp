// herd_sim_hash SCENARIO [SEED]: replays a scenario and prints its trace hash and verdict.
// Built without Boost or GoogleTest so that it also builds against libc++: the determinism check
// compares this hash between the libstdc++ and the libc++ builds.
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/peer_protocol.hpp"
#include "sim/simulator.hpp"

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::cerr << "usage: herd_sim_hash SCENARIO [SEED]\n";
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
        std::cerr << "herd_sim_hash: cannot read " << argv[1] << "\n";
        return 2;
    }
    std::stringstream text;
    text << in.rdbuf();
    std::optional<std::uint64_t> seed;
    if (argc == 3) seed = std::stoull(argv[2]);
    auto parsed = herd::sim::parse_scenario(text.str(), argv[1], seed);
    if (auto* e = std::get_if<herd::Error>(&parsed)) {
        std::cerr << e->message << "\n";
        return 2;
    }
    const auto& scenario = std::get<herd::sim::Scenario>(parsed);
    herd::sim::SimOptions options;
    options.hash_trace = true;
    herd::sim::Simulator sim(scenario, options);
    const herd::sim::SimResult result = sim.run();
    std::cout << herd::hex64(result.trace_hash) << " " << (result.passed() ? "PASS" : "FAIL") << " "
              << result.stats.events << " events\n";
    return result.passed() ? 0 : 1;
}
