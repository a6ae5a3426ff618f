// Fifo (core/fifo.hpp): first in, first out through compactions, and no memory while unused.
#include "core/fifo.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace herd {
namespace {

TEST(Fifo, KeepsOrderThroughCompactionsAndIteratesFromTheFront) {
    Fifo<std::string> q;
    EXPECT_TRUE(q.empty());
    int next_in = 0;
    int next_out = 0;
    for (int round = 0; round < 200; ++round) {
        for (int i = 0; i < round % 7 + 1; ++i)
            q.push_back(std::to_string(next_in++));
        for (int i = 0; i < round % 5 && !q.empty(); ++i) {
            EXPECT_EQ(q.front(), std::to_string(next_out++));
            q.pop_front();
        }
        ASSERT_EQ(q.size(), static_cast<std::size_t>(next_in - next_out));
        int expected = next_out;
        for (const std::string& s : q)
            EXPECT_EQ(s, std::to_string(expected++));
    }
    while (!q.empty()) {
        EXPECT_EQ(q.front(), std::to_string(next_out++));
        q.pop_front();
    }
    EXPECT_EQ(next_out, next_in);
}

TEST(Fifo, ATakenItemIsReleasedAtOnce) {
    Fifo<std::shared_ptr<int>> q;
    auto watched = std::make_shared<int>(1);
    q.push_back(watched);
    q.push_back(std::make_shared<int>(2));
    q.pop_front();
    EXPECT_EQ(watched.use_count(), 1);  // the queue no longer holds it
    EXPECT_EQ(*q.front(), 2);
}

TEST(Fifo, AClearedQueueIsEmptyAndTakesItemsAgain) {
    Fifo<int> q;
    for (int i = 0; i < 1000; ++i)
        q.push_back(i);
    q.clear();
    EXPECT_TRUE(q.empty());
    q.push_back(7);
    EXPECT_EQ(q.front(), 7);
    EXPECT_EQ(q.size(), 1u);
}

}  // namespace
}  // namespace herd
