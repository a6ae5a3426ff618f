#include "core/client_service.hpp"

#include <gtest/gtest.h>

namespace herd {
namespace {

TEST(ClientService, IamatThatChangesTheStoreReportsTheRecordToFlood) {
    RecordStore store;
    ClientService alford(*ServerName::parse("Alford"), store);
    ClientOutcome first = alford.handle_line("IAMAT c +1.0+1.0 5", Timestamp{6, 0});
    ASSERT_NE(first.changed, nullptr);
    EXPECT_EQ(first.changed->at_line(), "AT Alford +1.000000000 c +1.0+1.0 5");
    ClientOutcome same = alford.handle_line("IAMAT c +1.0+1.0 5", Timestamp{6, 0});
    EXPECT_EQ(same.changed, nullptr);
    EXPECT_EQ(same.reply, "AT Alford +1.000000000 c +1.0+1.0 5\n");
}

TEST(ClientService, BlankLineDoesNothing) {
    RecordStore store;
    ClientService s(*ServerName::parse("Ball"), store);
    EXPECT_EQ(s.handle_line(" \t", Timestamp{}).kind, ClientOutcome::Kind::none);
}

TEST(ClientService, WhatsatOfAKnownClientAsksForPlaces) {
    RecordStore store;
    ClientService s(*ServerName::parse("Ball"), store);
    s.handle_line("IAMAT c -12.5+100.25 5", Timestamp{5, 0});
    ClientOutcome o = s.handle_line("WHATSAT c 2 4", Timestamp{7, 0});
    ASSERT_EQ(o.kind, ClientOutcome::Kind::places_query);
    EXPECT_EQ(o.query->lat_nanodeg, -12'500'000'000);
    EXPECT_EQ(o.query->lon_nanodeg, 100'250'000'000);
    EXPECT_EQ(o.query->radius.millimetres, 2'000'000);
    EXPECT_EQ(o.query->bound, 4u);
    EXPECT_EQ(o.changed, nullptr);
}

}  // namespace
}  // namespace herd
