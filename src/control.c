/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "control.h"
#include "log.h"
#include "macro.h"
#include "read-full.h"

/* A client that connects and sends nothing must not hold a slot for long. */
#define CONTROL_CLIENT_TIMEOUT_US (5 * USEC_PER_SEC)
/* A status of thousands of targets or a pages dump of a large range is a few MiB; a peer that sends more is not
 * tierd. */
#define CONTROL_RESPONSE_MAX_BYTES (64U * 1024U * 1024U)

static const char *const control_command_names[_CONTROL_COMMAND_MAX] = {
        [CONTROL_STATUS] = "status", [CONTROL_TARGETS] = "targets", [CONTROL_METRICS] = "metrics",
        [CONTROL_PAGES] = "pages",   [CONTROL_PAUSE] = "pause",     [CONTROL_RESUME] = "resume",
        [CONTROL_RELOAD] = "reload",
};

const char *control_command_to_string(enum control_command c) {
        return c < _CONTROL_COMMAND_MAX ? control_command_names[c] : NULL;
}

int control_command_from_string(const char *s) {
        for (int i = 0; i < _CONTROL_COMMAND_MAX; i++)
                if (streq(s, control_command_names[i]))
                        return i;
        return -EINVAL;
}

bool control_command_is_mutating(enum control_command c) {
        return c == CONTROL_PAUSE || c == CONTROL_RESUME || c == CONTROL_RELOAD;
}

int control_admit(uid_t uid, unsigned n_root, unsigned n_other, unsigned n_same) {
        if (uid == 0)
                return n_root < CONTROL_MAX_ROOT_CLIENTS ? 0 : -EBUSY;
        return n_other < CONTROL_MAX_CLIENTS && n_same < CONTROL_MAX_CLIENTS_PER_UID ? 0 : -EBUSY;
}

int control_authorize(enum control_command c, uid_t uid) {
        if (c >= _CONTROL_COMMAND_MAX)
                return -EINVAL;
        if (control_command_is_mutating(c) && uid != 0)
                return -EPERM;
        return 0;
}

int control_request_parse(const char *buf, size_t len, struct control_request *ret, const char **ret_error) {
        json_tokener *tok;
        json_object *o, *cmd;
        const char *error = NULL;
        int r = 0, c;

        if (len > CONTROL_REQUEST_MAX_BYTES) {
                *ret_error = "request too long";
                return -EMSGSIZE;
        }

        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, buf, (int) len);
        if (!o || json_tokener_get_error(tok) != json_tokener_success) {
                error = "request is not valid JSON";
                r = -EINVAL;
                goto finish;
        }
        /* Trailing bytes other than white space mean two objects or garbage: refuse rather than guess. */
        for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
                if (!strchr(" \t\r\n", buf[i])) {
                        error = "trailing data after the request object";
                        r = -EINVAL;
                        goto finish;
                }
        if (!json_object_is_type(o, json_type_object)) {
                error = "request must be a JSON object";
                r = -EINVAL;
                goto finish;
        }
        if (!json_object_object_get_ex(o, "command", &cmd) || !json_object_is_type(cmd, json_type_string)) {
                error = "request has no \"command\" string";
                r = -EINVAL;
                goto finish;
        }
        c = control_command_from_string(json_object_get_string(cmd));
        if (c < 0) {
                error = "unknown command";
                r = -EINVAL;
                goto finish;
        }
        *ret = (struct control_request) { .command = (enum control_command) c };

        if (c == CONTROL_PAGES) {
                json_object *pid;
                int64_t v;

                if (!json_object_object_get_ex(o, "pid", &pid) || !json_object_is_type(pid, json_type_int)) {
                        error = "\"pages\" needs an integer \"pid\"";
                        r = -EINVAL;
                        goto finish;
                }
                v = json_object_get_int64(pid);
                if (v <= 0 || v > INT32_MAX) {
                        error = "\"pid\" must be a positive process ID";
                        r = -EINVAL;
                        goto finish;
                }
                ret->pid = (int) v;

                json_object *start, *end;
                bool has_start = json_object_object_get_ex(o, "start", &start),
                     has_end = json_object_object_get_ex(o, "end", &end);
                if (has_start != has_end || (has_start && (!json_object_is_type(start, json_type_int) ||
                                                           !json_object_is_type(end, json_type_int)))) {
                        error = "\"start\" and \"end\" go together, as integer addresses";
                        r = -EINVAL;
                        goto finish;
                }
                if (has_start) {
                        ret->range_start = json_object_get_uint64(start);
                        ret->range_end = json_object_get_uint64(end);
                        if (ret->range_end <= ret->range_start) {
                                error = "\"end\" must be above \"start\"";
                                r = -EINVAL;
                                goto finish;
                        }
                }
        }

