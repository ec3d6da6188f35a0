/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "fsroot.h"
#include "log.h"
#include "tierd-build.h"
#include "util.h"

static void help(void) {
        printf("Usage: tierd [OPTIONS]\n\n"
               "Memory tiering daemon: keeps hot pages in fast memory and cold pages in slow memory.\n\n"
               "  -c --config=PATH          Configuration file (default: %s)\n"
               "     --check-config         Validate the configuration, print the effective one, exit\n"
               "     --dry-run              Plan and report page moves but never move a page\n"
               "     --control-socket=PATH  Control socket (overrides [daemon] control_socket)\n"
               "     --runtime-dir=DIR      Where state that must survive a crash is kept (default: /run/tierd)\n"
               "     --log-level=LEVEL      Override [daemon] log_level (err, warning, notice, info, debug)\n"
               "     --procfs-root=DIR      Read /proc below DIR (testing)\n"
               "     --sysfs-root=DIR       Read and write /sys below DIR (testing)\n"
               "  -h --help                 Show this help\n"
               "     --version              Show the version\n\n"
               "Exit status: 0 on a clean stop, 1 on failure, 78 for an invalid configuration.\n"
               "See tierd(8), tierd.conf(5), tierctl(8).\n",
               TIERD_CONFIG_FILE);
}

/* The configuration the daemon would run with: the file (or the defaults) and the command line's overrides. */
static int check_config(const struct daemon_options *opts) {
        _cleanup_config_free_ struct tierd_config *c = NULL;
        const char *path = opts->config_path;
        int r;

        if (!opts->config_path_explicit && access(path, F_OK) < 0 && errno == ENOENT) {
                r = config_new_defaults(&c);
                if (r < 0)
                        return EXIT_FAILURE;
                printf("# %s does not exist: the built-in defaults apply\n", path);
        } else {
                r = config_load(path, &c);
                if (r < 0) {
                        log_error("%s: configuration is invalid", path);
                        return EXIT_CONFIG;
                }
                printf("# effective configuration from %s\n", path);
        }
        if (opts->dry_run) {
                c->dry_run = true;
                printf("# dry_run = yes from the command line (--dry-run)\n");
        }
        if (opts->log_level_override >= 0) {
                c->log_level = opts->log_level_override;
                printf("# log_level = %s from the command line (--log-level)\n",
                       log_level_to_string(opts->log_level_override));
        }
        if (opts->control_socket) {
                char *copy = strdup(opts->control_socket);

                if (!copy) {
                        log_oom();
                        return EXIT_FAILURE;
                }
                free(c->control_socket);
                c->control_socket = copy;
                printf("# control_socket = %s from the command line (--control-socket)\n", opts->control_socket);
        }
        if (!config_selects_targets(c))
                log_warning("%s: selects no process to manage (no selector in [targets], no [target.NAME] section): "
                            "tierd would run and move nothing; see tierd.conf(5)", path);
        r = config_dump(c, stdout);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main(int argc, char *argv[]) {
        enum {
                ARG_CHECK_CONFIG = 0x100,
                ARG_DRY_RUN,
                ARG_CONTROL_SOCKET,
                ARG_LOG_LEVEL,
                ARG_PROCFS_ROOT,
                ARG_SYSFS_ROOT,
                ARG_RUNTIME_DIR,
                ARG_VERSION,
        };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "control-socket", required_argument, NULL, ARG_CONTROL_SOCKET },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "procfs-root", required_argument, NULL, ARG_PROCFS_ROOT },
                { "sysfs-root", required_argument, NULL, ARG_SYSFS_ROOT },
                { "runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        struct daemon_options opts = {
                .config_path = TIERD_CONFIG_FILE,
                .log_level_override = -1,
                .runtime_dir = "/run/tierd",
        };
        bool do_check = false;
        int c, r;

        memory_return_freed();

        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        opts.config_path = optarg;
                        opts.config_path_explicit = true;
                        break;
                case ARG_CHECK_CONFIG:
                        do_check = true;
                        break;
                case ARG_DRY_RUN:
                        opts.dry_run = true;
                        break;
                case ARG_CONTROL_SOCKET:
                        opts.control_socket = optarg;
                        break;
                case ARG_LOG_LEVEL:
                        r = log_level_from_string(optarg);
                        if (r < 0) {
                                log_error("Invalid --log-level \"%s\": expected emerg..debug", optarg);
                                return EXIT_CONFIG;
                        }
                        opts.log_level_override = r;
                        log_set_max_level(r);
                        break;
                case ARG_RUNTIME_DIR:
                        opts.runtime_dir = optarg;
                        break;
                case ARG_PROCFS_ROOT:
                case ARG_SYSFS_ROOT:
                        r = fsroot_set(c == ARG_PROCFS_ROOT ? FSROOT_PROC : FSROOT_SYS, optarg);
                        if (r < 0)
                                return EXIT_FAILURE;
                        break;
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_VERSION:
                        printf("tierd %s\n", TIERD_VERSION);
                        return EXIT_SUCCESS;
                default:
                        return EXIT_CONFIG;
                }

        if (optind < argc) {
                log_error("Unexpected argument \"%s\" (see tierd --help)", argv[optind]);
                return EXIT_CONFIG;
        }

        if (do_check)
                return check_config(&opts);

        r = daemon_run(&opts);
        fsroot_reset();
        return r;
}
