// Clients of a replay: the scenario's `send` statements and workloads as real TCP clients, on
// the RealHerd's io thread.
//
// A send is one connection that writes its line, ends its output and reads until the server
// closes: the reply is then complete (as in the simulator). A workload keeps one connection per
// server and writes its IAMATs at their instants (rate and count as in the scenario), each to a
// random live server, clients and positions drawn as the simulator draws them; replies are read
// and dropped. A workload connection that breaks (its server crashed) is opened again for the
// next line to that server.
//
// With a HistoryRecorder, every request is an operation of the clients' history (design §11):
// invoked when it is handed to the socket, completed when its reply line is read (a send's when
// the server closes), times on the run's steady clock from t0 (scenario time).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "core/prng.hpp"
#include "replay/real_herd.hpp"
#include "sim/checker.hpp"
#include "sim/history_recorder.hpp"

namespace herd::replay {

class Clients {
  public:
    using Clock = std::chrono::steady_clock;
    // `wall_at` gives the scenario's wall clock (epoch + elapsed scenario time) at an instant.
    Clients(RealHerd& herd, const sim::Scenario& scenario, Clock::time_point t0,
            sim::HistoryRecorder* history = nullptr);
    ~Clients();

    // A `send` statement due at `at`: `line` with {now} filled in with the scenario's wall clock
    // at `at` (the client's clock reads the statement's time, as in the simulator), to server
    // `s` (the caller checked it is up).
    void send(int s, const std::string& line, Instant at);
    // A send to a server that is down: refused, as in the simulator.
    void refuse(int s);
    // A workload statement, from now on.
    void start_workload(const sim::WorkloadStep& step, Instant at);
    // Whether server `s` takes workload lines (the caller keeps this in step with crashes).
    void set_live(int s, bool live);
    // Workload lines due before `t` may go: the statements up to them have run.
    void release_before(Instant t);

    // What the sends read so far (a copy), and per server the latest send.
    std::vector<sim::SimClient> clients() const;
    std::vector<int> latest_send() const;
    std::uint64_t workload_iamats() const { return workload_iamats_; }
    std::uint64_t workload_refused() const { return workload_refused_; }
    // The scenario's wall clock at a scenario instant.
    Timestamp wall_at(Instant at) const { return sc_.epoch + Duration{at.ns}; }

  private:
    struct SendConn;
    struct WorkConn;
    struct Workload;
    void read_reply(const std::shared_ptr<SendConn>& c);
    void tick(const std::shared_ptr<Workload>& w);
    void write_work(int s, std::string line);
    void flush_work(const std::shared_ptr<WorkConn>& c);
    void drain_work(const std::shared_ptr<WorkConn>& c);
    // The history's calls, under history_mutex_, at the run's time now.
    void invoked(int id, int server, std::string_view bytes);
    void replied(int id, std::string_view bytes, bool complete);
    Instant elapsed() const;  // the run's time now: steady clock since t0

    RealHerd& herd_;
    const sim::Scenario& sc_;
    Clock::time_point t0_;
    mutable std::mutex mutex_;  // clients_ and latest_send_
    std::vector<sim::SimClient> clients_;
    std::vector<int> latest_send_;
    std::vector<std::atomic<bool>> live_;
    std::vector<std::shared_ptr<WorkConn>> work_;  // io thread only
    std::vector<std::shared_ptr<Workload>> workloads_;
    Prng workload_prng_;  // as the simulator's: the same clients and positions
    std::atomic<std::uint64_t> workload_iamats_{0};
    std::atomic<std::uint64_t> workload_refused_{0};
    std::atomic<std::int64_t> released_before_ns_{0};
    std::shared_ptr<bool> alive_;  // false once destroyed: late handlers do nothing
    sim::HistoryRecorder* history_;
    std::mutex history_mutex_;
    int next_work_id_ = 1 << 30;  // workload requests' ids in the history (sends: their index)
};

}  // namespace herd::replay
