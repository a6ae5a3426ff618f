// Command-line parsing shared by every `herd` command: the options, the usage on a bad
// argument (exit 2) and the help text (exit 0), the same way everywhere.
#pragma once

#include <boost/program_options.hpp>
#include <charconv>
#include <cmath>
#include <iostream>
#include <optional>
#include <string>

namespace herd::cli {

namespace po = boost::program_options;

struct CommandLine {
    const char* command;      // "herd serve"
    const char* usage;        // "usage: herd serve NAME [...]\n"
    const char* description;  // shown by --help
    const po::options_description& visible;
    const po::options_description* hidden = nullptr;  // positionals
    const po::positional_options_description* positional = nullptr;
};

// Parses argv into `vm`. Returns an exit status when the command should stop here: 0 after
// --help, 2 after printing what was wrong and the usage.
inline std::optional<int> parse_command_line(const CommandLine& c, int argc, char** argv,
                                             po::variables_map& vm) {
    po::options_description all;
    all.add(c.visible);
    if (c.hidden != nullptr) all.add(*c.hidden);
    try {
        auto parser = po::command_line_parser(argc, argv).options(all);
        if (c.positional != nullptr) parser.positional(*c.positional);
        po::store(parser.run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << c.command << ": " << e.what() << "\n" << c.usage << c.visible;
        return 2;
    }
    if (vm.count("help")) {
        std::cout << c.usage << "\n" << c.description << "\n\n" << c.visible;
        return 0;
    }
    return std::nullopt;
}

// A numeric flag given as text: a decimal number (`integer`: digits only) in [0, max], so that
// "-1" or "1e9" are refused instead of wrapping around. Prints the problem and the usage and
// returns nothing when the text is not one.
inline std::optional<double> number_flag(const CommandLine& c, const po::variables_map& vm,
                                         const char* name, double max, bool integer) {
    const std::string text = vm[name].as<std::string>();
    double value = -1;
    const char* first = text.data();
    const char* last = first + text.size();
    bool ok = !text.empty() &&
              text.find_first_not_of(integer ? "0123456789" : "0123456789.") == std::string::npos;
    if (ok) {
        const auto [end, ec] = std::from_chars(first, last, value);
        ok = ec == std::errc() && end == last && std::isfinite(value) && value >= 0 && value <= max;
    }
    if (!ok) {
        std::cerr << c.command << ": --" << name << " takes " << (integer ? "a whole" : "a")
                  << " number from 0 to " << max << ", not '" << text << "'\n"
                  << c.usage;
        return std::nullopt;
    }
    return value;
}

}  // namespace herd::cli
