// `herd demo`: a short session through the core alone (no network): a client's bytes are framed,
// answered, stored, and a WHATSAT is answered from the offline Places generator.
#pragma once

#include <ostream>

namespace herd::cli {

int run_demo(std::ostream& out);

}  // namespace herd::cli
