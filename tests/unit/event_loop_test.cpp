#include "userd/base/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <vector>

#include <gtest/gtest.h>

using namespace tcpfo;

namespace {

UniqueFd ready_eventfd() {
    UniqueFd fd(eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC));  // readable at once
    return fd;
}

}  // namespace

TEST(EventLoop, DispatchesModifiesAndRemoves) {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop);
    UniqueFd a = ready_eventfd();
    int calls = 0;
    ASSERT_TRUE((*loop)->add(a.get(), EPOLLIN, [&](uint32_t ev) { calls += (ev & EPOLLIN) ? 1 : 100; }));
    EXPECT_FALSE((*loop)->add(a.get(), EPOLLIN, [](uint32_t) {})) << "watched twice";
    ASSERT_TRUE((*loop)->run_once(100));
    EXPECT_EQ(calls, 1);
    ASSERT_TRUE((*loop)->modify(a.get(), 0));
    ASSERT_TRUE((*loop)->run_once(0));
    EXPECT_EQ(calls, 1);
    (*loop)->remove(a.get());
    EXPECT_FALSE((*loop)->modify(a.get(), EPOLLIN));
    EXPECT_FALSE((*loop)->modify(-1, EPOLLIN));
    (*loop)->remove(a.get());  // twice: no effect
    (*loop)->remove(12345);
}

TEST(EventLoop, HandlerMayRemoveItselfAndAddOthers) {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop);
    UniqueFd a = ready_eventfd();
    std::vector<UniqueFd> added;
    int a_calls = 0, b_calls = 0;
    EventLoop& l = **loop;
    ASSERT_TRUE(l.add(a.get(), EPOLLIN, [&, big = std::vector<int>(100, 1)](uint32_t) {
        ++a_calls;
        l.remove(a.get());  // destroys this handler's slot copy; the running copy stays valid
        EXPECT_EQ(big.size(), 100u);
        for (int i = 0; i < 200; ++i) {  // moves the slots
            added.push_back(ready_eventfd());
            ASSERT_TRUE(l.add(added.back().get(), EPOLLIN, [&](uint32_t) { ++b_calls; }));
        }
    }));
    ASSERT_TRUE(l.run_once(100));
    EXPECT_EQ(a_calls, 1);
    for (int i = 0; i < 10 && b_calls < 200; ++i) ASSERT_TRUE(l.run_once(100));
    EXPECT_EQ(a_calls, 1);
    EXPECT_GE(b_calls, 200);
}

TEST(EventLoop, StaleEventOfAReusedDescriptorIsDropped) {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop);
    EventLoop& l = **loop;
    UniqueFd a = ready_eventfd(), b = ready_eventfd();
    int old_calls = 0, new_calls = 0;
    // Whichever runs first replaces the other's descriptor with a new registration
    // under the same number: the event already fetched for the old one must not reach
    // the new handler.
    const int b_fd = b.get();
    ASSERT_TRUE(l.add(a.get(), EPOLLIN, [&](uint32_t) {
        l.remove(b_fd);
        b.reset();
        UniqueFd reused(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));  // not readable
        ASSERT_EQ(reused.get(), b_fd);
        ASSERT_TRUE(l.add(reused.get(), EPOLLIN, [&](uint32_t) { ++new_calls; }));
        b = std::move(reused);
        l.remove(a.get());
    }));
    ASSERT_TRUE(l.add(b.get(), EPOLLIN, [&](uint32_t) { ++old_calls; }));
    ASSERT_TRUE(l.run_once(100));
    EXPECT_EQ(new_calls, 0);
    EXPECT_LE(old_calls, 1);
}

TEST(EventLoop, RunsAgainFromInsideAHandler) {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop);
    EventLoop& l = **loop;
    UniqueFd a = ready_eventfd(), b = ready_eventfd();
    int depth = 0, max_depth = 0, b_calls = 0;
    ASSERT_TRUE(l.add(a.get(), EPOLLIN, [&](uint32_t) {
        ++depth;
        max_depth = std::max(max_depth, depth);
        if (depth < 3) {
            ASSERT_TRUE(l.run_once(0));  // a is still readable: re-entered
        }
        --depth;
    }));
    ASSERT_TRUE(l.add(b.get(), EPOLLIN, [&](uint32_t) { ++b_calls; }));
    ASSERT_TRUE(l.run_once(100));
    EXPECT_EQ(max_depth, 3);
    EXPECT_GE(b_calls, 1);
}

TEST(EventLoop, RebindGivesAWatchedDescriptorANewHandlerAndInterest) {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop);
    EventLoop& l = **loop;
    UniqueFd a = ready_eventfd();
    int old_calls = 0, new_calls = 0;
    ASSERT_TRUE(l.add(a.get(), 0, [&](uint32_t) { ++old_calls; }));
    ASSERT_TRUE(l.run_once(0));
    EXPECT_EQ(old_calls, 0) << "no interest yet";
    // New handler and interest at once: only the new handler runs.
    ASSERT_TRUE(l.rebind(a.get(), EPOLLIN, [&](uint32_t ev) { new_calls += (ev & EPOLLIN) ? 1 : 100; }));
    ASSERT_TRUE(l.run_once(100));
    EXPECT_EQ(old_calls, 0);
    EXPECT_EQ(new_calls, 1);
    // Same interest: the handler alone changes, and the descriptor stays watched.
    ASSERT_TRUE(l.rebind(a.get(), EPOLLIN, [&](uint32_t) { new_calls += 10; }));
    ASSERT_TRUE(l.run_once(100));
    EXPECT_EQ(new_calls, 11);
    // modify() to the interest epoll already has is a no-op, to another one takes effect.
    ASSERT_TRUE(l.modify(a.get(), EPOLLIN));
    ASSERT_TRUE(l.modify(a.get(), 0));
    ASSERT_TRUE(l.run_once(0));
    EXPECT_EQ(new_calls, 11);
    l.remove(a.get());
    EXPECT_FALSE(l.rebind(a.get(), EPOLLIN, [](uint32_t) {})) << "not watched";
}
