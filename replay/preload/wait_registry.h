// What the recorded wait calls and accepts must know about descriptors (main thread):
// - each epoll instance's registrations, fd -> data and data -> fd. Record names a
//   ready descriptor by number (the data an event carries is the application's, often
//   a pointer, which differs in the replica); replay gives each recorded descriptor
//   the replica's own data. Up to 8 instances, descriptors below 65536, and 65536
//   registrations in all; two descriptors registered with the same data in one
//   instance cannot be told apart (recording refuses that, with one line).
// - the listening sockets whose accepts are recorded (IPv4 ones: a client on another
//   family is nobody a backup can feed).
// Kept while the process records or replays, and after the replica goes live (the
// go-live wakes for parked connections use them). close() forgets a descriptor.
#pragma once

#include <cstdint>
#include <optional>
#include <sys/epoll.h>

namespace tcpfo::preload {

// After a successful epoll_ctl. Returns nullptr, or why the registry cannot hold the
// registration (the caller refuses recording with that).
const char* note_epoll_ctl(int epfd, int op, int fd, const epoll_event* event);
bool is_tracked_epoll(int epfd);
std::optional<int> registered_fd(int epfd, uint64_t data);
std::optional<uint64_t> registered_data(int epfd, int fd);

// Whether accepts on `fd` are recorded: nullopt when not asked yet.
std::optional<bool> listener_is_ipv4(int fd);
void note_listener(int fd, bool ipv4);
bool is_recorded_listener(int fd);

// close(): the descriptor is no epoll instance, registration or listener any more.
// Any thread; only the main thread's closes change the tables.
void forget_wait_fd(int fd);

}  // namespace tcpfo::preload
