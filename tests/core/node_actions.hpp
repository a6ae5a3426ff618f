// Helpers for tests that drive real Nodes with literal times: the instant `ms` milliseconds
// after the Fall 2017 epoch, every pending action, the actions of one kind, the reply bytes.
#pragma once

#include <string>
#include <vector>

#include "core/node.hpp"

namespace herd::test {

inline constexpr std::int64_t epoch_s = 1479413884;

inline Now at_ms(std::int64_t ms) {
    return Now{Instant{ms * 1'000'000},
               Timestamp{epoch_s + ms / 1000, static_cast<std::int32_t>(ms % 1000) * 1'000'000}};
}

inline std::vector<Action> drain_all(Node& node) {
    std::vector<Action> out;
    while (auto a = node.poll_action())
        out.push_back(std::move(*a));
    return out;
}

template <typename T>
std::vector<T> only(const std::vector<Action>& actions) {
    std::vector<T> out;
    for (const Action& a : actions) {
        if (const T* t = std::get_if<T>(&a)) out.push_back(*t);
    }
    return out;
}

inline std::string replies_text(const std::vector<Action>& actions) {
    std::string out;
    for (const Reply& r : only<Reply>(actions))
        out += r.bytes;
    return out;
}

}  // namespace herd::test
