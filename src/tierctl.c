/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "control.h"
#include "log.h"
#include "tierd-build.h"
#include "util.h"

/* Exit statuses, as documented in tierctl(8). 3 follows systemctl/LSB "not running". */
#define EXIT_NOT_RUNNING 3

static const char *arg_socket = TIERD_CONTROL_SOCKET_PATH;
static bool arg_json;

static void help(void) {
        printf("Usage: tierctl [OPTIONS] COMMAND\n\n"
               "Query and control the tierd memory tiering daemon.\n\n"
               "Commands:\n"
               "  status     Show the daemon's state, tiers, targets and totals\n"
               "  targets    List the target processes\n"
               "  metrics    Print metrics in Prometheus text format\n"
               "  pages PID [--range START-END]\n"
               "             Heat of a target's memory, per mapping: hit counts, classes, bytes per node\n"
               "  pause      Stop scanning and moving pages (root only)\n"
               "  resume     Resume after pause (root only)\n"
               "  reload     Reload the configuration file (root only)\n\n"
               "Options:\n"
               "  -s --socket=PATH  Control socket (default: %s)\n"
               "  -j --json         Print JSON (status, targets, pages)\n"
               "  -h --help         Show this help\n"
               "     --version      Show the version\n\n"
               "Exit status: 0 success, 1 failure, 3 daemon not running.\n",
               TIERD_CONTROL_SOCKET_PATH);
}

static uint64_t get_u64(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                return 0;
        return json_object_get_uint64(v);
}

/* ", 12.0M kept by the kernel" when the daemon reports any: free memory that promotions cannot use. */
static const char *kept_text(json_object *o, char *buf, size_t size) {
        char b[FORMAT_BYTES_MAX];
        uint64_t kept = get_u64(o, "kept_bytes");

        if (kept == 0)
                return "";
        snprintf(buf, size, " (%s kept by the kernel)", format_bytes(b, sizeof(b), kept));
        return buf;
}

static const char *get_str(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static void print_nodes(json_object *nodes, char *buf, size_t size) {
        size_t pos = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < json_object_array_length(nodes) && pos < size; i++)
                pos += (size_t) snprintf(buf + pos, size - pos, "%s%d", i ? "," : "",
                                         json_object_get_int(json_object_array_get_idx(nodes, i)));
}

/* Per direction: ping-pongs, failures by errno, time in move_pages(), and in a dry run what would have moved. */
static void print_migrate(json_object *s) {
        char b1[FORMAT_BYTES_MAX], d1[FORMAT_DURATION_MAX];
        json_object *m, *dir, *failures, *dry;
        bool dry_run = false;

        if (!json_object_object_get_ex(s, "migrate", &m))
                return;
        if (json_object_object_get_ex(m, "dry_run", &dry))
                dry_run = json_object_get_boolean(dry);
        for (int i = 0; i < 2; i++) {
                const char *name = i == 0 ? "promote" : "demote";
                char fails[256] = "none";
                size_t pos = 0;

                if (!json_object_object_get_ex(m, name, &dir))
                        continue;
                if (json_object_object_get_ex(dir, "failures", &failures)) {
                        json_object_object_foreach(failures, key, val)
                                if (pos < sizeof(fails))
                                        pos += (size_t) snprintf(fails + pos, sizeof(fails) - pos, "%s%s %" PRIu64,
                                                                 pos ? ", " : "", key,
                                                                 (uint64_t) json_object_get_uint64(val));
                }
                printf("              %s: %" PRIu64 " ping-pongs, %" PRIu64 " pages failed (%s), %s in move_pages, "
                       "%" PRIu64 " rate-limit waits\n",
                       name, get_u64(dir, "pingpongs"), get_u64(dir, "failed_pages"), fails,
                       format_duration(d1, sizeof(d1), get_u64(dir, "move_time_us")), get_u64(dir, "rate_waits"));
                if (dry_run || get_u64(dir, "dry_run_bytes") > 0)
                        printf("              %s (dry run): would have moved %s (%" PRIu64 " pages)\n", name,
                               format_bytes(b1, sizeof(b1), get_u64(dir, "dry_run_bytes")),
                               get_u64(dir, "dry_run_pages"));
        }
        if (dry_run)
                printf("     Dry run: pages are planned and counted, not moved\n");
}

