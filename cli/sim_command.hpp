// `herd sim SCENARIO [--seed N] [--trace F.jsonl] [--report F.json] [--html F.html]`
// (design §6).
#pragma once

#include <boost/program_options/variables_map.hpp>
#include <optional>
#include <string>

#include "core/error.hpp"
#include "sim/scenario.hpp"
#include "sim/simulator.hpp"

namespace herd::cli {

struct CommandLine;

// The scenario named by vm["scenario"], parsed with vm["seed"] if given (its warnings printed on
// stderr), or the Error (exit 2) when a flag is wrong or the file cannot be read, is malformed
// (the parser's `file:line: what`) or, under --strict, has warnings.
Result<sim::Scenario> load_scenario(const CommandLine& c,
                                    const boost::program_options::variables_map& vm);

// The Error (exit 2) when --trace, --report or --html names the scenario file, or a file that
// cannot be written (said before any work: it would be lost, or the run's outputs would).
std::optional<Error> overwrites_scenario(const boost::program_options::variables_map& vm);

// A file of the system's temporary folder for an HTML report's trace ("TOOL-XXXXXX.trace.jsonl",
// made by mkstemps), removed when this goes; path() is empty when `tool` is, or on failure.
class TempFile {
  public:
    explicit TempFile(const std::string& tool);
    ~TempFile();
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

// Writes the HTML report of a run (sim/html_report.hpp, made by `tool`) drawn from the trace at
// `trace_path`; the Error (exit 2) when it cannot.
// `simulated`: herd replay --compare's simulator run, drawn beside the real one.
std::optional<Error> write_html(const std::string& path, const std::string& scenario_file,
                                const sim::Scenario& sc, const sim::SimResult& r,
                                const std::string& trace_path, const std::string& tool,
                                const sim::SimResult* simulated = nullptr);

// Exit status: 0 every expectation holds, 1 one fails, 2 malformed scenario or bad arguments.
int run_sim(int argc, char** argv);

}  // namespace herd::cli