finish:
        json_object_put(o);
        json_tokener_free(tok);
        if (ret_error)
                *ret_error = error;
        return r;
}

json_object *control_response_ok(json_object *data) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "ok", json_object_new_boolean(true));
        json_object_object_add(o, "data", data);
        return o;
}

json_object *control_response_error(int error, const char *message) {
        json_object *o = json_object_new_object();
        const char *name = strerrorname_np(abs(error));

        json_object_object_add(o, "ok", json_object_new_boolean(false));
        json_object_object_add(o, "error", json_object_new_string(message ?: strerror(abs(error))));
        json_object_object_add(o, "errno", json_object_new_string(name ?: "EIO"));
        return o;
}

struct control_client {
        struct control_server *server;
        struct control_client *next;
        int fd;
        struct ucred peer;
        sd_event_source *io;
        sd_event_source *timeout;
        char in[CONTROL_REQUEST_MAX_BYTES + 1];
        size_t in_size;
        char *out;
        size_t out_size, out_done;
};

struct control_server {
        sd_event *event;
        sd_event_source *listen_source;
        int listen_fd;
        char *path;
        control_handler_t handler;
        void *userdata;
        struct control_client *clients;
        unsigned n_clients;
};

static void client_free(struct control_client *c) {
        struct control_server *s;

        if (!c)
                return;
        s = c->server;
        for (struct control_client **p = &s->clients; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        s->n_clients--;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timeout);
        if (c->fd >= 0)
                close(c->fd);
        free(c->out);
        free(c);
}

static int client_on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata);

static void client_respond(struct control_client *c, json_object *response) {
        const char *text = json_object_to_json_string_ext(response, JSON_C_TO_STRING_PLAIN);
        size_t len = strlen(text);

        c->out = malloc(len + 1);
        if (!c->out) {
                json_object_put(response);
                client_free(c);
                return;
        }
        memcpy(c->out, text, len);
        c->out[len] = '\n';
        c->out_size = len + 1;
        c->out_done = 0;
        json_object_put(response);
        (void) sd_event_source_set_io_events(c->io, EPOLLOUT);
}

static void client_handle(struct control_client *c) {
        struct control_request req;
        const char *parse_error = NULL;
        json_object *data = NULL;
        _cleanup_free_ char *error_message = NULL;
        int r;

        r = control_request_parse(c->in, c->in_size, &req, &parse_error);
        if (r < 0) {
                log_debug("control: bad request from pid %d: %s", (int) c->peer.pid, parse_error);
                client_respond(c, control_response_error(r, parse_error));
                return;
        }

        r = control_authorize(req.command, c->peer.uid);
        if (r < 0) {
                char msg[128], key[64];

                snprintf(msg, sizeof(msg), "permission denied: \"%s\" requires root",
                         control_command_to_string(req.command));
                /* Once per user and command while it keeps trying (counted in tierd_log_suppressed_total): a
                 * member of control_group sending refused requests in a loop must not flood the journal. */
                snprintf(key, sizeof(key), "control-refused:%u:%s", (unsigned) c->peer.uid,
                         control_command_to_string(req.command));
                log_repeat_errno(LOG_NOTICE, key, EPERM,
                                 "control: refused \"%s\" from uid %u (pid %d): only root may change the daemon",
                                 control_command_to_string(req.command), (unsigned) c->peer.uid,
                                 (int) c->peer.pid);
                client_respond(c, control_response_error(r, msg));
                return;
        }

        r = c->server->handler(&req, &c->peer, &data, &error_message, c->server->userdata);
        if (r < 0) {
                json_object_put(data);
                client_respond(c, control_response_error(r, error_message));
                return;
        }
        client_respond(c, control_response_ok(data));
}