/* "93.4%" from a JSON ratio, or NULL when the daemon had nothing to judge. */
static const char *ratio_text(json_object *o, const char *key, char *buf, size_t size) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !v)
                return NULL;
        snprintf(buf, size, "%.1f%%", json_object_get_double(v) * 100);
        return buf;
}

/* The payoff ledger, per workload: what moves bought, and how readily exchanges happen because of it. */
static void print_payoff(json_object *s) {
        json_object *p, *books, *feedback;
        bool on = true;

        if (!json_object_object_get_ex(s, "payoff", &p) || !p || !json_object_object_get_ex(p, "books", &books))
                return;
        if (json_object_object_get_ex(p, "feedback", &feedback))
                on = json_object_get_boolean(feedback);
        for (size_t i = 0; i < json_object_array_length(books); i++) {
                json_object *b = json_object_array_get_idx(books, i), *total, *noted, *mean;
                char r1[16], r2[16], r3[16];
                const char *paid, *exch, *regret, *level = strna(get_str(b, "exchange"));

                if (!json_object_object_get_ex(b, "total", &total) || !json_object_object_get_ex(b, "moves_noted", &noted))
                        continue;
                /* Books of workloads that never moved anything, still at the level they started at, say nothing
                 * worth a line. */
                if (i > 0 && get_u64(noted, "promote") + get_u64(noted, "demote") == 0 &&
                    streq(level, on ? "probing" : "normal"))
                        continue;
                printf("%s %s: ", i == 0 ? "      Payoff:" : "             ",
                       get_str(b, "workload") ?: "targets outside any workload");
                paid = ratio_text(total, "paid_ratio", r1, sizeof(r1));
                exch = ratio_text(total, "exchange_paid_ratio", r2, sizeof(r2));
                regret = ratio_text(total, "regret_ratio", r3, sizeof(r3));
                if (!paid && !regret)
                        printf("nothing judged yet");
                if (paid)
                        printf("promotions paid off %s of bytes%s%s%s", paid, exch ? " (exchanges " : "", exch ?: "",
                               exch ? ")" : "");
                if (regret) {
                        printf("%sdemotion regret %s", paid ? ", " : "", regret);
                        if (json_object_object_get_ex(total, "regret_rounds_mean", &mean) && mean)
                                printf(" (after %.1f rounds)", json_object_get_double(mean));
                }
                if (paid || regret)
                        printf("; %" PRIu64 " promotions, %" PRIu64 " demotions judged in %" PRIu64 " plans",
                               get_u64(total, "promoted_units"), get_u64(total, "demoted_units"),
                               get_u64(total, "cohorts"));
                printf("\n              exchanges %s", level);
                if (!on)
                        printf(" (exchange_feedback is off)");
                else if (get_u64(b, "exchange_since_round") > 0)
                        printf(" since round %" PRIu64, get_u64(b, "exchange_since_round"));
                if (streq(level, "probing"))
                        printf(": planned and watched, not carried out, until they show they would pay");
                else if (streq(level, "eager"))
                        printf(": they paid; warm pages give way to any hot page");
                printf("\n");
        }
}

