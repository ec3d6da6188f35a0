/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "tp-format.h"
#include "util.h"

static const char *skip_ws(const char *p) {
        while (*p && isspace((unsigned char) *p))
                p++;
        return p;
}

/* Does p start the argument "REC->field" (optionally parenthesised), followed by ","? Returns the position after
 * the comma or NULL. */
static const char *match_field(const char *p, const char *field) {
        unsigned parens = 0;
        size_t n = strlen(field);

        p = skip_ws(p);
        while (*p == '(') {
                parens++;
                p = skip_ws(p + 1);
        }
        if (!startswith(p, "REC->"))
                return NULL;
        p += strlen("REC->");
        if (strncmp(p, field, n) != 0 || isalnum((unsigned char) p[n]) || p[n] == '_')
                return NULL;
        p = skip_ws(p + n);
        while (parens > 0) {
                if (*p != ')')
                        return NULL;
                parens--;
                p = skip_ws(p + 1);
        }
        return *p == ',' ? p + 1 : NULL;
}

/* One "{ value, "name" }" at p. Returns the position after "}" or NULL when malformed; *ret_resolved tells
 * whether the value was a number. */
static const char *parse_entry(const char *p, struct tp_symbol *ret, bool *ret_resolved) {
        const char *v, *v_end;
        size_t len = 0;

        p = skip_ws(p);
        if (*p != '{')
                return NULL;
        v = p = skip_ws(p + 1);
        /* The value runs to the comma before the name; it may be an expression the kernel did not evaluate. */
        while (*p && *p != ',' && *p != '}' && *p != '"')
                p++;
        if (*p != ',')
                return NULL;
        v_end = p;
        while (v_end > v && isspace((unsigned char) v_end[-1]))
                v_end--;

        *ret_resolved = false;
        if (v_end > v) {
                char buf[32], *end;
                size_t vl = (size_t) (v_end - v);

                if (vl < sizeof(buf)) {
                        memcpy(buf, v, vl);
                        buf[vl] = '\0';
                        errno = 0;
                        ret->value = strtoll(buf, &end, 0);
                        *ret_resolved = errno == 0 && *end == '\0';
                }
        }

        p = skip_ws(p + 1);
        if (*p != '"')
                return NULL;
        for (p++; *p && *p != '"'; p++) {
                char c = *p;

                if (c == '\\' && p[1])
                        c = *++p;
                if (len < sizeof(ret->name) - 1)
                        ret->name[len++] = c;
        }
        if (*p != '"')
                return NULL;
        ret->name[len] = '\0';
        p = skip_ws(p + 1);
        return *p == '}' ? p + 1 : NULL;
}

int tp_format_parse_symbolic(const char *text, const char *field, struct tp_symbol_table *ret) {
        static const char keyword[] = "__print_symbolic(";
        const char *p;

        if (!text || !field || !ret || field[0] == '\0')
                return -EINVAL;

        for (p = strstr(text, keyword); p; p = strstr(p + 1, keyword)) {
                const char *q = match_field(p + strlen(keyword), field);

                if (!q)
                        continue;

                *ret = (struct tp_symbol_table) {};
                for (;;) {
                        struct tp_symbol s = {};
                        bool resolved;

                        q = parse_entry(q, &s, &resolved);
                        if (!q)
                                return -EBADMSG;
                        if (!resolved)
                                ret->unresolved++;
                        else if (ret->n < TP_SYMBOLS_MAX)
                                ret->entries[ret->n++] = s;

                        q = skip_ws(q);
                        if (*q == ')')
                                return 0;
                        if (*q != ',')
                                return -EBADMSG;
                        q++;
                }
        }
        return -ENOENT;
}

const char *tp_symbol_table_lookup(const struct tp_symbol_table *t, long long value) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n; i++)
                if (t->entries[i].value == value)
                        return t->entries[i].name;
        return NULL;
}
