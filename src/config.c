/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <grp.h>
#include <inttypes.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/un.h>
#include <syslog.h>

#include "config.h"
#include "heat.h"
#include "log.h"
#include "read-full.h"
#include "util.h"

/* Longest accepted line, without its line terminator. inih reads into a fixed buffer and hands the rest of a
 * longer line over as if it were the next line, so the reader below rejects such lines itself. Well above
 * PATH_MAX, so that a cgroup path or exe glob of any usable length fits on a line with its key. */
#define CONFIG_LINE_MAX 8192

/* TASK_COMM_LEN - 1: the kernel truncates /proc/PID/comm to this many bytes. */
#define COMM_MAX 15

#define CGROUP_ROOT "/sys/fs/cgroup"

#define SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1)

/* The heat store keeps a 4-bit hit count per round. */
#define PASSES_MIN 1
#define PASSES_MAX 15

#define PASS_INTERVAL_MIN_US (10 * USEC_PER_MSEC)
#define PASS_INTERVAL_MAX_US (10 * 60 * USEC_PER_SEC)

/* heat_store_set_move_params() refuses more. */
#define MOVE_ROUNDS_MAX (1U << 20)

#define BATCH_MIN_BYTES (UINT64_C(4) << 10)
#define BATCH_MAX_BYTES (UINT64_C(64) << 20)

/* DAMON's sysfs creates kdamond directories on demand; no machine runs thousands. */
#define DAMON_KDAMOND_MAX 4095

/* Soft width of the lines config_dump() packs list values into; longer values get a line of their own. */
#define DUMP_LIST_WIDTH 100

struct config_parser;
struct config_item;

/* Parsers get the whitespace-stripped value (empty only for CONFIG_EMPTY_OK and CONFIG_LIST items). They log
 * their own errors through config_error() and return -EINVAL, or -ENOMEM. */
typedef int (*config_parse_t)(struct config_parser *p, const struct config_item *item, const char *value);
typedef int (*config_dump_t)(FILE *f, const struct config_item *item, const void *base);

enum {
        CONFIG_LIST = 1 << 0,         /* may be repeated, values accumulate; an empty value resets the list */
        CONFIG_EMPTY_OK = 1 << 1,     /* a scalar whose empty value means "none" */
        CONFIG_PER_WORKLOAD = 1 << 2, /* a key of [target.NAME]: the offset is into struct config_workload */
};

/* How the [target.NAME] sections appear in config_items, in messages and in the list of sections. */
#define WORKLOAD_SECTION "target.NAME"
#define WORKLOAD_PREFIX "target."
/* Workload names appear in status, metrics labels and log lines: short, and nothing that needs quoting. */
#define WORKLOAD_NAME_MAX 64
#define WORKLOADS_MAX 256

struct config_item {
        const char *section;
        const char *key;
        config_parse_t parse;
        config_dump_t dump;
        size_t offset;       /* of the field in struct tierd_config */
        size_t count_offset; /* of the element count, for arrays that are not NULL-terminated */
        uint64_t min, max;   /* accepted range, in the field's unit; for globs the longest string they match */
        unsigned index;      /* tierN: N */
        unsigned flags;
        const char *expected; /* completes "expected ..." in messages */
};

/* base: the struct tierd_config, or for CONFIG_PER_WORKLOAD items the struct config_workload. */
#define FIELD(base, item, type) ((type *) ((uint8_t *) (base) + (item)->offset))
#define CONST_FIELD(base, item, type) ((type const *) ((const uint8_t *) (base) + (item)->offset))
#define COUNT_FIELD(base, item) ((size_t *) ((uint8_t *) (base) + (item)->count_offset))
#define CONST_COUNT_FIELD(base, item) ((const size_t *) ((const uint8_t *) (base) + (item)->count_offset))