/* The kernel's own migrations beside tierd's, the fights, and which BPF features run. */
static void print_kernel(json_object *s) {
        static const char *const classes[] = { "promotion", "demotion", "damon", "compaction", "syscall", "other",
                                               "tierd" };
        json_object *k, *pages, *fights, *bpf, *dr;
        bool first = true;

        if (json_object_object_get_ex(s, "kernel_migrations", &k) && k) {
                const char *source = get_str(k, "source");

                printf("Kernel moves: from %s%s%s%s", strna(source), get_str(k, "attach_mode") ? " (" : "",
                       get_str(k, "attach_mode") ?: "", get_str(k, "attach_mode") ? ")" : "");
                if (json_object_object_get_ex(k, "pages", &pages) && pages)
                        for (size_t i = 0; i < ELEMENTSOF(classes); i++) {
                                json_object *v;

                                if (!json_object_object_get_ex(pages, classes[i], &v) || !v)
                                        continue;
                                printf("%s%s %" PRIu64, first ? ": pages " : ", ", classes[i],
                                       json_object_get_uint64(v));
                                first = false;
                        }
                printf("\n");
                if (!json_object_object_get_ex(k, "fights", &fights) || !fights)
                        fights = json_object_new_object(); /* an older daemon: nothing to show */
                else
                        json_object_get(fights);
                {
                        json_object_object_foreach(fights, kind, f) {
                                json_object *fighting = NULL;

                                if (get_u64(f, "fights") == 0)
                                        continue;
                                (void) json_object_object_get_ex(f, "fighting", &fighting);
                                printf("              %s fight with the kernel: %s, %" PRIu64 " so far, %" PRIu64
                                       " rounds, tierd at %" PRIu64 "/1000 of its limits (kernel_fight = %s)\n"
                                       "                remedy: %s\n",
                                       kind, json_object_get_boolean(fighting) ? "now" : "over",
                                       get_u64(f, "fights"), get_u64(f, "rounds"), get_u64(f, "permille"),
                                       strna(get_str(k, "fight_mode")), strna(get_str(f, "remedy")));
                        }
                }
                json_object_put(fights);
        }
        if (json_object_object_get_ex(s, "bpf", &bpf) && bpf) {
                first = true;
                json_object_object_foreach(bpf, name, f) {
                        json_object *active = NULL;

                        (void) json_object_object_get_ex(f, "active", &active);
                        if (json_object_get_boolean(active))
                                printf("%s %s: active (%s)\n", first ? "         BPF:" : "             ", name,
                                       strna(get_str(f, "attach_mode")));
                        else
                                printf("%s %s: off: %s\n", first ? "         BPF:" : "             ", name,
                                       strna(get_str(f, "reason")));
                        first = false;
                }
        }
        if (json_object_object_get_ex(s, "damon_results", &dr) && dr)
                printf(" DAMON results: last pass through %s; %" PRIu64 " pass(es) through the tracepoint, %" PRIu64
                       " through tried regions, %" PRIu64 " fell back\n", strna(get_str(dr, "last_path")),
                       get_u64(dr, "passes_tracepoint"), get_u64(dr, "passes_tried_regions"),
                       get_u64(dr, "fallbacks"));
}

static void print_cpu(json_object *s) {
        char d1[FORMAT_DURATION_MAX], d2[FORMAT_DURATION_MAX];
        json_object *cpu, *budget, *v;
        uint64_t used = 0, total = 0, slowdown;

        if (!json_object_object_get_ex(s, "cpu", &cpu) || !cpu)
                return;
        used = get_u64(cpu, "used_bp");
        total = get_u64(cpu, "used_total_bp");
        printf("         CPU: %" PRIu64 ".%02" PRIu64 "%% of one CPU over the last round and its wait (since start %"
               PRIu64 ".%02" PRIu64 "%%: tierd %s, kdamond %s)",
               used / 100, used % 100, total / 100, total % 100, format_duration(d1, sizeof(d1), get_u64(cpu, "tierd_us")),
               format_duration(d2, sizeof(d2), get_u64(cpu, "kdamond_us")));
        if (!json_object_object_get_ex(cpu, "budget_bp", &budget) || !budget) {
                printf("; no budget (cpu_budget = off)\n");
                return;
        }
        printf("; budget %d.%02d%%\n", json_object_get_int(budget) / 100, json_object_get_int(budget) % 100);
        if (!json_object_object_get_ex(cpu, "limiting", &v) || !json_object_get_boolean(v))
                return;
        slowdown = get_u64(cpu, "slowdown_permille");
        printf("              the budget, not the workload, sets the pace: the next round waits %s after the last "
               "(rounds %" PRIu64 ".%01" PRIu64 "x further apart than configured",
               format_duration(d1, sizeof(d1), get_u64(cpu, "round_gap_us")), slowdown / 1000, slowdown % 1000 / 100);
        if (get_u64(cpu, "damon_sample_scale") > 1)
                printf(", DAMON sampling %" PRIu64 "x sparser", get_u64(cpu, "damon_sample_scale"));
        if (get_u64(cpu, "damon_region_scale") > 1)
                printf(", at most %" PRIu64 "x fewer regions", get_u64(cpu, "damon_region_scale"));
        printf("), so changes in the workload show that much later\n");
}

/* "1.2s (round end)", or "none yet". */
static const char *turn_text(json_object *loop, const char *key, char *buf, size_t size) {
        char d[FORMAT_DURATION_MAX];
        json_object *t;

        if (!json_object_object_get_ex(loop, key, &t) || !t)
                return "none yet";
        snprintf(buf, size, "%s (%s)", format_duration(d, sizeof(d), get_u64(t, "us")), strna(get_str(t, "in")));
        return buf;
}

