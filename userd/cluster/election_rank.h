// Which backup should win an election (issue 9, item 4; docs/architecture.md,
// "Election among several backups"): the one holding the most of the dead primary's
// replication stream (of the latest epoch), then the higher priority, then the lower
// node id. Arithmetic
// only, so that the rule is unit-tested as written.
//
// Why the log first: every backup received the same records in the same order from
// the primary (one stream per backup, written from one sequence), so a backup holds a
// prefix of that sequence and the longer prefix holds everything the shorter one does.
// A backup whose stream began later counts from its own start and so ranks below one
// that held the stream all along: it lacks the connections opened before it joined.
// That stops holding after an election: the winner's stream begins at once for every
// follower, so a node that rejoined late and one that holds every old connection would
// count the same. Hence the holdings before the position: the primary tells each backup
// whether it holds every connection it protects, and such a backup ranks above any
// that does not, whatever their positions (bytes it lacks were never acknowledged to a
// client: the stable point is the least any holder has).
#pragma once

#include <cstdint>

namespace tcpfo {

struct ElectionRank {
    uint64_t log_epoch = 0;     // the epoch of the stream held (a later primary's stream is the newer log)
    // Its primary said it holds every connection the primary protects (HoldingsRecord):
    // a node that lacks some (it joined after they opened) would lose them by winning.
    bool holds_every_connection = false;
    uint64_t log_position = 0;  // bytes of that stream held
    int priority = 0;
    int node_id = 0;            // 0: a node without an id (the two-node shorthand)
};

// Strictly better: a voter that is itself a fit candidate refuses a candidate it
// outranks, so that of two backups campaigning at once the better one wins, and no two
// candidates can each hold the other's vote.
bool outranks(const ElectionRank& a, const ElectionRank& b);

}  // namespace tcpfo