static int parse_log_level(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_socket_path(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_group(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_unsigned(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_duration_us(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_size_bytes(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_tier(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_cgroup_list(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_glob_list(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_pid_list(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_backend(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_optional_index(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_hot_threshold(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_boolean(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_size_or_percent_item(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_rate(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_fast_max(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_bpf(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_damon_results(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_kernel_fight(struct config_parser *p, const struct config_item *item, const char *value);
static int parse_cpu_budget(struct config_parser *p, const struct config_item *item, const char *value);

static int dump_log_level(FILE *f, const struct config_item *item, const void *base);
static int dump_string(FILE *f, const struct config_item *item, const void *base);
static int dump_unsigned(FILE *f, const struct config_item *item, const void *base);
static int dump_duration_us(FILE *f, const struct config_item *item, const void *base);
static int dump_size_bytes(FILE *f, const struct config_item *item, const void *base);
static int dump_tier(FILE *f, const struct config_item *item, const void *base);
static int dump_strv(FILE *f, const struct config_item *item, const void *base);
static int dump_pid_list(FILE *f, const struct config_item *item, const void *base);
static int dump_backend(FILE *f, const struct config_item *item, const void *base);
static int dump_optional_index(FILE *f, const struct config_item *item, const void *base);
static int dump_hot_threshold(FILE *f, const struct config_item *item, const void *base);
static int dump_boolean(FILE *f, const struct config_item *item, const void *base);
static int dump_size_or_percent(FILE *f, const struct config_item *item, const void *base);
static int dump_fast_max(FILE *f, const struct config_item *item, const void *base);
static int dump_bpf(FILE *f, const struct config_item *item, const void *base);
static int dump_damon_results(FILE *f, const struct config_item *item, const void *base);
static int dump_kernel_fight(FILE *f, const struct config_item *item, const void *base);
static int dump_cpu_budget(FILE *f, const struct config_item *item, const void *base);

#define TIER_ITEM(n)                                                                                         \
        {                                                                                                    \
                "tiers", "tier" #n, parse_tier, dump_tier, offsetof(struct tierd_config, tiers), .index = n, \
                .expected = "a node list such as 0 or 0-1,3",                                               \
        }

#define CGROUP_EXPECTED "cgroup paths such as system.slice/foo.service or /sys/fs/cgroup/foo.slice"
#define COMM_EXPECTED "process name globs such as postgres or java*"
#define EXE_EXPECTED "executable path globs such as /usr/bin/java or */java"
#define PID_EXPECTED "process IDs (positive integers)"

/* Every key tierd understands, in the order config_dump() writes them. Sections are the distinct section names
 * here, so a new section is only a matter of adding its keys. */
static const struct config_item config_items[] = {
        { "daemon", "log_level", parse_log_level, dump_log_level, offsetof(struct tierd_config, log_level),
          .expected = "one of emerg, alert, crit, err, warning, notice, info, debug" },
        { "daemon", "control_socket", parse_socket_path, dump_string,
          offsetof(struct tierd_config, control_socket), .max = SOCKET_PATH_MAX,
          .expected = "an absolute path shorter than 108 bytes, such as /run/tierd/control" },
        { "daemon", "control_group", parse_group, dump_string, offsetof(struct tierd_config, control_group),
          .flags = CONFIG_EMPTY_OK, .expected = "a group name or numeric GID, or nothing for root only" },

        { "scan", "passes", parse_unsigned, dump_unsigned, offsetof(struct tierd_config, passes),
          .min = PASSES_MIN, .max = PASSES_MAX, .expected = "an integer from 1 to 15" },
        { "scan", "pass_interval", parse_duration_us, dump_duration_us,
          offsetof(struct tierd_config, pass_interval_us), .min = PASS_INTERVAL_MIN_US,
          .max = PASS_INTERVAL_MAX_US, .expected = "a duration from 10ms to 10min, such as 500ms, 2s" },
        { "scan", "pass_interval_min", parse_duration_us, dump_duration_us,
          offsetof(struct tierd_config, pass_interval_min_us), .min = PASS_INTERVAL_MIN_US,
          .max = PASS_INTERVAL_MAX_US, .expected = "a duration from 10ms to 10min, such as 100ms" },
        { "scan", "pass_interval_max", parse_duration_us, dump_duration_us,
          offsetof(struct tierd_config, pass_interval_max_us), .min = PASS_INTERVAL_MIN_US,
          .max = PASS_INTERVAL_MAX_US, .expected = "a duration from 10ms to 10min, such as 10s" },
        { "scan", "cpu_budget", parse_cpu_budget, dump_cpu_budget, offsetof(struct tierd_config, cpu_budget_bp),
          .min = CPU_BUDGET_MIN_BP, .max = 10000,
          .expected = "a share of one CPU from 0.1% to 100%, such as 5%, or off" },
        { "scan", "backend", parse_backend, dump_backend, offsetof(struct tierd_config, backend),
          .expected = "one of auto, idle_pages, page_idle, damon" },
        { "scan", "damon_kdamond", parse_optional_index, dump_optional_index,
          offsetof(struct tierd_config, damon_kdamond), .max = DAMON_KDAMOND_MAX, .flags = CONFIG_EMPTY_OK,
          .expected = "a kdamond index such as 0, or nothing" },
        { "scan", "damon_sample_interval", parse_duration_us, dump_duration_us,
          offsetof(struct tierd_config, damon_sample_interval_us), .min = 100, .max = USEC_PER_SEC,
          .expected = "a duration from 100us to 1s, such as 5ms" },
        { "scan", "damon_min_regions", parse_unsigned, dump_unsigned,
          offsetof(struct tierd_config, damon_min_regions), .min = 3, .max = 1000000,
          .expected = "an integer from 3 (DAMON's minimum) to 1000000" },
        { "scan", "damon_max_regions", parse_unsigned, dump_unsigned,
          offsetof(struct tierd_config, damon_max_regions), .min = 3, .max = 1000000,
          .expected = "an integer from 3 to 1000000" },
        { "scan", "damon_results", parse_damon_results, dump_damon_results,
          offsetof(struct tierd_config, damon_results), .expected = "one of auto, tried_regions, tracepoint" },
        { "scan", "bpf", parse_bpf, dump_bpf, offsetof(struct tierd_config, bpf),
          .expected = "auto (BPF programs where the kernel allows them) or no (the fallbacks only)" },

        TIER_ITEM(0), TIER_ITEM(1), TIER_ITEM(2), TIER_ITEM(3),
        TIER_ITEM(4), TIER_ITEM(5), TIER_ITEM(6), TIER_ITEM(7),

        { "targets", "cgroup", parse_cgroup_list, dump_strv, offsetof(struct tierd_config, cgroups),
          .flags = CONFIG_LIST, .expected = CGROUP_EXPECTED },
        { "targets", "comm", parse_glob_list, dump_strv, offsetof(struct tierd_config, comms),
          .max = COMM_MAX, .flags = CONFIG_LIST, .expected = COMM_EXPECTED },
        { "targets", "exe", parse_glob_list, dump_strv, offsetof(struct tierd_config, exes),
          .max = PATH_MAX - 1, .flags = CONFIG_LIST, .expected = EXE_EXPECTED },
        { "targets", "pid", parse_pid_list, dump_pid_list, offsetof(struct tierd_config, pids),
          offsetof(struct tierd_config, n_pids), .flags = CONFIG_LIST, .expected = PID_EXPECTED },
        { "targets", "min_rss", parse_size_bytes, dump_size_bytes, offsetof(struct tierd_config, min_rss_bytes),
          .max = UINT64_MAX, .expected = "a size such as 4096, 64M, 1G" },
        { "targets", "exclude_cgroup", parse_cgroup_list, dump_strv,
          offsetof(struct tierd_config, exclude_cgroups), .flags = CONFIG_LIST, .expected = CGROUP_EXPECTED },
        { "targets", "exclude_comm", parse_glob_list, dump_strv, offsetof(struct tierd_config, exclude_comms),
          .max = COMM_MAX, .flags = CONFIG_LIST, .expected = COMM_EXPECTED },
        { "targets", "exclude_exe", parse_glob_list, dump_strv, offsetof(struct tierd_config, exclude_exes),
          .max = PATH_MAX - 1, .flags = CONFIG_LIST, .expected = EXE_EXPECTED },
        { "targets", "exclude_pid", parse_pid_list, dump_pid_list, offsetof(struct tierd_config, exclude_pids),
          offsetof(struct tierd_config, n_exclude_pids), .flags = CONFIG_LIST, .expected = PID_EXPECTED },

        { "policy", "hot_threshold", parse_hot_threshold, dump_hot_threshold,
          offsetof(struct tierd_config, hot_threshold), .min = 1, .max = PASSES_MAX,
          .expected = "\"all\" (every pass of the round) or a number of passes from 1 to 15" },
        { "policy", "promote_rounds", parse_unsigned, dump_unsigned, offsetof(struct tierd_config, promote_rounds),
          .min = 1, .max = HEAT_STREAK_MAX, .expected = "an integer from 1 to 7" },
        { "policy", "cold_rounds", parse_unsigned, dump_unsigned, offsetof(struct tierd_config, cold_rounds),
          .min = 1, .max = HEAT_IDLE_MAX, .expected = "an integer from 1 to 31" },
        { "policy", "fast_free_min", parse_size_or_percent_item, dump_size_or_percent,
          offsetof(struct tierd_config, fast_free_min), .max = UINT64_MAX,
          .expected = "a size such as 512M or a percentage of the tier such as 2%" },
        { "policy", "fast_free_target", parse_size_or_percent_item, dump_size_or_percent,
          offsetof(struct tierd_config, fast_free_target), .max = UINT64_MAX,
          .expected = "a size such as 1G or a percentage of the tier such as 5%" },
        { "policy", "hot_target", parse_size_or_percent_item, dump_size_or_percent,
          offsetof(struct tierd_config, hot_target), .min = 1, .max = UINT64_MAX,
          .expected = "a non-zero size such as 8G or a percentage of the fast tier such as 50%" },
        { "policy", "pass_interval_auto", parse_boolean, dump_boolean,
          offsetof(struct tierd_config, pass_interval_auto), .expected = "a boolean (yes or no)" },
        { "policy", "min_residency_rounds", parse_unsigned, dump_unsigned,
          offsetof(struct tierd_config, min_residency_rounds), .max = MOVE_ROUNDS_MAX,
          .expected = "an integer from 0 to 1048576" },
        { "policy", "pingpong_window_rounds", parse_unsigned, dump_unsigned,
          offsetof(struct tierd_config, pingpong_window_rounds), .max = MOVE_ROUNDS_MAX,
          .expected = "an integer from 0 to 1048576" },
        { "policy", "max_backoff_rounds", parse_unsigned, dump_unsigned,
          offsetof(struct tierd_config, max_backoff_rounds), .max = MOVE_ROUNDS_MAX,
          .expected = "an integer from 0 to 1048576" },
        { "policy", "fill_free", parse_boolean, dump_boolean, offsetof(struct tierd_config, fill_free),
          .expected = "a boolean (yes or no)" },
        { "policy", "exchange_feedback", parse_boolean, dump_boolean,
          offsetof(struct tierd_config, exchange_feedback), .expected = "a boolean (yes or no)" },
        { "policy", "kernel_fight", parse_kernel_fight, dump_kernel_fight,
          offsetof(struct tierd_config, kernel_fight), .expected = "warn or throttle" },

        { "migrate", "promote_rate", parse_rate, dump_size_bytes, offsetof(struct tierd_config, promote_rate_bytes),
          .max = UINT64_MAX, .expected = "a size per second such as 256M or 256M/s, or 0 for unlimited" },
        { "migrate", "demote_rate", parse_rate, dump_size_bytes, offsetof(struct tierd_config, demote_rate_bytes),
          .max = UINT64_MAX, .expected = "a size per second such as 256M or 256M/s, or 0 for unlimited" },
        { "migrate", "promote_round_max", parse_size_bytes, dump_size_bytes,
          offsetof(struct tierd_config, promote_round_max_bytes), .max = UINT64_MAX,
          .expected = "a size such as 1G, or 0 for no cap" },
        { "migrate", "demote_round_max", parse_size_bytes, dump_size_bytes,
          offsetof(struct tierd_config, demote_round_max_bytes), .max = UINT64_MAX,
          .expected = "a size such as 1G, or 0 for no cap" },
        { "migrate", "batch_size", parse_size_bytes, dump_size_bytes, offsetof(struct tierd_config, batch_bytes),
          .min = BATCH_MIN_BYTES, .max = BATCH_MAX_BYTES,
          .expected = "a size from 4K to 64M in whole 4K pages, such as 4M" },
        { "migrate", "move_shared", parse_boolean, dump_boolean, offsetof(struct tierd_config, move_shared),
          .expected = "a boolean (yes or no)" },
        { "migrate", "tier_skip", parse_boolean, dump_boolean, offsetof(struct tierd_config, tier_skip),
          .expected = "a boolean (yes or no)" },
        { "migrate", "dry_run", parse_boolean, dump_boolean, offsetof(struct tierd_config, dry_run),
          .expected = "a boolean (yes or no)" },

        /* [target.NAME]: offsets into struct config_workload, one per section. */
        { WORKLOAD_SECTION, "cgroup", parse_cgroup_list, dump_strv, offsetof(struct config_workload, cgroups),
          .flags = CONFIG_LIST | CONFIG_PER_WORKLOAD, .expected = CGROUP_EXPECTED },
        { WORKLOAD_SECTION, "comm", parse_glob_list, dump_strv, offsetof(struct config_workload, comms),
          .max = COMM_MAX, .flags = CONFIG_LIST | CONFIG_PER_WORKLOAD, .expected = COMM_EXPECTED },
        { WORKLOAD_SECTION, "exe", parse_glob_list, dump_strv, offsetof(struct config_workload, exes),
          .max = PATH_MAX - 1, .flags = CONFIG_LIST | CONFIG_PER_WORKLOAD, .expected = EXE_EXPECTED },
        { WORKLOAD_SECTION, "pid", parse_pid_list, dump_pid_list, offsetof(struct config_workload, pids),
          offsetof(struct config_workload, n_pids), .flags = CONFIG_LIST | CONFIG_PER_WORKLOAD,
          .expected = PID_EXPECTED },
        { WORKLOAD_SECTION, "fast_max", parse_fast_max, dump_fast_max, offsetof(struct config_workload, fast_max),
          .max = UINT64_MAX, .flags = CONFIG_EMPTY_OK | CONFIG_PER_WORKLOAD,
          .expected = "a size such as 8G or a percentage of the fast tier such as 25%, or nothing for no budget" },
};

enum section_state {
        SECTION_NONE,    /* no header seen yet */
        SECTION_KNOWN,   /* keys are looked up in config_items */
        SECTION_IGNORED, /* unknown or malformed header, already reported: its keys would only add noise */
};

struct config_parser {
        const char *name; /* for messages */
        struct tierd_config *config;

        const char *pos, *end; /* the unread input */
        unsigned line;         /* physical line last handed to inih */

        char *section;             /* as written */
        const char *table_section; /* as in config_items: WORKLOAD_SECTION for every [target.NAME] */
        enum section_state section_state;
        void *base;                /* what the current section's items write into: config or a workload */

        unsigned item_line[ELEMENTSOF(config_items)]; /* where each scalar was set, 0: not yet */
        bool tier_valid[TIERD_MAX_TIERS];
        unsigned n_errors;
        bool oom;
};

static bool isempty(const char *s) {
        return !s || !*s;
}

static int config_error_va(struct config_parser *p, unsigned line, const char *fmt, va_list ap) _printf_(3, 0);
static int config_error_va(struct config_parser *p, unsigned line, const char *fmt, va_list ap) {
        _cleanup_free_ char *msg = NULL;

        p->n_errors++;
        if (vasprintf(&msg, fmt, ap) < 0) {
                p->oom = true;
                return -ENOMEM;
        }
        log_error("%s:%u: %s", p->name, line, msg);
        return -EINVAL;
}

static int config_error_at(struct config_parser *p, unsigned line, const char *fmt, ...) _printf_(3, 4);
static int config_error_at(struct config_parser *p, unsigned line, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = config_error_va(p, line, fmt, ap);
        va_end(ap);
        return r;
}

static int config_error(struct config_parser *p, const char *fmt, ...) _printf_(2, 3);
static int config_error(struct config_parser *p, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = config_error_va(p, p->line, fmt, ap);
        va_end(ap);
        return r;
}

/* Values are echoed in messages; a runaway one would push the explanation past the log line limit. */
#define ELLIPSIZE_MAX 64
static const char *ellipsize(const char *s, char buf[static ELLIPSIZE_MAX + 4]) {
        if (strlen(s) <= ELLIPSIZE_MAX)
                return s;
        memcpy(buf, s, ELLIPSIZE_MAX);
        strcpy(buf + ELLIPSIZE_MAX, "...");
        return buf;
}

static int invalid_value(struct config_parser *p, const struct config_item *item, const char *value) {
        char buf[ELLIPSIZE_MAX + 4];

        return config_error(p, "invalid value \"%s\" for %s: expected %s", ellipsize(value, buf), item->key,
                            item->expected);
}

static int out_of_range(struct config_parser *p, const struct config_item *item, const char *value) {
        char buf[ELLIPSIZE_MAX + 4];

        return config_error(p, "value \"%s\" for %s is out of range: expected %s", ellipsize(value, buf),
                            item->key, item->expected);
}

/* ---- value parsers ---- */

static int parse_log_level(struct config_parser *p, const struct config_item *item, const char *value) {
        int level = log_level_from_string(value);

        if (level < 0)
                return invalid_value(p, item, value);
        *FIELD(p->base, item, int) = level;
        return 0;
}

static int parse_socket_path(struct config_parser *p, const struct config_item *item, const char *value) {
        char **field = FIELD(p->base, item, char *);
        char *copy;

        /* The daemon may run with any working directory, and bind() silently truncates at sun_path. */
        if (value[0] != '/' || value[strlen(value) - 1] == '/')
                return invalid_value(p, item, value);
        if (strlen(value) > item->max)
                return config_error(p, "control_socket path is %zu bytes long: expected at most %" PRIu64
                                    " bytes (the limit of a unix socket address)",
                                    strlen(value), item->max);
        copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        free(*field);
        *field = copy;
        return 0;
}

static bool is_digits(const char *s) {
        return *s && strspn(s, "0123456789") == strlen(s);
}

/* getgrnam_r() reports "no such group" either as success with no result or, from some NSS modules, as one of
 * these errors (see getgrnam_r(3)). */
static bool errno_is_not_found(int error) {
        return error == ENOENT || error == ESRCH || error == EBADF || error == EPERM;
}

static int lookup_group(const char *name, gid_t *ret) {
        long size = sysconf(_SC_GETGR_R_SIZE_MAX);

        if (size <= 0)
                size = 4096;
        for (;;) {
                _cleanup_free_ char *buf = malloc((size_t) size);
                struct group grp, *result = NULL;
                int r;

                if (!buf)
                        return -ENOMEM;
                r = getgrnam_r(name, &grp, buf, (size_t) size, &result);
                if (r == ERANGE && size < 1024 * 1024) {
                        size *= 2;
                        continue;
                }
                if (r != 0)
                        return errno_is_not_found(r) ? -ESRCH : -r;
                if (!result)
                        return -ESRCH;
                *ret = result->gr_gid;
                return 0;
        }
}

static int parse_group(struct config_parser *p, const struct config_item *item, const char *value) {
        char **field = FIELD(p->base, item, char *);
        char buf[ELLIPSIZE_MAX + 4];
        char *copy = NULL;
        gid_t gid = (gid_t) -1;
        int r;

        if (!isempty(value)) {
                if (is_digits(value)) {
                        unsigned v;

                        r = parse_uint(value, &v);
                        /* (gid_t) -1 means "unchanged" to chown() and cannot be a real group. */
                        if (r < 0 || v == (unsigned) (gid_t) -1)
                                return out_of_range(p, item, value);
                        gid = (gid_t) v;
                } else {
                        r = lookup_group(value, &gid);
                        if (r == -ENOMEM)
                                return r;
                        if (r == -ESRCH)
                                return config_error(p, "unknown group \"%s\" for %s: expected %s",
                                                    ellipsize(value, buf), item->key, item->expected);
                        if (r < 0)
                                return config_error(p, "cannot look up group \"%s\" for %s: %s",
                                                    ellipsize(value, buf), item->key, strerror(-r));
                }
                copy = strdup(value);
                if (!copy)
                        return -ENOMEM;
        }

        free(*field);
        *field = copy;
        p->config->control_gid = gid;
        return 0;
}

static int parse_unsigned(struct config_parser *p, const struct config_item *item, const char *value) {
        unsigned v;
        int r;

        r = parse_uint(value, &v);
        if (r == -ERANGE || (r >= 0 && (v < item->min || v > item->max)))
                return out_of_range(p, item, value);
        if (r < 0)
                return invalid_value(p, item, value);
        *FIELD(p->base, item, unsigned) = v;
        return 0;
}

static const char *const scan_backend_kind_names[_SCAN_BACKEND_KIND_MAX] = {
        [SCAN_BACKEND_AUTO] = "auto",
        [SCAN_BACKEND_IDLE_PAGES] = "idle_pages",
        [SCAN_BACKEND_PAGE_IDLE] = "page_idle",
        [SCAN_BACKEND_DAMON] = "damon",
};

const char *scan_backend_kind_to_string(enum scan_backend_kind k) {
        return k < _SCAN_BACKEND_KIND_MAX ? scan_backend_kind_names[k] : NULL;
}

int scan_backend_kind_from_string(const char *s) {
        for (int i = 0; i < _SCAN_BACKEND_KIND_MAX; i++)
                if (streq(s, scan_backend_kind_names[i]))
                        return i;
        return -EINVAL;
}

static int parse_backend(struct config_parser *p, const struct config_item *item, const char *value) {
        int k = scan_backend_kind_from_string(value);

        if (k < 0)
                return invalid_value(p, item, value);
        *FIELD(p->base, item, enum scan_backend_kind) = (enum scan_backend_kind) k;
        return 0;
}

static const char *const damon_results_mode_names[_DAMON_RESULTS_MODE_MAX] = {
        [DAMON_RESULTS_AUTO] = "auto",
        [DAMON_RESULTS_TRIED_REGIONS] = "tried_regions",
        [DAMON_RESULTS_TRACEPOINT] = "tracepoint",
};

const char *damon_results_mode_to_string(enum damon_results_mode m) {
        return m < _DAMON_RESULTS_MODE_MAX ? damon_results_mode_names[m] : NULL;
}

int damon_results_mode_from_string(const char *s) {
        for (int i = 0; i < _DAMON_RESULTS_MODE_MAX; i++)
                if (streq_ptr(s, damon_results_mode_names[i]))
                        return i;
        return -EINVAL;
}

static int parse_damon_results(struct config_parser *p, const struct config_item *item, const char *value) {
        int m = damon_results_mode_from_string(value);

        if (m < 0)
                return invalid_value(p, item, value);
        *FIELD(p->base, item, enum damon_results_mode) = (enum damon_results_mode) m;
        return 0;
}

static int parse_bpf(struct config_parser *p, const struct config_item *item, const char *value) {
        bool b;

        /* "auto", not "yes": BPF is only ever tried, each feature falls back on its own where the kernel refuses. */
        if (streq(value, "auto"))
                b = true;
        else if (parse_bool(value, &b) < 0 || b)
                return invalid_value(p, item, value);
        *FIELD(p->base, item, bool) = b;
        return 0;
}

static const char *const kernel_fight_mode_names[_KERNEL_FIGHT_MODE_MAX] = {
        [KERNEL_FIGHT_WARN] = "warn",
        [KERNEL_FIGHT_THROTTLE] = "throttle",
};

const char *kernel_fight_mode_to_string(enum kernel_fight_mode m) {
        return m < _KERNEL_FIGHT_MODE_MAX ? kernel_fight_mode_names[m] : NULL;
}

int kernel_fight_mode_from_string(const char *s) {
        for (int i = 0; i < _KERNEL_FIGHT_MODE_MAX; i++)
                if (streq_ptr(s, kernel_fight_mode_names[i]))
                        return i;
        return -EINVAL;
}

static int parse_kernel_fight(struct config_parser *p, const struct config_item *item, const char *value) {
        int m = kernel_fight_mode_from_string(value);

        if (m < 0)
                return invalid_value(p, item, value);
        *FIELD(p->base, item, enum kernel_fight_mode) = (enum kernel_fight_mode) m;
        return 0;
}

static int parse_cpu_budget(struct config_parser *p, const struct config_item *item, const char *value) {
        unsigned bp;
        int r;

        if (streq(value, "off")) {
                *FIELD(p->base, item, unsigned) = 0;
                return 0;
        }
        r = parse_percent(value, &bp);
        if (r == -ERANGE || (r >= 0 && bp < item->min))
                return out_of_range(p, item, value);
        if (r < 0)
                return invalid_value(p, item, value);
        *FIELD(p->base, item, unsigned) = bp;
        return 0;
}

static int parse_optional_index(struct config_parser *p, const struct config_item *item, const char *value) {
        unsigned v;
        int r;

        if (isempty(value)) {
                *FIELD(p->base, item, int) = -1;
                return 0;
        }
        r = parse_uint(value, &v);
        if (r == -ERANGE || (r >= 0 && v > item->max))
                return out_of_range(p, item, value);
        if (r < 0)
                return invalid_value(p, item, value);
        *FIELD(p->base, item, int) = (int) v;
        return 0;
}

static int parse_hot_threshold(struct config_parser *p, const struct config_item *item, const char *value) {
        if (streq(value, "all")) {
                *FIELD(p->base, item, unsigned) = HEAT_HOT_THRESHOLD_ALL_PASSES;
                return 0;
        }
        return parse_unsigned(p, item, value);
}

static int parse_boolean(struct config_parser *p, const struct config_item *item, const char *value) {
        bool b;

        if (parse_bool(value, &b) < 0)
                return invalid_value(p, item, value);
        *FIELD(p->base, item, bool) = b;
        return 0;
}

/* item->min 1: zero (0, 0%) is refused. */
static int parse_size_or_percent_item(struct config_parser *p, const struct config_item *item, const char *value) {
        struct size_or_percent v;
        int r;

        r = parse_size_or_percent(value, &v);
        if (r == -ERANGE)
                return out_of_range(p, item, value);
        if (r < 0)
                return invalid_value(p, item, value);
        if (item->min > 0 && (v.is_percent ? v.basis_points == 0 : v.bytes == 0))
                return out_of_range(p, item, value);
        *FIELD(p->base, item, struct size_or_percent) = v;
        return 0;
}

static int parse_fast_max(struct config_parser *p, const struct config_item *item, const char *value) {
        struct config_workload *w = p->base;
        int r;

        if (isempty(value)) {
                w->has_fast_max = false;
                return 0;
        }
        r = parse_size_or_percent_item(p, item, value);
        if (r < 0)
                return r;
        w->has_fast_max = true;
        return 0;
}

/* A size, optionally followed by "/s". */
static int parse_rate(struct config_parser *p, const struct config_item *item, const char *value) {
        _cleanup_free_ char *copy = strdup(value);
        size_t len;

        if (!copy)
                return -ENOMEM;
        len = strlen(copy);
        if (len > 2 && streq(copy + len - 2, "/s"))
                copy[len - 2] = '\0';
        if (parse_size_bytes(p, item, copy) < 0)
                return -EINVAL;
        return 0;
}

static int parse_duration_us(struct config_parser *p, const struct config_item *item, const char *value) {
        uint64_t v;
        int r;

        r = parse_duration(value, &v);
        if (r == -ERANGE || (r >= 0 && (v < item->min || v > item->max)))
                return out_of_range(p, item, value);
        if (r < 0)
                return invalid_value(p, item, value);
        *FIELD(p->base, item, uint64_t) = v;
        return 0;
}

static int parse_size_bytes(struct config_parser *p, const struct config_item *item, const char *value) {
        uint64_t v;
        int r;

        r = parse_size(value, &v);
        if (r == -ERANGE || (r >= 0 && (v < item->min || v > item->max)))
                return out_of_range(p, item, value);
        if (r < 0)
                return invalid_value(p, item, value);
        *FIELD(p->base, item, uint64_t) = v;
        return 0;
}

static int parse_tier(struct config_parser *p, const struct config_item *item, const char *value) {
        struct node_set set;
        char buf[ELLIPSIZE_MAX + 4];
        int r;

        r = node_set_parse(value, &set);
        if (r == -ERANGE)
                return config_error(p, "invalid node list \"%s\" for %s: ranges must be ascending and node "
                                    "numbers below %d",
                                    ellipsize(value, buf), item->key, NODE_SET_MAX);
        if (r < 0 || node_set_is_empty(&set))
                return invalid_value(p, item, value);

        p->config->tiers[item->index] = set;
        p->tier_valid[item->index] = true;
        return 0;
}

/* Turns the accepted spellings into the form /proc/PID/cgroup uses, so targets can compare component-wise. */
static int cgroup_path_normalize(const char *in, char **ret) {
        _cleanup_free_ char *out = NULL;
        const char *s = in;
        size_t n = 0;

        if (startswith(s, CGROUP_ROOT) && (s[strlen(CGROUP_ROOT)] == '\0' || s[strlen(CGROUP_ROOT)] == '/'))
                s += strlen(CGROUP_ROOT);

        out = malloc(strlen(s) + 2);
        if (!out)
                return -ENOMEM;

        while (*s) {
                size_t len;

                s += strspn(s, "/");
                len = strcspn(s, "/");
                if (len == 0)
                        break;
                if (len == 1 && s[0] == '.') {
                        s += len;
                        continue;
                }
                if (len == 2 && s[0] == '.' && s[1] == '.')
                        return -EINVAL; /* would escape the selector's subtree, or the hierarchy */
                out[n++] = '/';
                memcpy(out + n, s, len);
                n += len;
                s += len;
        }
        if (n == 0)
                out[n++] = '/';
        out[n] = '\0';

        *ret = TAKE_PTR(out);
        return 0;
}

/* Shortest string the fnmatch(3) pattern (flags 0) can match, to catch patterns that can never match. Bracket
 * expressions count as one character, '*' as none; an unterminated '[' is an ordinary character. */
static size_t glob_min_length(const char *g) {
        size_t n = 0;

        for (const char *s = g; *s; s++) {
                if (*s == '*')
                        continue;
                n++;
                if (*s == '\\' && s[1]) {
                        s++;
                } else if (*s == '[') {
                        const char *t = s + 1;

                        if (*t == '!' || *t == '^')
                                t++;
                        if (*t == ']')
                                t++;
                        while (*t && *t != ']') {
                                if (t[0] == '[' && t[1] && strchr(":.=", t[1])) {
                                        const char *close = t + 2;
                                        char delim = t[1];

                                        while (*close && !(close[0] == delim && close[1] == ']'))
                                                close++;
                                        if (!*close)
                                                break;
                                        t = close + 2;
                                        continue;
                                }
                                t++;
                        }
                        if (*t == ']')
                                s = t;
                }
        }
        return n;
}

static bool glob_has_magic(const char *g) {
        return strpbrk(g, "*?[\\") != NULL;
}

/* Frees a list field; NULL-safe, used for the systemd-style "empty value resets the list". */
static void strv_field_reset(char ***field) {
        strv_free(*field);
        *field = NULL;
}

static int parse_cgroup_list(struct config_parser *p, const struct config_item *item, const char *value) {
        char ***field = FIELD(p->base, item, char **);
        _cleanup_strv_free_ char **words = NULL;
        int r, ret = 0;

        if (isempty(value)) {
                strv_field_reset(field);
                return 0;
        }
        r = strv_split_ws(value, &words);
        if (r < 0)
                return r;

        STRV_FOREACH(w, words) {
                _cleanup_free_ char *path = NULL;
                char buf[ELLIPSIZE_MAX + 4];

                r = cgroup_path_normalize(*w, &path);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        ret = config_error(p, "invalid cgroup path \"%s\" for %s: \"..\" is not allowed; expected %s",
                                           ellipsize(*w, buf), item->key, item->expected);
                        continue;
                }
                /* The daemon opens it below /sys/fs/cgroup. */
                if (strlen(CGROUP_ROOT) + strlen(path) >= PATH_MAX) {
                        ret = config_error(p, "cgroup path \"%s\" for %s is longer than PATH_MAX", ellipsize(*w, buf),
                                           item->key);
                        continue;
                }
                r = strv_push(field, path);
                if (r < 0)
                        return r;
        }
        return ret;
}

static int parse_glob_list(struct config_parser *p, const struct config_item *item, const char *value) {
        char ***field = FIELD(p->base, item, char **);
        _cleanup_strv_free_ char **words = NULL;
        bool is_exe = item->max > COMM_MAX;
        int r, ret = 0;

        if (isempty(value)) {
                strv_field_reset(field);
                return 0;
        }
        r = strv_split_ws(value, &words);
        if (r < 0)
                return r;

        STRV_FOREACH(w, words) {
                char buf[ELLIPSIZE_MAX + 4];
                size_t min = glob_min_length(*w);

                if (min > item->max) {
                        if (is_exe)
                                ret = config_error(p, "pattern \"%s\" for %s can never match: it is longer than "
                                                   "PATH_MAX",
                                                   ellipsize(*w, buf), item->key);
                        else if (glob_has_magic(*w))
                                ret = config_error(p, "pattern \"%s\" for %s can never match: it needs at least "
                                                   "%zu characters but a process name (comm) has at most %d",
                                                   ellipsize(*w, buf), item->key, min, COMM_MAX);
                        else
                                ret = config_error(p, "process name \"%s\" for %s can never match: it is %zu "
                                                   "characters long but the kernel truncates comm to %d; use "
                                                   "\"%.*s*\" or select by exe",
                                                   ellipsize(*w, buf), item->key, min, COMM_MAX, COMM_MAX, *w);
                        continue;
                }
                /* /proc/PID/exe is an absolute path: the first character must be able to match '/'. */
                if (is_exe && !strchr("/*?[", (*w)[0]) && !startswith(*w, "\\/")) {
                        ret = config_error(p, "pattern \"%s\" for %s can never match: executable paths are "
                                           "absolute; expected %s",
                                           ellipsize(*w, buf), item->key, item->expected);
                        continue;
                }
                r = strv_push(field, *w);
                if (r < 0)
                        return r;
        }
        return ret;
}

static int parse_pid_list(struct config_parser *p, const struct config_item *item, const char *value) {
        pid_t **field = FIELD(p->base, item, pid_t *);
        size_t *n = COUNT_FIELD(p->base, item);
        _cleanup_strv_free_ char **words = NULL;
        int r, ret = 0;

        if (isempty(value)) {
                *field = mfree(*field);
                *n = 0;
                return 0;
        }
        r = strv_split_ws(value, &words);
        if (r < 0)
                return r;

        STRV_FOREACH(w, words) {
                char buf[ELLIPSIZE_MAX + 4];
                pid_t *a;
                int pid;

                r = parse_pid(*w, &pid);
                if (r < 0) {
                        ret = config_error(p, "invalid PID \"%s\" for %s: expected a positive integer below 2^31",
                                           ellipsize(*w, buf), item->key);
                        continue;
                }
                a = reallocarray(*field, *n + 1, sizeof(pid_t));
                if (!a)
                        return -ENOMEM;
                a[(*n)++] = pid;
                *field = a;
        }
        return ret;
}

/* ---- canonical formatting, for config_dump() ---- */

static void format_size_canonical(char *buf, size_t size, uint64_t bytes) {
        static const struct {
                char suffix;
                unsigned shift;
        } units[] = { { 'T', 40 }, { 'G', 30 }, { 'M', 20 }, { 'K', 10 } };

        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (bytes > 0 && bytes % (UINT64_C(1) << units[i].shift) == 0) {
                        snprintf(buf, size, "%" PRIu64 "%c", bytes >> units[i].shift, units[i].suffix);
                        return;
                }
        snprintf(buf, size, "%" PRIu64, bytes);
}

static void format_duration_canonical(char *buf, size_t size, uint64_t us) {
        static const struct {
                const char *suffix;
                uint64_t factor;
        } units[] = {
                { "h", 3600 * USEC_PER_SEC },
                { "min", 60 * USEC_PER_SEC },
                { "s", USEC_PER_SEC },
                { "ms", USEC_PER_MSEC },
        };

        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (us > 0 && us % units[i].factor == 0) {
                        snprintf(buf, size, "%" PRIu64 "%s", us / units[i].factor, units[i].suffix);
                        return;
                }
        snprintf(buf, size, "%" PRIu64 "us", us);
}

static int dump_kv(FILE *f, const char *key, const char *value) {
        if (isempty(value))
                fprintf(f, "%s =\n", key);
        /* A value read from a line of at most CONFIG_LINE_MAX characters always fits again without spaces. */
        else if (strlen(key) + 3 + strlen(value) > CONFIG_LINE_MAX)
                fprintf(f, "%s=%s\n", key, value);
        else
                fprintf(f, "%s = %s\n", key, value);
        return 0;
}

static int dump_log_level(FILE *f, const struct config_item *item, const void *base) {
        const char *s = log_level_to_string(*CONST_FIELD(base, item, int));

        if (!s)
                return -EINVAL;
        return dump_kv(f, item->key, s);
}

static int dump_string(FILE *f, const struct config_item *item, const void *base) {
        return dump_kv(f, item->key, *CONST_FIELD(base, item, char *));
}

static int dump_backend(FILE *f, const struct config_item *item, const void *base) {
        const char *s = scan_backend_kind_to_string(*CONST_FIELD(base, item, enum scan_backend_kind));

        if (!s)
                return -EINVAL;
        return dump_kv(f, item->key, s);
}

static int dump_damon_results(FILE *f, const struct config_item *item, const void *base) {
        const char *s = damon_results_mode_to_string(*CONST_FIELD(base, item, enum damon_results_mode));

        if (!s)
                return -EINVAL;
        return dump_kv(f, item->key, s);
}

static int dump_bpf(FILE *f, const struct config_item *item, const void *base) {
        return dump_kv(f, item->key, *CONST_FIELD(base, item, bool) ? "auto" : "no");
}

static int dump_kernel_fight(FILE *f, const struct config_item *item, const void *base) {
        const char *s = kernel_fight_mode_to_string(*CONST_FIELD(base, item, enum kernel_fight_mode));

        if (!s)
                return -EINVAL;
        return dump_kv(f, item->key, s);
}

static int dump_optional_index(FILE *f, const struct config_item *item, const void *base) {
        char buf[16] = "";
        int v = *CONST_FIELD(base, item, int);

        if (v >= 0)
                snprintf(buf, sizeof(buf), "%d", v);
        return dump_kv(f, item->key, buf);
}

static int dump_hot_threshold(FILE *f, const struct config_item *item, const void *base) {
        unsigned v = *CONST_FIELD(base, item, unsigned);
        char buf[16];

        if (v == HEAT_HOT_THRESHOLD_ALL_PASSES)
                return dump_kv(f, item->key, "all");
        snprintf(buf, sizeof(buf), "%u", v);
        return dump_kv(f, item->key, buf);
}

static int dump_boolean(FILE *f, const struct config_item *item, const void *base) {
        return dump_kv(f, item->key, *CONST_FIELD(base, item, bool) ? "yes" : "no");
}

static void format_percent(char *buf, size_t size, unsigned basis_points) {
        if (basis_points % 100 == 0)
                snprintf(buf, size, "%u%%", basis_points / 100);
        else
                snprintf(buf, size, "%u.%02u%%", basis_points / 100, basis_points % 100);
}

static int dump_cpu_budget(FILE *f, const struct config_item *item, const void *base) {
        unsigned bp = *CONST_FIELD(base, item, unsigned);
        char buf[32];

        if (bp == 0)
                return dump_kv(f, item->key, "off");
        format_percent(buf, sizeof(buf), bp);
        return dump_kv(f, item->key, buf);
}

static int dump_size_or_percent(FILE *f, const struct config_item *item, const void *base) {
        const struct size_or_percent *v = CONST_FIELD(base, item, struct size_or_percent);
        char buf[32];

        if (v->is_percent)
                format_percent(buf, sizeof(buf), v->basis_points);
        else
                format_size_canonical(buf, sizeof(buf), v->bytes);
        return dump_kv(f, item->key, buf);
}

static int dump_fast_max(FILE *f, const struct config_item *item, const void *base) {
        const struct config_workload *w = base;

        if (!w->has_fast_max)
                return dump_kv(f, item->key, NULL);
        return dump_size_or_percent(f, item, base);
}

static int dump_unsigned(FILE *f, const struct config_item *item, const void *base) {
        char buf[16];

        snprintf(buf, sizeof(buf), "%u", *CONST_FIELD(base, item, unsigned));
        return dump_kv(f, item->key, buf);
}

static int dump_duration_us(FILE *f, const struct config_item *item, const void *base) {
        char buf[32];

        format_duration_canonical(buf, sizeof(buf), *CONST_FIELD(base, item, uint64_t));
        return dump_kv(f, item->key, buf);
}

static int dump_size_bytes(FILE *f, const struct config_item *item, const void *base) {
        char buf[32];

        format_size_canonical(buf, sizeof(buf), *CONST_FIELD(base, item, uint64_t));
        return dump_kv(f, item->key, buf);
}

static int dump_tier(FILE *f, const struct config_item *item, const void *base) {
        const struct tierd_config *c = base;
        _cleanup_free_ char *s = NULL;

        /* Unset tiers have no spelling: an empty value is an error, which keeps "tierN =" from meaning two things. */
        if (item->index >= c->n_tiers) {
                if (item->index == 0)
                        fputs("# none configured: tiers are detected from the kernel\n", f);
                return 0;
        }
        s = node_set_format(&c->tiers[item->index]);
        if (!s)
                return -ENOMEM;
        return dump_kv(f, item->key, s);
}

/* Packs words into repeated "key = a b c" lines; repeated list keys accumulate, so this reads back the same. */
static int dump_words(FILE *f, const char *key, char *const *words, size_t n) {
        size_t i = 0;

        if (n == 0)
                return dump_kv(f, key, NULL);

        while (i < n) {
                _cleanup_free_ char *line = NULL;
                size_t len = 0, j = i;

                for (; j < n; j++) {
                        size_t w = strlen(words[j]);

                        if (j > i && len + 1 + w > DUMP_LIST_WIDTH)
                                break;
                        len += (j > i) + w;
                }
                line = malloc(len + 1);
                if (!line)
                        return -ENOMEM;
                line[0] = '\0';
                for (size_t k = i; k < j; k++) {
                        if (k > i)
                                strcat(line, " ");
                        strcat(line, words[k]);
                }
                dump_kv(f, key, line);
                i = j;
        }
        return 0;
}

static int dump_strv(FILE *f, const struct config_item *item, const void *base) {
        char **l = *CONST_FIELD(base, item, char **);

        return dump_words(f, item->key, l, strv_length(l));
}

static int dump_pid_list(FILE *f, const struct config_item *item, const void *base) {
        const pid_t *pids = *CONST_FIELD(base, item, pid_t *);
        size_t n = *CONST_COUNT_FIELD(base, item);
        _cleanup_strv_free_ char **words = NULL;
        int r;

        for (size_t i = 0; i < n; i++) {
                char buf[16];

                snprintf(buf, sizeof(buf), "%d", (int) pids[i]);
                r = strv_push(&words, buf);
                if (r < 0)
                        return r;
        }
        return dump_words(f, item->key, words, n);
}

/* ---- lookup and suggestions ---- */

static bool section_exists(const char *section) {
        for (size_t i = 0; i < ELEMENTSOF(config_items); i++)
                if (streq(config_items[i].section, section))
                        return true;
        return false;
}

static const struct config_item *item_find(const char *section, const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(config_items); i++)
                if (streq(config_items[i].section, section) && streq(config_items[i].key, key))
                        return &config_items[i];
        return NULL;
}

/* Case-insensitive edit distance, for "did you mean"; names longer than this are not worth suggesting for. */
#define SUGGEST_NAME_MAX 64
static unsigned edit_distance(const char *a, const char *b) {
        unsigned row[SUGGEST_NAME_MAX + 1];
        size_t la = strlen(a), lb = strlen(b);

        if (la > SUGGEST_NAME_MAX || lb > SUGGEST_NAME_MAX)
                return UINT_MAX;
        for (size_t j = 0; j <= lb; j++)
                row[j] = (unsigned) j;
        for (size_t i = 1; i <= la; i++) {
                unsigned diag = row[0];

                row[0] = (unsigned) i;
                for (size_t j = 1; j <= lb; j++) {
                        unsigned up = row[j];
                        unsigned cost = tolower((unsigned char) a[i - 1]) != tolower((unsigned char) b[j - 1]);

                        row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), diag + cost);
                        diag = up;
                }
        }
        return row[lb];
}

static bool is_near_miss(const char *typed, const char *known) {
        unsigned d = edit_distance(typed, known);

        return d <= 2 && d < strlen(known);
}

/* The closest key of section, or with section NULL the closest section name, if any is a near miss. */
static const char *suggest(const char *section, const char *typed) {
        const char *best = NULL;
        unsigned best_d = UINT_MAX;

        for (size_t i = 0; i < ELEMENTSOF(config_items); i++) {
                const char *known = section ? config_items[i].key : config_items[i].section;
                unsigned d;

                if ((section && !streq(config_items[i].section, section)) || !is_near_miss(typed, known))
                        continue;
                d = edit_distance(typed, known);
                if (d < best_d) {
                        best = known;
                        best_d = d;
                }
        }
        return best;
}

/* "a, b, c" of the keys of a section, or of all sections as "[a], [b]" when section is NULL. */
static char *list_names(const char *section) {
        char *s = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&s, &size);
        const char *prev = NULL;

        if (!f)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(config_items); i++) {
                const struct config_item *item = &config_items[i];

                if (section && streq(item->section, section))
                        fprintf(f, "%s%s", ftell(f) > 0 ? ", " : "", item->key);
                else if (!section && !streq_ptr(prev, item->section))
                        fprintf(f, "%s[%s]", ftell(f) > 0 ? ", " : "", item->section);
                prev = item->section;
        }
        if (fclose(f) != 0)
                return mfree(s);
        return s;
}

static void unknown_key(struct config_parser *p, const char *key) {
        _cleanup_free_ char *valid = list_names(p->table_section);
        char buf[ELLIPSIZE_MAX + 4];
        const char *other = NULL;
        const char *hint;

        for (size_t i = 0; i < ELEMENTSOF(config_items); i++)
                if (streq(config_items[i].key, key)) {
                        other = config_items[i].section;
                        break;
                }
        if (other) {
                config_error(p, "key \"%s\" belongs in section [%s], not [%s]", key, other, p->section);
                return;
        }
        hint = suggest(p->table_section, key);
        if (hint)
                config_error(p, "unknown key \"%s\" in section [%s]; did you mean \"%s\"?", ellipsize(key, buf),
                             p->section, hint);
        else
                config_error(p, "unknown key \"%s\" in section [%s]: expected one of %s", ellipsize(key, buf),
                             p->section, strna(valid));
}

static void unknown_section(struct config_parser *p) {
        _cleanup_free_ char *valid = list_names(NULL);
        const char *hint = suggest(NULL, p->section);
        const char *dot = strchr(p->section, '.');
        char buf[ELLIPSIZE_MAX + 4];

        /* [targets.db], [traget.db]: the workload sections are the ones with a dot. */
        if (dot && dot > p->section && dot - p->section <= SUGGEST_NAME_MAX) {
                char prefix[SUGGEST_NAME_MAX + 1];

                snprintf(prefix, sizeof(prefix), "%.*s", (int) (dot - p->section), p->section);
                if (is_near_miss(prefix, "target")) {
                        config_error(p, "unknown section [%s]; did you mean [target%s]?", ellipsize(p->section, buf),
                                     dot);
                        return;
                }
        }
        if (hint)
                config_error(p, "unknown section [%s]; did you mean [%s]?", ellipsize(p->section, buf), hint);
        else
                config_error(p, "unknown section [%s]: expected one of %s", ellipsize(p->section, buf),
                             strna(valid));
}

/* ---- the inih glue ---- */

/* As inih's own find_chars_or_comment(): the first of chars, or an inline ';' comment that follows whitespace. */
static const char *find_chars_or_comment(const char *s, const char *chars) {
        bool was_space = false;

        while (*s && (!chars || !strchr(chars, *s)) && !(was_space && *s == ';')) {
                was_space = isspace((unsigned char) *s);
                s++;
        }
        return s;
}

static const char *skip_space(const char *s) {
        while (*s && isspace((unsigned char) *s))
                s++;
        return s;
}

static int set_section(struct config_parser *p, const char *name, size_t len, enum section_state state) {
        char *s = strndup(name, len);

        if (!s)
                return -ENOMEM;
        free(p->section);
        p->section = s;
        p->table_section = s;
        p->section_state = state;
        p->base = p->config;
        return 0;
}

static bool workload_name_valid(const char *name) {
        size_t n = strlen(name);

        return n > 0 && n <= WORKLOAD_NAME_MAX &&
               strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == n;
}

/* A [target.NAME] header: adds the workload its keys go to. Problems are reported here, and the section's keys
 * are then ignored (they would only add noise). */
static void workload_enter(struct config_parser *p) {
        const char *name = p->section + strlen(WORKLOAD_PREFIX);
        struct tierd_config *c = p->config;
        struct config_workload *a;
        char buf[ELLIPSIZE_MAX + 4];

        p->section_state = SECTION_IGNORED;
        if (!workload_name_valid(name)) {
                config_error(p, "invalid workload name in section [%s]: expected [target.NAME] with a NAME of 1 to "
                             "%d letters, digits, \"_\", \"-\" or \".\"",
                             ellipsize(p->section, buf), WORKLOAD_NAME_MAX);
                return;
        }
        for (size_t i = 0; i < c->n_workloads; i++)
                if (streq(c->workloads[i].name, name)) {
                        config_error(p, "duplicate section [%s], first given on line %u: each workload is given "
                                     "once",
                                     p->section, c->workloads[i].line);
                        return;
                }
        if (c->n_workloads >= WORKLOADS_MAX) {
                config_error(p, "too many [target.NAME] sections: at most %d", WORKLOADS_MAX);
                return;
        }

        a = reallocarray(c->workloads, c->n_workloads + 1, sizeof(*a));
        if (!a) {
                p->oom = true;
                return;
        }
        c->workloads = a;
        a[c->n_workloads] = (struct config_workload) { .name = strdup(name), .line = p->line };
        if (!a[c->n_workloads].name) {
                p->oom = true;
                return;
        }
        p->base = &a[c->n_workloads++];
        /* "Given once" is per section for these keys. */
        for (size_t i = 0; i < ELEMENTSOF(config_items); i++)
                if (config_items[i].flags & CONFIG_PER_WORKLOAD)
                        p->item_line[i] = 0;
        p->table_section = WORKLOAD_SECTION;
        p->section_state = SECTION_KNOWN;
}

/* inih reports only the first syntax error and calls the handler for keys only, so every line is classified here
 * as well, with the same rules inih applies under the options config_parse() sets. Returns false when the line was
 * rejected and must not reach inih. */
static bool classify_line(struct config_parser *p, const char *line) {
        const char *s = line, *end;

        if (p->line == 1 && startswith(s, "\xEF\xBB\xBF"))
                s += 3;
        s = skip_space(s);
        if (*s == '\0' || *s == ';' || *s == '#')
                return true;

        if (*s == '[') {
                end = find_chars_or_comment(s + 1, "]");
                if (*end != ']') {
                        config_error(p, "syntax error: section header is missing the closing \"]\"");
                        if (set_section(p, "", 0, SECTION_IGNORED) < 0)
                                p->oom = true;
                        return false;
                }
                if (set_section(p, s + 1, (size_t) (end - s - 1), SECTION_KNOWN) < 0) {
                        p->oom = true;
                        return false;
                }
                if (startswith(p->section, WORKLOAD_PREFIX))
                        workload_enter(p);
                else if (!section_exists(p->section) || streq(p->section, WORKLOAD_SECTION)) {
                        unknown_section(p);
                        p->section_state = SECTION_IGNORED;
                }
                s = skip_space(end + 1);
                if (*s && *s != ';' && *s != '#') {
                        char buf[ELLIPSIZE_MAX + 4];

                        config_error(p, "syntax error: unexpected text after section header [%s]",
                                     ellipsize(p->section, buf));
                        return false;
                }
                return true;
        }

        end = find_chars_or_comment(s, "=:");
        if (*end != '=') {
                /* inih would take "key: value" too; one spelling keeps the documented format the only one. */
                config_error(p, "syntax error: expected \"key = value\", a [section] header or a comment");
                return false;
        }
        return true;
}

static char *config_reader(char *buf, int size, void *userdata) {
        struct config_parser *p = userdata;
        const char *start = p->pos, *eol;
        size_t len;

        if (p->pos >= p->end || size < 3)
                return NULL;

        eol = memchr(start, '\n', (size_t) (p->end - start));
        p->pos = eol ? eol + 1 : p->end;
        len = (size_t) ((eol ?: p->end) - start);
        if (len > 0 && start[len - 1] == '\r')
                len--;
        p->line++;

        if (memchr(start, '\0', len))
                config_error(p, "line contains a NUL byte: expected a text file");
        else if (len > (size_t) size - 2)
                config_error(p, "line is too long (%zu characters): expected at most %d", len, size - 2);
        else {
                memcpy(buf, start, len);
                buf[len] = '\n';
                buf[len + 1] = '\0';
                if (classify_line(p, buf))
                        return buf;
        }

        /* Already reported: an empty line keeps inih's line count in step and shows it nothing to misparse. */
        strcpy(buf, "\n");
        return buf;
}

static int config_handler(void *userdata, const char *section, const char *key, const char *value) {
        struct config_parser *p = userdata;
        const struct config_item *item;
        size_t idx;
        int r;

        /* inih truncates long section names; the reader keeps the real one in p->section. */
        (void) section;

        if (p->oom)
                return 1;
        if (p->section_state == SECTION_NONE) {
                char buf[ELLIPSIZE_MAX + 4];

                config_error(p, "key \"%s\" appears before any section header: expected a section such as "
                             "[daemon] first", ellipsize(key, buf));
                return 1;
        }
        if (p->section_state == SECTION_IGNORED)
                return 1;
        if (isempty(key)) {
                config_error(p, "syntax error: missing key name before \"=\"");
                return 1;
        }

        item = item_find(p->table_section, key);
        if (!item) {
                unknown_key(p, key);
                return 1;
        }

        idx = (size_t) (item - config_items);
        if (!(item->flags & CONFIG_LIST)) {
                if (p->item_line[idx] > 0) {
                        config_error(p, "duplicate key \"%s\" in section [%s], first set on line %u: each "
                                     "setting may be given once",
                                     key, p->section, p->item_line[idx]);
                        return 1;
                }
                p->item_line[idx] = p->line;
                if (isempty(value) && !(item->flags & CONFIG_EMPTY_OK)) {
                        config_error(p, "missing value for %s: expected %s", key, item->expected);
                        return 1;
                }
        }

        r = item->parse(p, item, value);
        if (r == -ENOMEM)
                p->oom = true;
        return 1;
}

/* Checks that need the whole file: tiers are an ordered list given as separate keys. */
static void config_check_tiers(struct config_parser *p) {
        unsigned line[TIERD_MAX_TIERS] = {};
        unsigned n = 0;

        /* Where each tierN was given, valid or not: a typo in tier1 must not also report tier2 as a gap. */
        for (size_t i = 0; i < ELEMENTSOF(config_items); i++)
                if (config_items[i].parse == parse_tier)
                        line[config_items[i].index] = p->item_line[i];

        while (n < TIERD_MAX_TIERS && line[n] > 0)
                n++;
        for (unsigned j = n + 1; j < TIERD_MAX_TIERS; j++)
                if (line[j] > 0) {
                        config_error_at(p, line[j], "tier%u is set but tier%u is missing: tiers must be "
                                        "numbered from tier0 (fastest) without gaps", j, n);
                        break;
                }

        for (unsigned i = 0; i < TIERD_MAX_TIERS; i++)
                for (unsigned j = i + 1; j < TIERD_MAX_TIERS; j++) {
                        struct node_set both;

                        if (!p->tier_valid[i] || !p->tier_valid[j] ||
                            !node_set_intersects(&p->config->tiers[i], &p->config->tiers[j]))
                                continue;
                        for (size_t k = 0; k < ELEMENTSOF(both.bits); k++)
                                both.bits[k] = p->config->tiers[i].bits[k] & p->config->tiers[j].bits[k];
                        config_error_at(p, line[j], "node %d is in both tier%u (line %u) and tier%u: a node "
                                        "belongs to one tier only",
                                        node_set_next(&both, 0), i, line[i], j);
                }

        p->config->n_tiers = n;
}

static unsigned item_line_of(const struct config_parser *p, const char *section, const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(config_items); i++)
                if (streq(config_items[i].section, section) && streq(config_items[i].key, key))
                        return p->item_line[i];
        return 0;
}

/* The line to blame for a conflict between two keys: the one the file set last (a default has no line). */
static unsigned conflict_line(const struct config_parser *p, const char *section_a, const char *key_a,
                              const char *section_b, const char *key_b) {
        return MAX(item_line_of(p, section_a, key_a), item_line_of(p, section_b, key_b));
}

/* Checks between keys, made once the whole file is read so the order of keys does not matter. */
static void config_check_relations(struct config_parser *p) {
        const struct tierd_config *c = p->config;

        if (c->hot_threshold != HEAT_HOT_THRESHOLD_ALL_PASSES && c->hot_threshold > c->passes)
                config_error_at(p, conflict_line(p, "policy", "hot_threshold", "scan", "passes"),
                                "hot_threshold = %u can never be reached with passes = %u: a page is hit at most "
                                "once per pass",
                                c->hot_threshold, c->passes);

        /* A page must not be able to go from cold to hot, or hot to cold, in a single round: with no warm
         * round in between, one burst or one quiet round would move it and the next would move it back. */
        if (c->promote_rounds + c->cold_rounds < 3)
                config_error_at(p, conflict_line(p, "policy", "promote_rounds", "policy", "cold_rounds"),
                                "promote_rounds = %u and cold_rounds = %u leave no gap between hot and cold: "
                                "their sum must be at least 3",
                                c->promote_rounds, c->cold_rounds);

        if (c->fast_free_min.is_percent == c->fast_free_target.is_percent &&
            (c->fast_free_min.is_percent ? c->fast_free_target.basis_points < c->fast_free_min.basis_points
                                         : c->fast_free_target.bytes < c->fast_free_min.bytes))
                config_error_at(p, conflict_line(p, "policy", "fast_free_min", "policy", "fast_free_target"),
                                "fast_free_target is smaller than fast_free_min: the target of free memory must be "
                                "at least the minimum");

        if (c->pass_interval_min_us > c->pass_interval_max_us)
                config_error_at(p, conflict_line(p, "scan", "pass_interval_min", "scan", "pass_interval_max"),
                                "pass_interval_min is longer than pass_interval_max");
        else if (c->pass_interval_auto &&
                 (c->pass_interval_us < c->pass_interval_min_us || c->pass_interval_us > c->pass_interval_max_us)) {
                char a[FORMAT_DURATION_MAX], b[FORMAT_DURATION_MAX], v[FORMAT_DURATION_MAX];

                config_error_at(p, MAX(conflict_line(p, "scan", "pass_interval", "scan", "pass_interval_min"),
                                       item_line_of(p, "scan", "pass_interval_max")),
                                "pass_interval = %s is outside [pass_interval_min, pass_interval_max] = [%s, %s]: with "
                                "pass_interval_auto = yes it is the starting value of the tuned interval",
                                format_duration(v, sizeof(v), c->pass_interval_us),
                                format_duration(a, sizeof(a), c->pass_interval_min_us),
                                format_duration(b, sizeof(b), c->pass_interval_max_us));
        }

        if (c->max_backoff_rounds < c->min_residency_rounds)
                config_error_at(p, conflict_line(p, "policy", "max_backoff_rounds", "policy", "min_residency_rounds"),
                                "max_backoff_rounds = %u is smaller than min_residency_rounds = %u",
                                c->max_backoff_rounds, c->min_residency_rounds);

        if (c->batch_bytes % HEAT_PAGE_SIZE != 0)
                config_error_at(p, item_line_of(p, "migrate", "batch_size"),
                                "batch_size must be a whole number of 4K pages");

        for (size_t i = 0; i < c->n_workloads; i++) {
                const struct config_workload *w = &c->workloads[i];

                if (w->n_pids == 0 && strv_length(w->cgroups) == 0 && strv_length(w->comms) == 0 &&
                    strv_length(w->exes) == 0)
                        config_error_at(p, w->line, "section [target.%s] selects no process: expected at least one "
                                        "of cgroup, comm, exe or pid",
                                        w->name);
        }

        if (c->damon_min_regions > c->damon_max_regions)
                config_error_at(p, conflict_line(p, "scan", "damon_min_regions", "scan", "damon_max_regions"),
                                "damon_min_regions = %u is larger than damon_max_regions = %u",
                                c->damon_min_regions, c->damon_max_regions);
}

/* inih's options are process-wide variables in Debian's build (INI_RUNTIME_OPTIONS); they are set for each parse
 * so that the reader's line classification matches what inih does, and put back afterwards for any other user
 * in the process. Not thread-safe, like the rest of the daemon's single-threaded event loop. */
struct ini_options {
        bool allow_multiline, allow_bom, allow_inline_comments, use_stack, allow_realloc, stop_on_first_error,
                allow_no_value;
        char *start_comment_prefixes, *inline_comment_prefixes;
        int max_line;
};

static void ini_options_save(struct ini_options *o) {
        *o = (struct ini_options) {
                .allow_multiline = ini_allow_multiline,
                .allow_bom = ini_allow_bom,
                .allow_inline_comments = ini_allow_inline_comments,
                .use_stack = ini_use_stack,
                .allow_realloc = ini_allow_realloc,
                .stop_on_first_error = ini_stop_on_first_error,
                .allow_no_value = ini_allow_no_value,
                .start_comment_prefixes = ini_start_comment_prefixes,
                .inline_comment_prefixes = ini_inline_comment_prefixes,
                .max_line = ini_max_line,
        };
}

static void ini_options_restore(const struct ini_options *o) {
        ini_allow_multiline = o->allow_multiline;
        ini_allow_bom = o->allow_bom;
        ini_allow_inline_comments = o->allow_inline_comments;
        ini_use_stack = o->use_stack;
        ini_allow_realloc = o->allow_realloc;
        ini_stop_on_first_error = o->stop_on_first_error;
        ini_allow_no_value = o->allow_no_value;
        ini_start_comment_prefixes = o->start_comment_prefixes;
        ini_inline_comment_prefixes = o->inline_comment_prefixes;
        ini_max_line = o->max_line;
}

static int config_parse(const char *name, const char *text, size_t size, struct tierd_config **ret) {
        static char start_comment_prefixes[] = ";#", inline_comment_prefixes[] = ";";
        _cleanup_config_free_ struct tierd_config *c = NULL;
        struct ini_options saved;
        struct config_parser p;
        int r;

        r = config_new_defaults(&c);
        if (r < 0)
                return r;

        p = (struct config_parser) {
                .name = name,
                .config = c,
                .base = c,
                .pos = text,
                .end = text + size,
        };

        ini_options_save(&saved);
        /* Continuation lines would turn an indented "key = value" into part of the previous value. */
        ini_allow_multiline = false;
        ini_allow_bom = true;
        ini_allow_inline_comments = true;
        ini_inline_comment_prefixes = inline_comment_prefixes;
        ini_start_comment_prefixes = start_comment_prefixes;
        ini_allow_no_value = false;
        ini_stop_on_first_error = false;
        /* The line buffer is a VLA of ini_max_line bytes; it must hold a line, its '\n' and the NUL. */
        ini_use_stack = true;
        ini_allow_realloc = false;
        ini_max_line = CONFIG_LINE_MAX + 2;

        r = ini_parse_stream(config_reader, &p, config_handler, &p);

        ini_options_restore(&saved);
        free(p.section);

        if (r == -2 || p.oom)
                return log_error_errno(ENOMEM, "%s: out of memory while parsing the configuration", name);
        if (r > 0 && (unsigned) r <= p.line)
                /* The reader passes on only lines it accepted, so this is a rule it does not know about. */
                config_error_at(&p, (unsigned) r, "syntax error: expected \"key = value\", a [section] header "
                                "or a comment");
        else if (r != 0)
                return log_error_errno(EIO, "%s: the INI parser failed (%d)", name, r);

        config_check_tiers(&p);
        config_check_relations(&p);

        if (p.n_errors > 0)
                return -EINVAL;

        *ret = TAKE_PTR(c);
        return 0;
}

/* ---- public API ---- */

int config_new_defaults(struct tierd_config **ret) {
        _cleanup_config_free_ struct tierd_config *c = NULL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;

        *c = (struct tierd_config) {
                .log_level = LOG_INFO,
                .control_gid = (gid_t) -1,
                .passes = 3,
                .pass_interval_us = USEC_PER_SEC,
                .backend = SCAN_BACKEND_AUTO,
                .damon_kdamond = -1,
                .damon_sample_interval_us = 5 * USEC_PER_MSEC,
                .cpu_budget_bp = CPU_BUDGET_DEFAULT_BP,
                /* DAMON starts from evenly split regions and adapts them only once per aggregation interval; with
                 * DAMON's usual 10, a hot quarter of a process shares regions with cold memory for many passes.
                 * 100 regions cost 100 samples per sample interval, which is nothing. */
                .damon_min_regions = 100,
                .damon_max_regions = 1000,
                .bpf = true,
                .kernel_fight = KERNEL_FIGHT_WARN,
                .hot_threshold = HEAT_HOT_THRESHOLD_ALL_PASSES,
                .promote_rounds = 2,
                .cold_rounds = 3,
                .min_rss_bytes = 0,
                .fast_free_min = { .is_percent = true, .basis_points = 200 },
                .fast_free_target = { .is_percent = true, .basis_points = 500 },
                .hot_target = { .is_percent = true, .basis_points = 5000 },
                .pass_interval_auto = true,
                .exchange_feedback = false,
                .fill_free = true,
                .pass_interval_min_us = 100 * USEC_PER_MSEC,
                .pass_interval_max_us = 10 * USEC_PER_SEC,
                .min_residency_rounds = 2,
                .pingpong_window_rounds = 8,
                .max_backoff_rounds = 64,
                .promote_rate_bytes = UINT64_C(256) << 20,
                .demote_rate_bytes = UINT64_C(256) << 20,
                .promote_round_max_bytes = UINT64_C(1) << 30,
                .demote_round_max_bytes = UINT64_C(1) << 30,
                .batch_bytes = UINT64_C(4) << 20,
        };
        c->control_socket = strdup(TIERD_CONTROL_SOCKET_PATH);
        if (!c->control_socket)
                return -ENOMEM;

        *ret = TAKE_PTR(c);
        return 0;
}

int config_load_string(const char *name, const char *text, struct tierd_config **ret) {
        return config_parse(name, text, strlen(text), ret);
}

bool config_selects_targets(const struct tierd_config *c) {
        return c && (strv_length(c->cgroups) > 0 || strv_length(c->comms) > 0 || strv_length(c->exes) > 0 ||
                     c->n_pids > 0 || c->n_workloads > 0);
}

int config_load(const char *path, struct tierd_config **ret) {
        _cleanup_config_free_ struct tierd_config *c = NULL;
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r;

        r = read_full_file(path, CONFIG_FILE_MAX_BYTES, &text, &size);
        if (r == -EFBIG)
                return log_error_errno(r, "%s: configuration file larger than %u KiB (is it a configuration file?), "
                                       "refusing it", path, CONFIG_FILE_MAX_BYTES / 1024);
        if (r < 0)
                return log_error_errno(r, "%s: cannot read configuration file: %m", path);

        r = config_parse(path, text, size, &c);
        if (r < 0)
                return r;

        c->path = strdup(path);
        if (!c->path)
                return log_error_errno(ENOMEM, "%s: out of memory", path);

        *ret = TAKE_PTR(c);
        return 0;
}

struct tierd_config *config_free(struct tierd_config *c) {
        if (!c)
                return NULL;
        free(c->path);
        free(c->control_socket);
        free(c->control_group);
        strv_free(c->cgroups);
        strv_free(c->comms);
        strv_free(c->exes);
        free(c->pids);
        strv_free(c->exclude_cgroups);
        strv_free(c->exclude_comms);
        strv_free(c->exclude_exes);
        free(c->exclude_pids);
        for (size_t i = 0; i < c->n_workloads; i++) {
                struct config_workload *w = &c->workloads[i];

                free(w->name);
                strv_free(w->cgroups);
                strv_free(w->comms);
                strv_free(w->exes);
                free(w->pids);
        }
        free(c->workloads);
        return mfree(c);
}

int config_dump(const struct tierd_config *c, FILE *f) {
        const char *section = NULL;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(config_items); i++) {
                const struct config_item *item = &config_items[i];

                if (item->flags & CONFIG_PER_WORKLOAD)
                        continue;
                if (!streq_ptr(section, item->section)) {
                        fprintf(f, "%s[%s]\n", section ? "\n" : "", item->section);
                        section = item->section;
                }
                r = item->dump(f, item, c);
                if (r < 0)
                        return r;
        }
        for (size_t w = 0; w < c->n_workloads; w++) {
                fprintf(f, "\n[%s%s]\n", WORKLOAD_PREFIX, c->workloads[w].name);
                for (size_t i = 0; i < ELEMENTSOF(config_items); i++) {
                        const struct config_item *item = &config_items[i];

                        if (!(item->flags & CONFIG_PER_WORKLOAD))
                                continue;
                        r = item->dump(f, item, &c->workloads[w]);
                        if (r < 0)
                                return r;
                }
        }
        if (fflush(f) != 0 || ferror(f))
                return negative_errno();
        return 0;
}

static bool strv_equal(char *const *a, char *const *b) {
        size_t n = strv_length(a);

        if (n != strv_length(b))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return true;
}

static bool pids_equal(const pid_t *a, size_t n_a, const pid_t *b, size_t n_b) {
        return n_a == n_b && (n_a == 0 || memcmp(a, b, n_a * sizeof(pid_t)) == 0);
}

static bool size_or_percent_equal(const struct size_or_percent *a, const struct size_or_percent *b) {
        return a->is_percent == b->is_percent && (a->is_percent ? a->basis_points == b->basis_points
                                                                : a->bytes == b->bytes);
}

static bool workload_equal(const struct config_workload *a, const struct config_workload *b) {
        return streq(a->name, b->name) && strv_equal(a->cgroups, b->cgroups) && strv_equal(a->comms, b->comms) &&
               strv_equal(a->exes, b->exes) && pids_equal(a->pids, a->n_pids, b->pids, b->n_pids) &&
               a->has_fast_max == b->has_fast_max &&
               (!a->has_fast_max || size_or_percent_equal(&a->fast_max, &b->fast_max));
}

bool config_equal(const struct tierd_config *a, const struct tierd_config *b) {
        if (a == b)
                return true;
        if (!a || !b)
                return false;

        if (a->log_level != b->log_level || !streq_ptr(a->control_socket, b->control_socket) ||
            !streq_ptr(a->control_group, b->control_group) || a->control_gid != b->control_gid)
                return false;
        if (a->passes != b->passes || a->pass_interval_us != b->pass_interval_us || a->backend != b->backend ||
            a->damon_kdamond != b->damon_kdamond || a->damon_sample_interval_us != b->damon_sample_interval_us ||
            a->damon_min_regions != b->damon_min_regions || a->damon_max_regions != b->damon_max_regions ||
            a->damon_results != b->damon_results || a->bpf != b->bpf || a->cpu_budget_bp != b->cpu_budget_bp)
                return false;
        if (a->hot_threshold != b->hot_threshold || a->promote_rounds != b->promote_rounds ||
            a->cold_rounds != b->cold_rounds)
                return false;
        if (!size_or_percent_equal(&a->fast_free_min, &b->fast_free_min) ||
            !size_or_percent_equal(&a->fast_free_target, &b->fast_free_target) ||
            !size_or_percent_equal(&a->hot_target, &b->hot_target) ||
            a->pass_interval_auto != b->pass_interval_auto || a->pass_interval_min_us != b->pass_interval_min_us ||
            a->pass_interval_max_us != b->pass_interval_max_us ||
            a->min_residency_rounds != b->min_residency_rounds ||
            a->pingpong_window_rounds != b->pingpong_window_rounds ||
            a->max_backoff_rounds != b->max_backoff_rounds || a->kernel_fight != b->kernel_fight ||
            a->exchange_feedback != b->exchange_feedback || a->fill_free != b->fill_free)
                return false;
        if (a->promote_rate_bytes != b->promote_rate_bytes || a->demote_rate_bytes != b->demote_rate_bytes ||
            a->promote_round_max_bytes != b->promote_round_max_bytes ||
            a->demote_round_max_bytes != b->demote_round_max_bytes || a->batch_bytes != b->batch_bytes ||
            a->move_shared != b->move_shared || a->tier_skip != b->tier_skip || a->dry_run != b->dry_run)
                return false;
        if (a->n_tiers != b->n_tiers || a->n_workloads != b->n_workloads)
                return false;
        for (size_t i = 0; i < a->n_workloads; i++)
                if (!workload_equal(&a->workloads[i], &b->workloads[i]))
                        return false;
        for (unsigned i = 0; i < a->n_tiers; i++)
                if (memcmp(&a->tiers[i], &b->tiers[i], sizeof(a->tiers[i])) != 0)
                        return false;
        return strv_equal(a->cgroups, b->cgroups) && strv_equal(a->comms, b->comms) &&
               strv_equal(a->exes, b->exes) && pids_equal(a->pids, a->n_pids, b->pids, b->n_pids) &&
               a->min_rss_bytes == b->min_rss_bytes && strv_equal(a->exclude_cgroups, b->exclude_cgroups) &&
               strv_equal(a->exclude_comms, b->exclude_comms) && strv_equal(a->exclude_exes, b->exclude_exes) &&
               pids_equal(a->exclude_pids, a->n_exclude_pids, b->exclude_pids, b->n_exclude_pids);
}

uint64_t config_workload_fast_max_bytes(const struct config_workload *w, uint64_t fast_total_bytes) {
        if (!w || !w->has_fast_max)
                return UINT64_MAX;
        return size_or_percent_resolve(&w->fast_max, fast_total_bytes);
}