static void print_loop(json_object *s) {
        char t1[FORMAT_DURATION_MAX + 64], t2[FORMAT_DURATION_MAX + 64], d[FORMAT_DURATION_MAX];
        json_object *loop;
        uint64_t slow;

        if (!json_object_object_get_ex(s, "loop", &loop) || !loop)
                return;
        slow = get_u64(loop, "slow_turns");
        printf("        Loop: longest turn %s in the last round, %s since start; %" PRIu64 " of %" PRIu64
               " turns over %s%s\n",
               turn_text(loop, "longest_last_round", t1, sizeof(t1)), turn_text(loop, "longest", t2, sizeof(t2)),
               slow, get_u64(loop, "turns"), format_duration(d, sizeof(d), get_u64(loop, "slow_turn_us")),
               slow > 0 ? " (a request arriving then waits for the turn to end)" : "");
}

static void print_status(json_object *s) {
        char b1[FORMAT_BYTES_MAX], b2[FORMAT_BYTES_MAX], d1[FORMAT_DURATION_MAX], d2[FORMAT_DURATION_MAX];
        char kept[64];
        const char *state = get_str(s, "state"), *reason = get_str(s, "state_reason");
        json_object *tiers, *nodes;

        printf("tierd %s (pid %" PRIu64 ")\n", strna(get_str(s, "version")), get_u64(s, "pid"));
        printf("       State: %s%s%s\n", strna(state), reason ? ": " : "", reason ?: "");
        printf("      Uptime: %s\n", format_duration(d1, sizeof(d1), get_u64(s, "uptime_us")));
        printf("      Config: %s (%" PRIu64 " reloads, %" PRIu64 " refused)\n",
               get_str(s, "config") ?: "built-in defaults", get_u64(s, "config_reloads"),
               get_u64(s, "config_reload_failures"));
        printf("     Backend: %s (%s)\n", strna(get_str(s, "backend")), strna(get_str(s, "backend_reason")));
        if (json_object_object_get_ex(s, "backends", &tiers))
                for (size_t i = 0; i < json_object_array_length(tiers); i++) {
                        json_object *b = json_object_array_get_idx(tiers, i), *in_use;

                        if (json_object_object_get_ex(b, "in_use", &in_use) && json_object_get_boolean(in_use))
                                continue;
                        printf("              %s: %s\n", strna(get_str(b, "backend")), strna(get_str(b, "reason")));
                }
        printf("      Policy: %s\n", strna(get_str(s, "policy")));
        printf("      Rounds: %" PRIu64 " done, last took %s; every %s (%" PRIu64 " passes x %s)\n",
               get_u64(s, "round"), format_duration(d1, sizeof(d1), get_u64(s, "round_duration_us")),
               format_duration(d2, sizeof(d2), get_u64(s, "round_interval_us")), get_u64(s, "passes"),
               format_duration(b1, sizeof(b1), get_u64(s, "pass_interval_us")));
        print_cpu(s);
        print_loop(s);

        if (json_object_object_get_ex(s, "tiers", &tiers)) {
                size_t n = json_object_array_length(tiers);

                printf("       Tiers: %zu (from %s)\n", n, strna(get_str(s, "tier_source")));
                for (size_t i = 0; i < n; i++) {
                        json_object *t = json_object_array_get_idx(tiers, i), *tn, *kt;
                        char nodebuf[256] = "", kernel[32] = "";

                        if (json_object_object_get_ex(t, "nodes", &tn))
                                print_nodes(tn, nodebuf, sizeof(nodebuf));
                        if (json_object_object_get_ex(t, "kernel_tier", &kt) && kt)
                                snprintf(kernel, sizeof(kernel), " memory_tier%d", json_object_get_int(kt));
                        printf("              tier %" PRIu64 "%s: node%s %s, %s total, %s free%s\n",
                               get_u64(t, "tier"), kernel, strchr(nodebuf, ',') ? "s" : "", nodebuf,
                               format_bytes(b1, sizeof(b1), get_u64(t, "total_bytes")),
                               format_bytes(b2, sizeof(b2), get_u64(t, "free_bytes")), kept_text(t, kept, sizeof(kept)));
                        if (json_object_object_get_ex(t, "hot_bytes", NULL)) {
                                char b3[FORMAT_BYTES_MAX], b4[FORMAT_BYTES_MAX];

                                printf("                targets' pages here: %s hot, %s warm, %s cold, %s skipped\n",
                                       format_bytes(b1, sizeof(b1), get_u64(t, "hot_bytes")),
                                       format_bytes(b2, sizeof(b2), get_u64(t, "warm_bytes")),
                                       format_bytes(b3, sizeof(b3), get_u64(t, "cold_bytes")),
                                       format_bytes(b4, sizeof(b4), get_u64(t, "skipped_bytes")));
                        }
                }
        }
        if (json_object_object_get_ex(s, "nodes", &nodes))
                for (size_t i = 0; i < json_object_array_length(nodes); i++) {
                        json_object *n = json_object_array_get_idx(nodes, i), *t;
                        char tier[16] = "none";

                        if (json_object_object_get_ex(n, "tier", &t) && t)
                                snprintf(tier, sizeof(tier), "%d", json_object_get_int(t));
                        printf("%s node %" PRIu64 ": tier %s, %" PRIu64 " CPUs, %s total, %s free%s\n",
                               i == 0 ? "       Nodes:" : "             ", get_u64(n, "node"), tier,
                               get_u64(n, "cpus"), format_bytes(b1, sizeof(b1), get_u64(n, "total_bytes")),
                               format_bytes(b2, sizeof(b2), get_u64(n, "free_bytes")),
                               kept_text(n, kept, sizeof(kept)));
                }

        printf("     Targets: %" PRIu64 " processes, %s resident\n", get_u64(s, "targets"),
               format_bytes(b1, sizeof(b1), get_u64(s, "targets_rss_bytes")));
        if (json_object_object_get_ex(s, "workloads", &nodes))
                for (size_t i = 0; i < json_object_array_length(nodes); i++) {
                        json_object *w = json_object_array_get_idx(nodes, i), *max = NULL, *over = NULL, *used;

                        (void) json_object_object_get_ex(w, "fast_max_bytes", &max);
                        (void) json_object_object_get_ex(w, "over_budget", &over);
                        printf("%s %s: %" PRIu64 " processes", i == 0 ? "   Workloads:" : "             ",
                               strna(get_str(w, "name")), get_u64(w, "processes"));
                        if (max && json_object_object_get_ex(w, "fast_bytes", &used) && used)
                                printf(", %s of %s fast budget in use%s",
                                       format_bytes(b1, sizeof(b1), json_object_get_uint64(used)),
                                       format_bytes(b2, sizeof(b2), json_object_get_uint64(max)),
                                       json_object_get_boolean(over) ? " (over: demoting)" : "");
                        else if (max)
                                printf(", fast budget %s, not measured yet",
                                       format_bytes(b2, sizeof(b2), json_object_get_uint64(max)));
                        else
                                printf(", no fast budget");
                        printf("\n");
                }
        printf("     Tracked: %s in %" PRIu64 " pages (%" PRIu64 " THPs), heat store %s\n",
               format_bytes(b1, sizeof(b1), get_u64(s, "tracked_bytes")), get_u64(s, "tracked_pages"),
               get_u64(s, "tracked_thp_units"), format_bytes(b2, sizeof(b2), get_u64(s, "heat_store_bytes")));
        if (get_u64(s, "tracked_units") > 0)
                printf("     Settled: %" PRIu64 "%% of units where their trend wants them (%" PRIu64 "%% parked: cold "
                       "on the fast tier); last round observed %" PRIu64 "%% of pages\n",
                       get_u64(s, "settled_units") * 100 / get_u64(s, "tracked_units"),
                       get_u64(s, "parked_units") * 100 / get_u64(s, "tracked_units"),
                       get_u64(s, "observed_pages") * 100 / MAX(get_u64(s, "tracked_pages"), UINT64_C(1)));
        printf("       Moved: %s promoted (%" PRIu64 " pages), %s demoted (%" PRIu64 " pages)\n",
               format_bytes(b1, sizeof(b1), get_u64(s, "promoted_bytes")), get_u64(s, "promoted_pages"),
               format_bytes(b2, sizeof(b2), get_u64(s, "demoted_bytes")), get_u64(s, "demoted_pages"));
        print_migrate(s);
        print_payoff(s);
        print_kernel(s);
        if (get_u64(s, "log_suppressed") > 0)
                printf("        Logs: %" PRIu64 " repeated messages suppressed\n", get_u64(s, "log_suppressed"));
}

