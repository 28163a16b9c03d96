/*
 * c-name-rules: an ftpsd policy plugin written in C (wasi-libc), to show that the plugin ABI
 * is usable from any language that targets wasm32 — no Rust, no SDK, only the JSON contract
 * in plugin-sdk/abi/schema.json.
 *
 * Rule: files uploaded into `folder` (default /incoming) must have names matching `pattern`
 * (a shell glob, default *.csv); anything else is refused with 553 before a byte is stored.
 *
 * Settings:  folder = "/incoming", pattern = "*.csv", message = "..." (optional reply text).
 *
 * ABI (version 2): exports memory, ftpsd_abi_version, ftpsd_alloc, ftpsd_dealloc,
 * ftpsd_handle and _initialize (a WASI reactor). Each request is one JSON object with a
 * "hook" member; the reply is JSON written into memory from malloc, returned as
 * (ptr << 32) | len, and freed by the host through ftpsd_dealloc.
 */
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT(name) __attribute__((export_name(name)))

/* ---- settings (live for the instance; the host configures each instance once) ---- */

static char folder[512] = "/incoming";
static char pattern[256] = "*.csv";
static char message[512] = "";

/* ---- a small JSON reader: enough to walk objects and read strings ---- */

typedef struct {
    const char *p;
    const char *end;
} Cursor;

static void skip_ws(Cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static int read_hex4(Cursor *c, unsigned *out) {
    if (c->end - c->p < 4) return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(c->p[i]);
        if (h < 0) return 0;
        v = v * 16 + (unsigned)h;
    }
    c->p += 4;
    *out = v;
    return 1;
}

/* Appends code point cp as UTF-8 if it fits; returns the new length, or -1 when full. */
static int put_utf8(char *out, int len, int cap, unsigned cp) {
    char b[4];
    int n;
    if (cp < 0x80) { b[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { b[0] = (char)(0xC0 | (cp >> 6)); b[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12)); b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18)); b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); b[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    if (len + n >= cap) return -1;
    memcpy(out + len, b, (size_t)n);
    return len + n;
}

/*
 * Reads a JSON string at the cursor into out (NUL-terminated, at most cap-1 bytes).
 * Returns 1 on success, 0 on malformed input or when the string does not fit.
 */
static int read_string(Cursor *c, char *out, int cap) {
    skip_ws(c);
    if (c->p >= c->end || *c->p != '"') return 0;
    c->p++;
    int len = 0;
    while (c->p < c->end) {
        char ch = *c->p++;
        if (ch == '"') {
            if (out) out[len] = 0;
            return 1;
        }
        unsigned cp;
        if (ch == '\\') {
            if (c->p >= c->end) return 0;
            char e = *c->p++;
            switch (e) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                if (!read_hex4(c, &cp)) return 0;
                if (cp >= 0xD800 && cp < 0xDC00) {
                    unsigned lo;
                    if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u') return 0;
                    c->p += 2;
                    if (!read_hex4(c, &lo) || lo < 0xDC00 || lo > 0xDFFF) return 0;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp < 0xE000) {
                    return 0;
                }
                break;
            default: return 0;
            }
        } else {
            if ((unsigned char)ch < 0x20) return 0;
            if (out) {
                if (len + 1 >= cap) return 0;
                out[len++] = ch;
            }
            continue;
        }
        if (out) {
            if (cp == 0) return 0; /* a NUL would cut the C string short: refuse it */
            len = put_utf8(out, len, cap, cp);
            if (len < 0) return 0;
        }
    }
    return 0;
}

static int skip_value(Cursor *c, int depth);

static int skip_container(Cursor *c, char close, int depth) {
    c->p++; /* the opening bracket */
    skip_ws(c);
    if (c->p < c->end && *c->p == close) { c->p++; return 1; }
    for (;;) {
        if (close == '}') {
            if (!read_string(c, NULL, 0)) return 0;
            skip_ws(c);
            if (c->p >= c->end || *c->p != ':') return 0;
            c->p++;
        }
        if (!skip_value(c, depth + 1)) return 0;
        skip_ws(c);
        if (c->p >= c->end) return 0;
        if (*c->p == ',') { c->p++; continue; }
        if (*c->p == close) { c->p++; return 1; }
        return 0;
    }
}

