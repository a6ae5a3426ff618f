// The network commands of `herd` (design §7): serve, up, client, places-stub.
#pragma once

namespace herd::cli {

int run_serve(int argc, char** argv);
int run_up(int argc, char** argv);
int run_client(int argc, char** argv);
int run_places_stub(int argc, char** argv);
int run_bench(int argc, char** argv);
int run_proxy(int argc, char** argv);
int run_replay(int argc, char** argv);
int run_sweep(int argc, char** argv);
int run_data(int argc, char** argv);
int run_fmt(int argc, char** argv);
int run_log(int argc, char** argv);
int run_check(int argc, char** argv);

}  // namespace herd::cli
