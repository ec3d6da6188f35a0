/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsroot.h"
#include "log.h"
#include "observer.h"

/* The observer on a fake /proc/vmstat (BPF off: the test switch), fed round by round. */

static char dir[64];
static char *log_buf;
static size_t log_size;
static FILE *log_stream;

static void write_vmstat(uint64_t promoted, uint64_t demoted, uint64_t migrated) {
        char path[256];
        FILE *f;

        snprintf(path, sizeof(path), "%s/vmstat", dir);
        f = fopen(path, "we");
        assert_non_null(f);
        fprintf(f, "pgpromote_success %llu\npgdemote_kswapd %llu\npgdemote_direct 0\npgmigrate_success %llu\n"
                "numa_pages_migrated %llu\n", (unsigned long long) promoted, (unsigned long long) demoted,
                (unsigned long long) migrated, (unsigned long long) promoted);
        fclose(f);
}

static int setup(void **state) {
        snprintf(dir, sizeof(dir), "/tmp/tierd-test-observer.XXXXXX");
        assert_non_null(mkdtemp(dir));
        assert_int_equal(fsroot_set(FSROOT_PROC, dir), 0);
        setenv("TIERD_TEST_BPF_FAIL", "1", 1);
        log_stream = open_memstream(&log_buf, &log_size);
        log_set_stream(log_stream);
        return 0;
}

static int teardown(void **state) {
        char path[256];

        log_set_stream(NULL);
        fclose(log_stream);
        free(log_buf);
        snprintf(path, sizeof(path), "%s/vmstat", dir);
        unlink(path);
        rmdir(dir);
        fsroot_set(FSROOT_PROC, NULL);
        return 0;
}

static size_t count(const char *haystack, const char *needle) {
        size_t n = 0;

        for (const char *p = haystack; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

static void test_fight_and_throttle(void **state) {
        struct observer *o = NULL;
        struct observer_snapshot s;
        uint64_t demoted = 1000, promoted = 0, kernel_promoted = 0;

        write_vmstat(0, demoted, 5000);
        assert_int_equal(observer_new(true, KERNEL_FIGHT_THROTTLE, &o), 0);
        observer_snapshot(o, &s);
        assert_string_equal(s.source, "vmstat");
        assert_non_null(strstr(s.bpf_reason, "simulated"));
        assert_null(s.attach_mode);

        /* Rounds in which the kernel demotes 1000 pages and tierd promotes 2000: a fight after three. */
        for (unsigned round = 1; round <= 5; round++) {
                demoted += 1000;
                promoted += 2000;
                write_vmstat(kernel_promoted, demoted, 5000 + demoted);
                observer_round(o, promoted, 0);
                observer_snapshot(o, &s);
                assert_int_equal(s.last_round.pages[KMIGRATE_DEMOTION], 1000);
                if (round < 4)
                        assert_false(s.fight[OBSERVER_FIGHT_DEMOTION].fighting);
                else
                        assert_true(s.fight[OBSERVER_FIGHT_DEMOTION].fighting);
        }
        /* The kernel counts from observer_new(), tierd from the first round: both move in rounds 2, 3 and 4. */
        assert_int_equal(s.total.pages[KMIGRATE_DEMOTION], 5000);
        assert_int_equal(s.fight[OBSERVER_FIGHT_DEMOTION].fights, 1);
        assert_int_equal(s.fight[OBSERVER_FIGHT_DEMOTION].rounds, 2);
        assert_false(s.fight[OBSERVER_FIGHT_PROMOTION].fighting);
        assert_true(observer_promote_permille(o) < FIGHT_PERMILLE_MAX / 2);
        assert_int_equal(observer_demote_permille(o), FIGHT_PERMILLE_MAX);
        fflush(log_stream);
        assert_int_equal(count(log_buf, "pages cross the tiers twice"), 1);
        assert_non_null(strstr(log_buf, "demotion_enabled"));

        /* Warn only: the limits stay whole, the fight is still reported. */
        observer_set_mode(o, KERNEL_FIGHT_WARN);
        assert_int_equal(observer_promote_permille(o), FIGHT_PERMILLE_MAX);
        observer_snapshot(o, &s);
        assert_int_equal(s.fight[OBSERVER_FIGHT_DEMOTION].permille, FIGHT_PERMILLE_MAX);
        assert_true(s.fight[OBSERVER_FIGHT_DEMOTION].fighting);

        /* Calm rounds end it; a second fight is not logged at warning level again. */
        for (unsigned round = 0; round < 3; round++) {
                write_vmstat(kernel_promoted, demoted, 5000 + demoted);
                observer_round(o, promoted, 0);
        }
        observer_snapshot(o, &s);
        assert_false(s.fight[OBSERVER_FIGHT_DEMOTION].fighting);
        for (unsigned round = 0; round < 3; round++) {
                demoted += 1000;
                promoted += 2000;
                write_vmstat(kernel_promoted, demoted, 5000 + demoted);
                observer_round(o, promoted, 0);
        }
        observer_snapshot(o, &s);
        assert_int_equal(s.fight[OBSERVER_FIGHT_DEMOTION].fights, 2);
        fflush(log_stream);
        assert_int_equal(count(log_buf, "pages cross the tiers twice"), 1);

        /* The other kind: NUMA balancing promotes while tierd demotes. */
        for (unsigned round = 0; round < 3; round++) {
                kernel_promoted += 500;
                write_vmstat(kernel_promoted, demoted, 5000 + demoted + kernel_promoted);
                observer_round(o, promoted, 1000 * (round + 1));
        }
        observer_snapshot(o, &s);
        assert_int_equal(s.fight[OBSERVER_FIGHT_PROMOTION].fights, 1);
        fflush(log_stream);
        assert_non_null(strstr(log_buf, "The kernel promotes pages while tierd demotes them"));
        assert_non_null(strstr(log_buf, "numa_balancing"));
        observer_free(o);
}

static void test_no_source(void **state) {
        struct observer *o = NULL;
        struct observer_snapshot s;

        /* No vmstat either: nothing observed, nothing breaks. */
        assert_int_equal(observer_new(false, KERNEL_FIGHT_WARN, &o), 0);
        observer_round(o, 100, 100);
        observer_snapshot(o, &s);
        assert_string_equal(s.source, "none");
        assert_int_equal(s.total.available, 0);
        assert_int_equal(s.fight[OBSERVER_FIGHT_DEMOTION].permille, FIGHT_PERMILLE_MAX);
        observer_free(o);
        observer_snapshot(NULL, &s);
        assert_string_equal(s.source, "none");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_fight_and_throttle, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_source, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
