#include "sim/checker.hpp"

#include "core/text.hpp"

namespace herd::sim {

namespace {

std::string shown(std::string_view bytes) {
    std::string out;
    append_json_escaped(out, bytes.substr(0, 300));
    if (bytes.size() > 300) out += "...";
    return out;
}

}  // namespace

Checker::Checker(const Scenario& scenario, SimResult& result, Trace& trace)
    : sc_(scenario), result_(result), trace_(trace) {
    const std::size_t n = sc_.herd.servers.size();
    last_applied_.resize(n);
    distances_.resize(n);
    for (std::size_t s = 0; s < n; ++s)
        server_numbers_.emplace(sc_.herd.servers[s].name.str(), static_cast<int>(s));
}

const std::string& Checker::name(int s) const {
    return sc_.herd.servers[static_cast<std::size_t>(s)].name.str();
}

int Checker::hops(int from, int to) {
    auto& d = distances_[static_cast<std::size_t>(from)];
    if (d.empty()) d = hop_distances(sc_.herd, from);
    return d[static_cast<std::size_t>(to)];
}

void Checker::restarted(int server) {
    last_applied_[static_cast<std::size_t>(server)].clear();
}

void Checker::applied(Instant now, int s, const RecordApplied& r) {
    SimStats& st = result_.stats;
    st.applies += 1;
    if (trace_.enabled())
        trace_.begin(now, "apply")
            .field("server", name(s))
            .field("record", r.at_line)
            .field("via", r.via)
            .end();
    // Invariant: a store never takes an older record.
    const std::size_t number =
        client_numbers_.try_emplace(r.client, client_numbers_.size()).first->second;
    auto& last = last_applied_[static_cast<std::size_t>(s)];
    if (number >= last.size()) last.resize(number + 1);
    if (last[number] && r.time < *last[number]) {
        result_.violations.push_back(
            {now, name(s) + " replaced a record of " + r.client + " by an older one"});
    }
    last[number] = r.time;
    if (r.via.empty()) {
        st.updates += 1;
        origin_time_.emplace(r.at_line, now);
        return;
    }
    // Invariant: no server holds a record no client sent.
    auto origin = origin_time_.find(r.at_line);
    if (origin == origin_time_.end()) {
        result_.violations.push_back(
            {now, name(s) + " holds a record no client sent: " + r.at_line});
        return;
    }
    result_.propagation_ns.push_back((now - origin->second).ns);
    auto from = server_numbers_.find(r.origin);
    if (from != server_numbers_.end())
        result_.propagation_by_hops[hops(from->second, s)].push_back((now - origin->second).ns);
}

// Empty when every live server holds the same record for every client; else the first
// difference.
std::string Checker::converged(const Observed& world) const {
    int reference = -1;
    std::vector<const Record*> ref;
    for (int s = 0; s < static_cast<int>(world.nodes.size()); ++s) {
        const Node* node = world.nodes[static_cast<std::size_t>(s)];
        if (node == nullptr) continue;
        std::vector<const Record*> mine = node->store().sorted();
        if (reference < 0) {
            reference = s;
            ref = std::move(mine);
            continue;
        }
        std::size_t i = 0, j = 0;
        while (i < ref.size() || j < mine.size()) {
            if (j == mine.size() || (i < ref.size() && ref[i]->client() < mine[j]->client())) {
                return name(s) + " lacks " + std::string(ref[i]->client()) + ", which " +
                       name(reference) + " has";
            }
            if (i == ref.size() || mine[j]->client() < ref[i]->client()) {
                return name(reference) + " lacks " + std::string(mine[j]->client()) + ", which " +
                       name(s) + " has";
            }
            if (ref[i]->at_line() != mine[j]->at_line()) {
                return name(reference) + " has \"" + std::string(ref[i]->at_line()) + "\" but " +
                       name(s) + " has \"" + std::string(mine[j]->at_line()) + "\"";
            }
            ++i;
            ++j;
        }
    }
    return {};
}

// The expectations about one server's store; nothing for the others.
std::optional<ExpectationResult> Checker::check_store(ExpectationResult r, const StepAction& a,
                                                      const Observed& world) const {
    const Node* node = nullptr;
    auto lookup = [&](int server, const std::string& client) -> const Record* {
        node = world.nodes[static_cast<std::size_t>(server)];
        if (node == nullptr) {
            r.found = name(server) + " is down (crashed)";
            return nullptr;
        }
        const Record* rec = node->store().find(client);
        if (rec == nullptr) r.found = "no record of " + client;
        return rec;
    };
    if (const auto* e = std::get_if<ExpectHasAt>(&a)) {
        const Record* rec = lookup(e->server, e->client);
        if (rec != nullptr && rec->latlon_text() != e->latlon)
            r.found = "at " + std::string(rec->latlon_text());
        r.pass = rec != nullptr && r.found.empty();
        return r;
    }
    if (const auto* e = std::get_if<ExpectHasTime>(&a)) {
        const Record* rec = lookup(e->server, e->client);
        if (rec != nullptr && rec->time() != e->time)
            r.found = "time " + std::string(rec->time_text());
        r.pass = rec != nullptr && r.found.empty();
        return r;
    }
    if (const auto* e = std::get_if<ExpectLacks>(&a)) {
        const Record* rec = lookup(e->server, e->client);
        if (node == nullptr) return r;
        r.found = rec == nullptr ? std::string() : "has \"" + std::string(rec->at_line()) + "\"";
        r.pass = rec == nullptr;
        return r;
    }
    return std::nullopt;
}

ExpectationResult Checker::check_reply(ExpectationResult r, const ExpectReply& e,
                                       const Observed& world) const {
    const int c = world.latest_send[static_cast<std::size_t>(e.server)];
    if (c < 0) {
        r.found = "no send to " + name(e.server) + " yet";
        return r;
    }
    const SimClient& client = world.clients[static_cast<std::size_t>(c)];
    if (client.refused)
        r.found = "the latest send to " + name(e.server) + " was refused (it was down)";
    else if (!client.complete)
        r.found = "no reply yet (so far: \"" + shown(client.received) + "\")";
    else if (!e.glob.matches(client.received))
        r.found = "\"" + shown(client.received) + "\"";
    else
        r.pass = true;
    return r;
}

ExpectationResult Checker::check(Instant now, const Step& step, const Observed& world) const {
    ExpectationResult r{step.line, now, step.text, false, {}};
    if (std::holds_alternative<ExpectConverged>(step.action)) {
        r.found = converged(world);
        r.pass = r.found.empty();
        return r;
    }
    if (const auto* e = std::get_if<ExpectReply>(&step.action)) return check_reply(r, *e, world);
    auto stored = check_store(r, step.action, world);
    return stored ? *stored : r;
}

}  // namespace herd::sim
