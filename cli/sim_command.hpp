// `herd sim SCENARIO [--seed N] [--trace F.jsonl] [--report F.json]` (design §6).
#pragma once

namespace herd::cli {

// Exit status: 0 every expectation holds, 1 one fails, 2 malformed scenario or bad arguments.
int run_sim(int argc, char** argv);

}  // namespace herd::cli