static int skip_value(Cursor *c, int depth) {
    if (depth > 64) return 0;
    skip_ws(c);
    if (c->p >= c->end) return 0;
    switch (*c->p) {
    case '{': return skip_container(c, '}', depth);
    case '[': return skip_container(c, ']', depth);
    case '"': return read_string(c, NULL, 0);
    default: {
        const char *start = c->p;
        while (c->p < c->end && strchr("+-0123456789.eEtruefalsn", *c->p)) c->p++;
        return c->p > start;
    }
    }
}

/*
 * Finds member `key` of the object at the cursor; on success the returned cursor points at
 * its value. Returns 1 when found, 0 when absent, -1 when the JSON is malformed.
 */
static int find_member(Cursor obj, const char *key, Cursor *value) {
    char name[64];
    skip_ws(&obj);
    if (obj.p >= obj.end || *obj.p != '{') return -1;
    obj.p++;
    skip_ws(&obj);
    if (obj.p < obj.end && *obj.p == '}') return 0;
    for (;;) {
        Cursor k = obj;
        int fits = read_string(&k, name, sizeof name);
        if (!fits) {
            if (!read_string(&obj, NULL, 0)) return -1; /* malformed, not just long */
            name[0] = 0;
        } else {
            obj = k;
        }
        skip_ws(&obj);
        if (obj.p >= obj.end || *obj.p != ':') return -1;
        obj.p++;
        skip_ws(&obj);
        if (fits && strcmp(name, key) == 0) {
            *value = obj;
            return 1;
        }
        if (!skip_value(&obj, 1)) return -1;
        skip_ws(&obj);
        if (obj.p >= obj.end) return -1;
        if (*obj.p == ',') { obj.p++; continue; }
        if (*obj.p == '}') return 0;
        return -1;
    }
}

/* Member `key` as a string into out: 1 found, 0 absent or null, -1 malformed or not a string. */
static int string_member(Cursor obj, const char *key, char *out, int cap) {
    Cursor v;
    int found = find_member(obj, key, &v);
    if (found <= 0) return found;
    if (v.end - v.p >= 4 && memcmp(v.p, "null", 4) == 0) return 0;
    return read_string(&v, out, cap) ? 1 : -1;
}

/* ---- replies ---- */

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} Out;

static void put(Out *o, const char *s, size_t n) {
    if (o->failed) return;
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 256;
        while (cap < o->len + n) cap *= 2;
        char *b = realloc(o->buf, cap);
        if (!b) { o->failed = 1; return; }
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void puts_raw(Out *o, const char *s) { put(o, s, strlen(s)); }

/* A JSON string literal; control characters are escaped, UTF-8 passes through. */
static void put_json_string(Out *o, const char *s) {
    put(o, "\"", 1);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};
            put(o, e, 2);
        } else if (ch < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", ch);
            put(o, e, 6);
        } else {
            put(o, (const char *)&ch, 1);
        }
    }
    put(o, "\"", 1);
}

static void deny(Out *o, int code, const char *text) {
    char head[48];
    snprintf(head, sizeof head, "{\"verdict\":\"deny\",\"code\":%d,\"message\":", code);
    puts_raw(o, head);
    put_json_string(o, text);
    puts_raw(o, "}");
}

static void config_error(Out *o, const char *text) {
    puts_raw(o, "{\"error\":");
    put_json_string(o, text);
    puts_raw(o, "}");
}

/* ---- the rule ---- */

/* Whether virtual path `path` is a file directly or deeper inside `dir`. */
static int inside(const char *path, const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    if (n == 1 && dir[0] == '/') return path[0] == '/';
    return strncmp(path, dir, n) == 0 && path[n] == '/';
}