static void print_targets(json_object *a) {
        char b1[FORMAT_BYTES_MAX], b2[FORMAT_BYTES_MAX];
        size_t n = json_object_array_length(a);

        if (n == 0) {
                printf("No target processes (see [targets] in tierd.conf(5)).\n");
                return;
        }
        printf("%8s %-16s %10s %10s %6s %-8s %-12s %s\n", "PID", "COMM", "RSS", "MAPPED", "VMAS", "MATCH", "WORKLOAD",
               "CGROUP");
        for (size_t i = 0; i < n; i++) {
                json_object *t = json_object_array_get_idx(a, i);

                printf("%8" PRIu64 " %-16s %10s %10s %6" PRIu64 " %-8s %-12s %s\n", get_u64(t, "pid"),
                       strna(get_str(t, "comm")), format_bytes(b1, sizeof(b1), get_u64(t, "rss_bytes")),
                       format_bytes(b2, sizeof(b2), get_u64(t, "mapped_bytes")), get_u64(t, "vmas"),
                       strna(get_str(t, "matched_by")), get_str(t, "workload") ?: "-", get_str(t, "cgroup") ?: "-");
        }
}

static void print_heat(const char *indent, json_object *h) {
        char b1[FORMAT_BYTES_MAX], b2[FORMAT_BYTES_MAX], b3[FORMAT_BYTES_MAX], b4[FORMAT_BYTES_MAX];
        json_object *classes = NULL, *hits;

        (void) json_object_object_get_ex(h, "class_bytes", &classes);
        printf("%s%s hot, %s warm, %s cold, %s skipped; %" PRIu64 " pages, %" PRIu64 " THPs\n", indent,
               format_bytes(b1, sizeof(b1), get_u64(classes, "hot")), format_bytes(b2, sizeof(b2), get_u64(classes, "warm")),
               format_bytes(b3, sizeof(b3), get_u64(classes, "cold")),
               format_bytes(b4, sizeof(b4), get_u64(classes, "skipped")), get_u64(h, "pages"), get_u64(h, "thp_units"));
        if (json_object_object_get_ex(h, "hits_units", &hits)) {
                printf("%shits last round:", indent);
                for (size_t i = 0; i < json_object_array_length(hits); i++) {
                        uint64_t n = json_object_get_uint64(json_object_array_get_idx(hits, i));

                        if (n > 0)
                                printf(" %zu:%" PRIu64, i, n);
                }
                printf(" (hits:units)\n");
        }
}