static int client_on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        struct control_client *c = userdata;

        if (c->out) {
                ssize_t n = send(fd, c->out + c->out_done, c->out_size - c->out_done, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        log_debug_errno(errno, "control: cannot send response: %m, dropping client");
                        client_free(c);
                        return 0;
                }
                c->out_done += (size_t) n;
                if (c->out_done == c->out_size)
                        client_free(c);
                return 0;
        }

        ssize_t n = recv(fd, c->in + c->in_size, sizeof(c->in) - 1 - c->in_size, MSG_DONTWAIT);
        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return 0;
                log_debug_errno(errno, "control: cannot read request: %m, dropping client");
                client_free(c);
                return 0;
        }
        c->in_size += (size_t) n;
        c->in[c->in_size] = '\0';

        if (memchr(c->in, '\n', c->in_size) || n == 0) {
                client_handle(c);
                return 0;
        }
        if (c->in_size >= sizeof(c->in) - 1)
                client_respond(c, control_response_error(-EMSGSIZE, "request too long"));
        return 0;
}

static int client_on_timeout(sd_event_source *es, uint64_t usec, void *userdata) {
        struct control_client *c = userdata;

        log_debug("control: client pid %d timed out, dropping it", (int) c->peer.pid);
        client_free(c);
        return 0;
}

static int server_on_accept(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        struct control_server *s = userdata;
        _cleanup_close_ int cfd = -1;
        struct control_client *c;
        struct ucred peer;
        socklen_t len = sizeof(peer);
        unsigned n_root = 0, n_other = 0, n_same = 0;
        int r;

        cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
                if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                        log_warning_errno(errno, "control: accept() failed: %m, ignoring");
                return 0;
        }
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0) {
                log_warning_errno(errno, "control: cannot read peer credentials: %m, refusing client");
                return 0;
        }
        for (struct control_client *o = s->clients; o; o = o->next) {
                n_root += o->peer.uid == 0;
                n_other += o->peer.uid != 0;
                n_same += o->peer.uid == peer.uid;
        }
        if (control_admit(peer.uid, n_root, n_other, n_same) < 0) {
                char key[48];

                /* Once while it lasts (counted in tierd_log_suppressed_total): a client that keeps reconnecting
                 * must not flood the journal either. */
                snprintf(key, sizeof(key), "control-busy:%u", (unsigned) peer.uid);
                log_repeat_errno(LOG_WARNING, key, EBUSY,
                                 "control: uid %u (pid %d) already has %u connections (%u of users other than root), "
                                 "refusing more", (unsigned) peer.uid, (int) peer.pid, n_same, n_other);
                return 0;
        }

        c = calloc(1, sizeof(*c));
        if (!c) {
                log_oom();
                return 0;
        }
        c->peer = peer;
        c->server = s;
        c->fd = TAKE_FD(cfd);
        c->next = s->clients;
        s->clients = c;
        s->n_clients++;

        r = sd_event_add_io(s->event, &c->io, c->fd, EPOLLIN, client_on_io, c);
        if (r >= 0)
                r = sd_event_add_time_relative(s->event, &c->timeout, CLOCK_MONOTONIC, CONTROL_CLIENT_TIMEOUT_US, 0,
                                               client_on_timeout, c);
        /* When the loop was busy for longer than the timeout (a long round on a slow machine), the request and
         * the timeout become pending together: the request must win, or a waiting client gets a reset. */
        if (r >= 0)
                r = sd_event_source_set_priority(c->timeout, SD_EVENT_PRIORITY_IDLE);
        if (r < 0) {
                log_warning_errno(r, "control: cannot watch client: %m, dropping it");
                client_free(c);
        }
        return 0;
}

int control_server_set_group(struct control_server *s, gid_t gid) {
        if (gid == (gid_t) -1)
                gid = 0;
        if (fchownat(AT_FDCWD, s->path, (uid_t) -1, gid, 0) < 0)
                return log_error_errno(errno, "Cannot give control socket %s to group %u: %m", s->path,
                                       (unsigned) gid);
        return 0;
}

