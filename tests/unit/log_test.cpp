#include "userd/base/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace tcpfo {
namespace {

TEST(Log, PlainLinesCarryTimeAndLevel) {
    const timespec at{1700000000, 123456789};
    EXPECT_EQ(format_log_line(LogLevel::info, "primary: ready", false, at), "1700000000.123456 info primary: ready\n");
    EXPECT_EQ(format_log_line(LogLevel::warn, "x", false, at), "1700000000.123456 warn x\n");
}

TEST(Log, JournalLinesCarryTheSyslogPriorityOnly) {
    const timespec at{1700000000, 0};
    EXPECT_EQ(format_log_line(LogLevel::debug, "d", true, at), "<7>d\n");
    EXPECT_EQ(format_log_line(LogLevel::info, "primary: ready", true, at), "<6>primary: ready\n");
    EXPECT_EQ(format_log_line(LogLevel::warn, "w", true, at), "<4>w\n");
    EXPECT_EQ(format_log_line(LogLevel::error, "e", true, at), "<3>e\n");
}

TEST(Log, TheJournalIsRecognisedByItsDeviceAndInode) {
    std::FILE* f = std::tmpfile();
    ASSERT_NE(f, nullptr);
    const int fd = fileno(f);
    struct stat st{};
    ASSERT_EQ(fstat(fd, &st), 0);
    const std::string same = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
    EXPECT_TRUE(is_journal_stream(same.c_str(), fd));
    const std::string other = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);
    EXPECT_FALSE(is_journal_stream(other.c_str(), fd)) << "stderr redirected elsewhere: plain lines";
    EXPECT_FALSE(is_journal_stream(nullptr, fd));
    EXPECT_FALSE(is_journal_stream("", fd));
    EXPECT_FALSE(is_journal_stream("garbage", fd));
    EXPECT_FALSE(is_journal_stream((same + "x").c_str(), fd));
    std::fclose(f);
}

}  // namespace
}  // namespace tcpfo