static void print_pages(json_object *p) {
        char b1[FORMAT_BYTES_MAX];
        json_object *vmas, *heat;

        printf("pid %" PRIu64 " (%s)\n", get_u64(p, "pid"), strna(get_str(p, "comm")));
        if (json_object_object_get_ex(p, "range", &heat)) {
                json_object *classes = NULL;
                char b2[FORMAT_BYTES_MAX], b3[FORMAT_BYTES_MAX], b4[FORMAT_BYTES_MAX];

                (void) json_object_object_get_ex(heat, "class_bytes", &classes);
                printf("  range %" PRIx64 "-%" PRIx64 ": %s hot, %s warm, %s cold, %s skipped\n",
                       get_u64(heat, "start"), get_u64(heat, "end"), format_bytes(b1, sizeof(b1), get_u64(classes, "hot")),
                       format_bytes(b2, sizeof(b2), get_u64(classes, "warm")),
                       format_bytes(b3, sizeof(b3), get_u64(classes, "cold")),
                       format_bytes(b4, sizeof(b4), get_u64(classes, "skipped")));
        }
        if (json_object_object_get_ex(p, "heat", &heat))
                print_heat("  ", heat);
        if (!json_object_object_get_ex(p, "vmas", &vmas))
                return;
        for (size_t i = 0; i < json_object_array_length(vmas); i++) {
                json_object *v = json_object_array_get_idx(vmas, i), *nodes;

                printf("  %012" PRIx64 "-%012" PRIx64 " %s\n", get_u64(v, "start"), get_u64(v, "end"),
                       format_bytes(b1, sizeof(b1), get_u64(v, "end") - get_u64(v, "start")));
                if (json_object_object_get_ex(v, "heat", &heat))
                        print_heat("    ", heat);
                if (json_object_object_get_ex(v, "nodes", &nodes) && json_object_array_length(nodes) > 0) {
                        printf("    resident:");
                        for (size_t j = 0; j < json_object_array_length(nodes); j++) {
                                json_object *n = json_object_array_get_idx(nodes, j);

                                printf(" node %" PRIu64 " %s", get_u64(n, "node"),
                                       format_bytes(b1, sizeof(b1), get_u64(n, "bytes")));
                        }
                        printf("\n");
                }
        }
}