int control_server_new(sd_event *e, const char *path, gid_t gid, control_handler_t handler, void *userdata,
                       struct control_server **ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct control_server *s;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return log_error_errno(ENAMETOOLONG, "Control socket path %s is too long (max %zu bytes)", path,
                                       sizeof(sa.sun_path) - 1);
        strcpy(sa.sun_path, path);

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(e);
        s->handler = handler;
        s->userdata = userdata;
        s->listen_fd = -1;
        s->path = strdup(path);
        if (!s->path) {
                r = -ENOMEM;
                goto fail;
        }

        s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->listen_fd < 0) {
                r = log_error_errno(errno, "Cannot create control socket: %m");
                goto fail;
        }

        /* A socket file left behind by a crashed instance would make bind() fail. Only a socket is removed:
         * a misconfigured path must never delete someone's regular file. */
        struct stat st;
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode)) {
                        r = log_error_errno(EEXIST, "Control socket path %s exists and is not a socket", path);
                        goto fail;
                }
                (void) unlink(path);
        }

        /* Create with the final mode so there is no window in which anyone else can connect. */
        mode_t old_umask = umask(0117);
        r = bind(s->listen_fd, (struct sockaddr *) &sa, sizeof(sa));
        umask(old_umask);
        if (r < 0) {
                r = log_error_errno(errno, "Cannot bind control socket %s: %m", path);
                goto fail;
        }
        if (listen(s->listen_fd, 64) < 0) {
                r = log_error_errno(errno, "Cannot listen on control socket %s: %m", path);
                goto fail;
        }
        if (gid != (gid_t) -1) {
                r = control_server_set_group(s, gid);
                if (r < 0)
                        goto fail;
        }

        r = sd_event_add_io(e, &s->listen_source, s->listen_fd, EPOLLIN, server_on_accept, s);
        if (r < 0) {
                log_error_errno(r, "Cannot watch control socket: %m");
                goto fail;
        }

        *ret = s;
        return 0;

fail:
        control_server_free(s);
        return r;
}

struct control_server *control_server_free(struct control_server *s) {
        if (!s)
                return NULL;
        while (s->clients)
                client_free(s->clients);
        sd_event_source_disable_unref(s->listen_source);
        if (s->listen_fd >= 0) {
                close(s->listen_fd);
                if (s->path)
                        (void) unlink(s->path);
        }
        sd_event_unref(s->event);
        free(s->path);
        free(s);
        return NULL;
}

int control_call(const char *path, const char *command, const struct control_call_args *args,
                 json_object **ret_response) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        json_object *request, *response;
        int r;
        const char *text;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return negative_errno();

        request = json_object_new_object();
        json_object_object_add(request, "command", json_object_new_string(command));
        if (args && args->pid > 0)
                json_object_object_add(request, "pid", json_object_new_int(args->pid));
        if (args && args->range_end > args->range_start) {
                json_object_object_add(request, "start", json_object_new_uint64(args->range_start));
                json_object_object_add(request, "end", json_object_new_uint64(args->range_end));
        }
        text = json_object_to_json_string_ext(request, JSON_C_TO_STRING_PLAIN);
        size_t len = strlen(text);
        _cleanup_free_ char *line = malloc(len + 2);
        if (!line) {
                json_object_put(request);
                return -ENOMEM;
        }
        memcpy(line, text, len);
        line[len] = '\n';
        line[len + 1] = '\0';
        json_object_put(request);

        for (size_t done = 0; done < len + 1;) {
                ssize_t n = send(fd, line + done, len + 1 - done, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                done += (size_t) n;
        }

        /* The daemon answers from its event loop; a long silence means it is stuck. */
        r = read_full_fd(fd, CONTROL_RESPONSE_MAX_BYTES, 30 * 1000, &buf, &size);
        if (r < 0)
                return r;
        if (size == 0)
                return -ECONNRESET;

        response = json_tokener_parse(buf);
        if (!response || !json_object_is_type(response, json_type_object)) {
                json_object_put(response);
                return -EBADMSG;
        }
        *ret_response = response;
        return 0;
}
