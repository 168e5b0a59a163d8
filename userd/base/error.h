// Errors crossing a system boundary: one line saying what failed, on what, and why.
#pragma once

#include <cerrno>
#include <cstring>
#include <expected>
#include <string>
#include <string_view>

#include <fmt/core.h>

namespace tcpfo {

struct Error {
    std::string message;
};

template <class T = void>
using Result = std::expected<T, Error>;

// fail("can't parse --vip {}", arg)
template <class... Args>
std::unexpected<Error> fail(fmt::format_string<Args...> format, Args&&... args) {
    return std::unexpected(Error{fmt::format(format, std::forward<Args>(args)...)});
}

// sys_fail(errno, "can't bind {}", addr) -> "can't bind 192.0.2.100:7000: Address already in use"
template <class... Args>
std::unexpected<Error> sys_fail(int err, fmt::format_string<Args...> format, Args&&... args) {
    return std::unexpected(Error{fmt::format(format, std::forward<Args>(args)...) + ": " +
                                 std::strerror(err)});
}

}  // namespace tcpfo