static void configure(Cursor req, Out *o) {
    Cursor settings;
    int has = find_member(req, "settings", &settings);
    char f[sizeof folder] = "/incoming", p[sizeof pattern] = "*.csv", m[sizeof message] = "";
    if (has < 0) { config_error(o, "bad request: malformed JSON"); return; }
    skip_ws(&settings);
    if (has == 1 && !(settings.end - settings.p >= 4 && memcmp(settings.p, "null", 4) == 0)) {
        if (settings.p >= settings.end || *settings.p != '{') {
            config_error(o, "settings: expected a table");
            return;
        }
        if (string_member(settings, "folder", f, sizeof f) < 0) {
            config_error(o, "folder: expected a string (an absolute virtual path) under 512 bytes");
            return;
        }
        if (string_member(settings, "pattern", p, sizeof p) < 0) {
            config_error(o, "pattern: expected a string (a glob such as \"*.csv\") under 256 bytes");
            return;
        }
        if (string_member(settings, "message", m, sizeof m) < 0) {
            config_error(o, "message: expected a string under 512 bytes");
            return;
        }
    }
    if (f[0] != '/') {
        config_error(o, "folder: must be an absolute virtual path such as \"/incoming\"");
        return;
    }
    if (p[0] == 0) {
        config_error(o, "pattern: must not be empty");
        return;
    }
    strcpy(folder, f);
    strcpy(pattern, p);
    strcpy(message, m);
    puts_raw(o, "{\"ok\":true}");
}

static void upload(Cursor req, Out *o) {
    static char path[4096];
    if (string_member(req, "path", path, sizeof path) != 1) {
        deny(o, 451, "c-name-rules: the upload event has no readable path.");
        return;
    }
    if (!inside(path, folder)) {
        puts_raw(o, "{\"verdict\":\"allow\"}");
        return;
    }
    const char *name = strrchr(path, '/') + 1;
    if (fnmatch(pattern, name, FNM_PERIOD) == 0) {
        puts_raw(o, "{\"verdict\":\"allow\"}");
        return;
    }
    if (message[0]) {
        deny(o, 553, message);
    } else {
        char text[1024];
        snprintf(text, sizeof text, "Names in %s must match %s.", folder, pattern);
        deny(o, 553, text);
    }
}

static void handle(const char *json, size_t len, Out *o) {
    Cursor req = {json, json + len};
    char hook[32];
    int h = string_member(req, "hook", hook, sizeof hook);
    if (h != 1) {
        config_error(o, "bad request: no \"hook\" member");
        return;
    }
    if (strcmp(hook, "describe") == 0) {
        puts_raw(o, "{\"name\":\"c-name-rules\",\"hooks\":[\"upload\"]}");
    } else if (strcmp(hook, "configure") == 0) {
        configure(req, o);
    } else if (strcmp(hook, "upload") == 0) {
        upload(req, o);
    } else {
        /* A hook this plugin did not declare: no opinion. */
        puts_raw(o, "{\"verdict\":\"allow\"}");
    }
}

/* ---- the exports ---- */

EXPORT("ftpsd_abi_version") int32_t ftpsd_abi_version(void) { return 2; }

EXPORT("ftpsd_alloc") int32_t ftpsd_alloc(int32_t len) {
    return (int32_t)(uintptr_t)malloc(len > 0 ? (size_t)len : 1);
}

EXPORT("ftpsd_dealloc") void ftpsd_dealloc(int32_t ptr, int32_t len) {
    (void)len;
    free((void *)(uintptr_t)ptr);
}

EXPORT("ftpsd_handle") int64_t ftpsd_handle(int32_t ptr, int32_t len) {
    Out o = {0};
    handle((const char *)(uintptr_t)ptr, len > 0 ? (size_t)len : 0, &o);
    if (o.failed) {
        free(o.buf);
        return 0; /* an empty reply: the host counts a fault and the gate fails closed */
    }
    return ((int64_t)(uint32_t)(uintptr_t)o.buf << 32) | (int64_t)(uint32_t)o.len;
}
