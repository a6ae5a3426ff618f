// `herd check HISTORY.jsonl`: a client history (design §11) checked for session anomalies, with
// their witnesses, and a summary of stale reads (history/check.hpp). Exit 0 clean, 1 anomalies,
// 2 a malformed history (`file:line:`) or a bad flag.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/net_commands.hpp"
#include "cli/options.hpp"
#include "history/check.hpp"

namespace herd::cli {

namespace {

constexpr const char* usage = "usage: herd check [--settle D] [--show N] HISTORY.jsonl\n";

}  // namespace

int run_check(int argc, char** argv) {
    po::options_description visible("options");
    visible.add_options()("help,h", "show this help")(
        "settle", po::value<std::string>()->default_value("1s"),
        "lost-write: a server's reads this long after an acknowledgement must show it")(
        "show", po::value<std::string>()->default_value("20"),
        "anomalies printed with their witnesses, of each kind (all are counted)");
    po::options_description hidden;
    hidden.add_options()("file", po::value<std::string>());
    po::positional_options_description positional;
    positional.add("file", 1);
    const CommandLine c{
        "herd check",
        usage,
        "Checks a client history (JSON lines: process, server, op, client, line, reply,\n"
        "invoke_ns, complete_ns) from any herd that speaks the CS 131 protocol, per session:\n"
        "monotonic-reads, read-your-writes, lost-write, impossible-read, each with its\n"
        "witness; then how many reads were stale and by how much. Exit 0 clean, 1 anomalies,\n"
        "2 malformed.",
        visible,
        &hidden,
        &positional};
    po::variables_map vm;
    if (auto status = parse_command_line(c, argc, argv, vm)) return *status;
    if (!vm.count("file")) return report(c, usage_error(c, "expected a HISTORY file"));
    history::CheckOptions o;
    const std::string settle_text = vm["settle"].as<std::string>();
    const auto settle =
        settle_text == "0" ? std::optional<Duration>(Duration{0}) : parse_duration(settle_text);
    if (!settle || settle->ns < 0 || settle->ns > history::time_ns_max)
        return report(c, usage_error(c,
                                     "--settle takes a duration from 0 to 146 years (1s, "
                                     "250ms), got '" +
                                         settle_text + "'"));
    o.settle_ns = settle->ns;
    std::uint64_t show = 0;
    if (auto bad = take(whole_flag(c, vm, "show", 0, 1'000'000), show)) return report(c, *bad);
    o.anomalies_shown_max = static_cast<std::size_t>(show);
    const std::string file = vm["file"].as<std::string>();
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec))
        return report(c, Error{"cannot read " + file + ": a folder", 2});
    std::ifstream in(file, std::ios::binary);
    if (!in) return report(c, Error{"cannot read " + file + ": " + std::strerror(errno), 2});
    auto checked = history::check_history(in, file, o);
    if (const Error* e = error_of(checked)) return report(c, *e);
    const history::CheckResult& r = std::get<history::CheckResult>(checked);
    std::cout << history::format_check(r, file);
    return r.anomaly_total() > 0 ? 1 : 0;
}

}  // namespace herd::cli
