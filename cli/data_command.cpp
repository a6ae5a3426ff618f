// `herd data check DIR` and `herd data repair DIR`: look into a server's data folder, and salvage
// one whose start refused (netmode/data_tool.hpp says what each does).
#include <iostream>
#include <string>

#include "cli/net_commands.hpp"
#include "cli/options.hpp"
#include "netmode/data_tool.hpp"

namespace herd::cli {

namespace {

constexpr const char* usage =
    "usage: herd data check DIR\n"
    "       herd data repair DIR\n";

constexpr const char* help =
    "\n"
    "check   reads every file of the data folder DIR (a server's --data-dir) and says what a\n"
    "        start would make of it: intact records, damaged stretches with their offsets, a\n"
    "        torn tail a start would cut. Changes nothing. Exit 0 when sound, 1 when anything\n"
    "        is damaged or torn, 2 when the folder cannot be read.\n"
    "repair  for each damaged file, keeps every entry whose checksum holds (skipping damaged\n"
    "        stretches by resynchronising on entry boundaries), sets the original aside as\n"
    "        FILE.damaged-<unix seconds> and puts the repaired file in its place; prints what\n"
    "        was kept and lost. Refuses while a server holds the folder. A server in a herd\n"
    "        gets what was lost back from its neighbours by anti-entropy once it starts.\n";

}  // namespace

int run_data(int argc, char** argv) {
    const std::string first = argc >= 2 ? argv[1] : "";
    if (first == "--help" || first == "-h" || (argc == 3 && std::string(argv[2]) == "--help")) {
        std::cout << usage << help;
        return 0;
    }
    if (argc != 3 || (first != "check" && first != "repair"))
        return report("herd data", usage_error(usage, "expected `check DIR` or `repair DIR`"));
    const std::string dir = argv[2];
    if (first == "check") {
        auto check = net::check_data_folder(dir, net::posix_fs());
        if (const Error* e = error_of(check)) return report("herd data check", with_status(*e, 2));
        const net::DataCheck& c = std::get<net::DataCheck>(check);
        std::cout << net::format_data_check(c);
        return c.clean() ? 0 : 1;
    }
    auto repaired = net::repair_data_folder(dir, net::posix_fs());
    if (const Error* e = error_of(repaired)) return report("herd data repair", *e);
    const net::DataRepair& r = std::get<net::DataRepair>(repaired);
    for (const std::string& line : r.lines)
        std::cout << dir << "/" << line << "\n";
    if (r.changed)
        std::cout << "repaired: " << r.kept << " records kept, " << r.lost_bytes
                  << " damaged bytes left in the set-aside files\n";
    return 0;
}

}  // namespace herd::cli
