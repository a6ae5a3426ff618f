// Command-line parsing shared by every `herd` command: the options, the usage on a bad
// argument (exit 2) and the help text (exit 0), the same way everywhere.
#pragma once

#include <boost/program_options.hpp>
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

}  // namespace herd::cli
