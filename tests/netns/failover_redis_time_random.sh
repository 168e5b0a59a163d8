#!/usr/bin/env bash
# failover_redis.sh with replies that carry redis's clock and its random choices: each
# of the four connections interleaves `INCR k` with TIME, SADD, SET, RANDOMKEY and
# SRANDMEMBER (tests/tools/redis_reply_check.h) through a hard crash of the primary.
# The replica's TIME and random replies equal the primary's only if the preload library
# replayed the primary's clock reads, its /dev/urandom bytes (redis seeds its dict hash
# and its random generator from them, and from the clock and getpid) and its input
# order: the backup's output check compares them byte for byte, and any difference is a
# reset (.takeover.reset_diverged, .output_check.diverged_total), which fails the run.
REDIS_CYCLE=mix REDIS_SCENARIO_NAME=failover_redis_time_random exec "$(dirname "$0")/failover_redis.sh" "$@"