static int run(const char *command, const struct control_call_args *args) {
        json_object *response = NULL, *ok, *data = NULL;
        int r;

        r = control_call(arg_socket, command, args, &response);
        if (r == -ENOENT || r == -ECONNREFUSED) {
                log_error("tierd is not running (no daemon listening on %s)", arg_socket);
                return EXIT_NOT_RUNNING;
        }
        if (r == -EACCES) {
                log_error("Permission denied on %s: tierctl needs root or membership in the group named by "
                          "[daemon] control_group",
                          arg_socket);
                return EXIT_FAILURE;
        }
        if (r < 0) {
                log_error_errno(r, "Cannot talk to tierd on %s: %m", arg_socket);
                return EXIT_FAILURE;
        }

        if (!json_object_object_get_ex(response, "ok", &ok) || !json_object_get_boolean(ok)) {
                log_error("tierd refused \"%s\": %s", command, get_str(response, "error") ?: "unknown error");
                json_object_put(response);
                return EXIT_FAILURE;
        }
        (void) json_object_object_get_ex(response, "data", &data);

        if (streq(command, "metrics"))
                fputs(get_str(data, "text") ?: "", stdout);
        else if (arg_json)
                printf("%s\n", json_object_to_json_string_ext(data, JSON_C_TO_STRING_PRETTY |
                                                                            JSON_C_TO_STRING_SPACED |
                                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
        else if (streq(command, "status"))
                print_status(data);
        else if (streq(command, "targets"))
                print_targets(data);
        else if (streq(command, "pages"))
                print_pages(data);
        else if (streq(command, "pause") || streq(command, "resume"))
                printf("tierd is %s\n", strna(get_str(data, "state")));
        else if (streq(command, "reload"))
                printf("Reloaded %s\n", strna(get_str(data, "config")));

        json_object_put(response);
        return EXIT_SUCCESS;
}

int main(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100 };
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        const char *command;
        struct control_call_args args = {};
        int c;

        while ((c = getopt_long(argc, argv, "+s:jh", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        arg_socket = optarg;
                        break;
                case 'j':
                        arg_json = true;
                        break;
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_VERSION:
                        printf("tierctl %s\n", TIERD_VERSION);
                        return EXIT_SUCCESS;
                default:
                        return EXIT_FAILURE;
                }

        /* Accept options after the command too ("tierctl status --json"), as systemctl does. */
        if (optind >= argc) {
                log_error("Missing command (see tierctl --help)");
                return EXIT_FAILURE;
        }
        command = argv[optind++];
        if (streq(command, "pages")) {
                if (optind >= argc || parse_pid(argv[optind], &args.pid) < 0) {
                        log_error("Usage: tierctl pages PID [--range START-END]");
                        return EXIT_FAILURE;
                }
                optind++;
        }
        while (optind < argc) {
                if (streq(argv[optind], "--json") || streq(argv[optind], "-j"))
                        arg_json = true;
                else if (streq(command, "pages") && streq(argv[optind], "--range") && optind + 1 < argc) {
                        /* Addresses as /proc/PID/maps writes them: hexadecimal, 0x optional. */
                        char *end;

                        errno = 0;
                        args.range_start = strtoull(argv[++optind], &end, 16);
                        if (errno != 0 || *end != '-' ||
                            (args.range_end = strtoull(end + 1, &end, 16), errno != 0 || *end != '\0') ||
                            args.range_end <= args.range_start) {
                                log_error("Invalid --range \"%s\": expected START-END in hexadecimal, START < END",
                                          argv[optind]);
                                return EXIT_FAILURE;
                        }
                }
                else {
                        log_error("Unexpected argument \"%s\" (see tierctl --help)", argv[optind]);
                        return EXIT_FAILURE;
                }
                optind++;
        }
        if (control_command_from_string(command) < 0) {
                log_error("Unknown command \"%s\" (see tierctl --help)", command);
                return EXIT_FAILURE;
        }
        return run(command, &args);
}
