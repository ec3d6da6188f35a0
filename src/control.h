/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

/* The control socket. One request per connection: the client sends one JSON object on one line,
 * {"command": "status"}, and reads one JSON object back, {"ok": true, "data": ...} or
 * {"ok": false, "error": "message", "errno": "EPERM"}; then the daemon closes the connection.
 * Anyone who can connect (root, and members of control_group: the socket is 0660) may read; only uid 0 may
 * change anything. The decision uses the kernel's SO_PEERCRED, never anything the client says. */

#define CONTROL_REQUEST_MAX_BYTES 4096

enum control_command {
        CONTROL_STATUS,
        CONTROL_TARGETS,
        CONTROL_METRICS,
        CONTROL_PAGES,
        CONTROL_PAUSE,
        CONTROL_RESUME,
        CONTROL_RELOAD,
        _CONTROL_COMMAND_MAX,
};

struct control_request {
        enum control_command command;
        int pid; /* "pages": the process; 0 otherwise */
        uint64_t range_start, range_end; /* "pages": an optional address range to summarise; both 0 if none */
};

const char *control_command_to_string(enum control_command c);
int control_command_from_string(const char *s);
bool control_command_is_mutating(enum control_command c);

/* Pure: parses one request. -EINVAL for anything but an object with a known "command" string (and, for "pages",
 * a positive integer "pid"), -EMSGSIZE when too long. ret_error gets a static description of what is wrong. */
int control_request_parse(const char *buf, size_t len, struct control_request *ret, const char **ret_error);

/* Pure: may a peer with this uid run the command? 0 or -EPERM. */
int control_authorize(enum control_command c, uid_t uid);

/* At most this many clients of users other than root at once, and of any one of them; root has slots of its own
 * that no other user can take, so that a member of control_group holding connections open (or reopening them as
 * they time out) never locks root's tierctl out. */
#define CONTROL_MAX_CLIENTS 32
#define CONTROL_MAX_CLIENTS_PER_UID 8
#define CONTROL_MAX_ROOT_CLIENTS 8

/* Pure: may a new client of uid be served, with n_root root clients, n_other clients of other users and n_same of
 * uid's own connected? 0, or -EBUSY. */
int control_admit(uid_t uid, unsigned n_root, unsigned n_other, unsigned n_same);

json_object *control_response_ok(json_object *data);
json_object *control_response_error(int error, const char *message);

/* Server side. The handler fills either *ret_data (ownership passes) or *ret_error_message (malloc()ed) and
 * returns 0 or a negative errno. */
typedef int (*control_handler_t)(const struct control_request *req, const struct ucred *peer, json_object **ret_data,
                                 char **ret_error_message, void *userdata);

struct control_server;

/* Binds path (a stale socket left by a crash is replaced), mode 0660, group gid ((gid_t) -1: unchanged). */
int control_server_new(sd_event *e, const char *path, gid_t gid, control_handler_t handler, void *userdata,
                       struct control_server **ret);
int control_server_set_group(struct control_server *s, gid_t gid);
struct control_server *control_server_free(struct control_server *s);

/* Client side: sends {"command": command} (plus the arguments that are set) and returns the parsed response. -ENOENT or
 * -ECONNREFUSED mean no daemon is listening on path. */
struct control_call_args {
        int pid;                         /* > 0: sent as "pid" */
        uint64_t range_start, range_end; /* end > start: sent as "start" and "end" */
};
int control_call(const char *path, const char *command, const struct control_call_args *args,
                 json_object **ret_response);
