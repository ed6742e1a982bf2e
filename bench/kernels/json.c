// json — a JSON round trip, n times: build a document of 400 records, serialize it, parse the
// text back into a tree, serialize again and check both texts are equal (malloc/free of many
// small nodes, byte-wise scanning, string escapes, integer formatting and parsing).
// The parser and serializer are this file's own (objects, arrays, strings with escapes, integers,
// true/false/null; no floating point, so every build prints the same bytes).
// A WASI command (docs/abi.md): stdin {"n": rounds}, stdout {"bytes","checksum"}.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_input.h"

static void die(const char* why) {
  printf("{\"error\":\"%s\"}\n", why);
  exit(1);
}

// --- values ---------------------------------------------------------------------------------

enum kind { J_NULL, J_FALSE, J_TRUE, J_INT, J_STRING, J_ARRAY, J_OBJECT };

struct value {
  enum kind kind;
  int64_t integer;
  char* str;             // J_STRING: bytes (may hold NUL); J_OBJECT members: keys[i]
  size_t len;            // J_STRING: bytes; J_ARRAY/J_OBJECT: items
  size_t cap;
  struct value** items;  // J_ARRAY/J_OBJECT
  char** keys;           // J_OBJECT
  size_t* key_lens;
};

static struct value* new_value(enum kind k) {
  struct value* v = calloc(1, sizeof *v);
  if (!v) die("out of memory");
  v->kind = k;
  return v;
}

static struct value* new_int(int64_t i) {
  struct value* v = new_value(J_INT);
  v->integer = i;
  return v;
}

static struct value* new_string(const char* s, size_t len) {
  struct value* v = new_value(J_STRING);
  v->str = malloc(len + 1);
  if (!v->str) die("out of memory");
  memcpy(v->str, s, len);
  v->str[len] = '\0';
  v->len = len;
  return v;
}

static void push(struct value* parent, const char* key, size_t key_len, struct value* item) {
  if (parent->len == parent->cap) {
    parent->cap = parent->cap ? parent->cap * 2 : 4;
    parent->items = realloc(parent->items, parent->cap * sizeof *parent->items);
    if (parent->kind == J_OBJECT) {
      parent->keys = realloc(parent->keys, parent->cap * sizeof *parent->keys);
      parent->key_lens = realloc(parent->key_lens, parent->cap * sizeof *parent->key_lens);
    }
    if (!parent->items || (parent->kind == J_OBJECT && (!parent->keys || !parent->key_lens))) {
      die("out of memory");
    }
  }
  if (parent->kind == J_OBJECT) {
    parent->keys[parent->len] = malloc(key_len + 1);
    if (!parent->keys[parent->len]) die("out of memory");
    memcpy(parent->keys[parent->len], key, key_len);
    parent->keys[parent->len][key_len] = '\0';
    parent->key_lens[parent->len] = key_len;
  }
  parent->items[parent->len++] = item;
}

static void set(struct value* obj, const char* key, struct value* item) {
  push(obj, key, strlen(key), item);
}

static void free_value(struct value* v) {
  for (size_t i = 0; i < v->len && (v->kind == J_ARRAY || v->kind == J_OBJECT); i++) {
    free_value(v->items[i]);
    if (v->kind == J_OBJECT) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->key_lens);
  free(v->str);
  free(v);
}

// --- serializer -----------------------------------------------------------------------------

struct buffer {
  char* data;
  size_t len, cap;
};

static void reserve(struct buffer* b, size_t extra) {
  if (b->len + extra <= b->cap) return;
  while (b->len + extra > b->cap) b->cap = b->cap ? b->cap * 2 : 256;
  b->data = realloc(b->data, b->cap);
  if (!b->data) die("out of memory");
}

static void put(struct buffer* b, const char* s, size_t len) {
  reserve(b, len);
  memcpy(b->data + b->len, s, len);
  b->len += len;
}

static void put_char(struct buffer* b, char c) {
  reserve(b, 1);
  b->data[b->len++] = c;
}

static void put_int(struct buffer* b, int64_t i) {
  char tmp[24];
  int n = 0;
  uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (i < 0) tmp[n++] = '-';
  reserve(b, (size_t)n);
  while (n) b->data[b->len++] = tmp[--n];
}

static void put_string(struct buffer* b, const char* s, size_t len) {
  static const char hexdig[] = "0123456789abcdef";
  put_char(b, '"');
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
      case '"': put(b, "\\\"", 2); break;
      case '\\': put(b, "\\\\", 2); break;
      case '\n': put(b, "\\n", 2); break;
      case '\r': put(b, "\\r", 2); break;
      case '\t': put(b, "\\t", 2); break;
      default:
        if (c < 0x20) {
          char esc[6] = {'\\', 'u', '0', '0', hexdig[c >> 4], hexdig[c & 15]};
          put(b, esc, 6);
        } else {
          put_char(b, (char)c);
        }
    }
  }
  put_char(b, '"');
}

static void serialize(struct buffer* b, const struct value* v) {
  switch (v->kind) {
    case J_NULL: put(b, "null", 4); break;
    case J_FALSE: put(b, "false", 5); break;
    case J_TRUE: put(b, "true", 4); break;
    case J_INT: put_int(b, v->integer); break;
    case J_STRING: put_string(b, v->str, v->len); break;
    case J_ARRAY:
      put_char(b, '[');
      for (size_t i = 0; i < v->len; i++) {
        if (i) put_char(b, ',');
        serialize(b, v->items[i]);
      }
      put_char(b, ']');
      break;
    case J_OBJECT:
      put_char(b, '{');
      for (size_t i = 0; i < v->len; i++) {
        if (i) put_char(b, ',');
        put_string(b, v->keys[i], v->key_lens[i]);
        put_char(b, ':');
        serialize(b, v->items[i]);
      }
      put_char(b, '}');
      break;
  }
}

// --- parser ---------------------------------------------------------------------------------

struct parser {
  const char* p;
  const char* end;
  struct buffer scratch;  // decoded string bytes
};

static void skip_ws(struct parser* ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t')) ps->p++;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  die("bad \\u escape");
  return 0;
}

// Decodes the string at ps->p (after the opening quote) into ps->scratch.
static void parse_string_bytes(struct parser* ps) {
  ps->scratch.len = 0;
  for (;;) {
    if (ps->p >= ps->end) die("unterminated string");
    char c = *ps->p++;
    if (c == '"') return;
    if (c != '\\') {
      put_char(&ps->scratch, c);
      continue;
    }
    if (ps->p >= ps->end) die("unterminated escape");
    char e = *ps->p++;
    switch (e) {
      case '"': put_char(&ps->scratch, '"'); break;
      case '\\': put_char(&ps->scratch, '\\'); break;
      case '/': put_char(&ps->scratch, '/'); break;
      case 'b': put_char(&ps->scratch, '\b'); break;
      case 'f': put_char(&ps->scratch, '\f'); break;
      case 'n': put_char(&ps->scratch, '\n'); break;
      case 'r': put_char(&ps->scratch, '\r'); break;
      case 't': put_char(&ps->scratch, '\t'); break;
      case 'u': {
        if (ps->end - ps->p < 4) die("short \\u escape");
        unsigned cp = 0;
        for (int i = 0; i < 4; i++) cp = cp << 4 | (unsigned)hex_digit(*ps->p++);
        // Basic Multilingual Plane only: enough for what the generator writes.
        if (cp < 0x80) {
          put_char(&ps->scratch, (char)cp);
        } else if (cp < 0x800) {
          put_char(&ps->scratch, (char)(0xc0 | cp >> 6));
          put_char(&ps->scratch, (char)(0x80 | (cp & 0x3f)));
        } else {
          put_char(&ps->scratch, (char)(0xe0 | cp >> 12));
          put_char(&ps->scratch, (char)(0x80 | ((cp >> 6) & 0x3f)));
          put_char(&ps->scratch, (char)(0x80 | (cp & 0x3f)));
        }
        break;
      }
      default: die("bad escape");
    }
  }
}

static struct value* parse_value(struct parser* ps);

static struct value* parse_container(struct parser* ps, enum kind kind, char close) {
  struct value* v = new_value(kind);
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == close) {
    ps->p++;
    return v;
  }
  for (;;) {
    skip_ws(ps);
    char* key = NULL;
    size_t key_len = 0;
    if (kind == J_OBJECT) {
      if (ps->p >= ps->end || *ps->p != '"') die("expected a key");
      ps->p++;
      parse_string_bytes(ps);
      key = ps->scratch.data;
      key_len = ps->scratch.len;
      skip_ws(ps);
      if (ps->p >= ps->end || *ps->p != ':') die("expected ':'");
      ps->p++;
      // The scratch buffer is reused by the value's strings: push copies the key first.
      struct value* placeholder = new_value(J_NULL);
      push(v, key, key_len, placeholder);
      free(placeholder);
      v->items[v->len - 1] = parse_value(ps);
    } else {
      push(v, NULL, 0, parse_value(ps));
    }
    skip_ws(ps);
    if (ps->p >= ps->end) die("unterminated container");
    char c = *ps->p++;
    if (c == close) return v;
    if (c != ',') die("expected ',' or the closing bracket");
  }
}

static struct value* parse_value(struct parser* ps) {
  skip_ws(ps);
  if (ps->p >= ps->end) die("unexpected end");
  char c = *ps->p;
  if (c == '{') {
    ps->p++;
    return parse_container(ps, J_OBJECT, '}');
  }
  if (c == '[') {
    ps->p++;
    return parse_container(ps, J_ARRAY, ']');
  }
  if (c == '"') {
    ps->p++;
    parse_string_bytes(ps);
    return new_string(ps->scratch.data ? ps->scratch.data : "", ps->scratch.len);
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    int negative = c == '-';
    if (negative) ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') die("bad number");
    uint64_t u = 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') u = u * 10 + (uint64_t)(*ps->p++ - '0');
    return new_int(negative ? -(int64_t)u : (int64_t)u);
  }
  static const struct {
    const char* word;
    enum kind kind;
  } words[] = {{"null", J_NULL}, {"true", J_TRUE}, {"false", J_FALSE}};
  for (int i = 0; i < 3; i++) {
    size_t len = strlen(words[i].word);
    if ((size_t)(ps->end - ps->p) >= len && memcmp(ps->p, words[i].word, len) == 0) {
      ps->p += len;
      return new_value(words[i].kind);
    }
  }
  die("unexpected character");
  return NULL;
}

// --- the round trip -------------------------------------------------------------------------

static struct value* build_document(long round) {
  static const char* const words[] = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta"};
  struct value* root = new_value(J_OBJECT);
  set(root, "round", new_int(round));
  struct value* records = new_value(J_ARRAY);
  for (int i = 0; i < 400; i++) {
    struct value* r = new_value(J_OBJECT);
    char name[64];
    int len = snprintf(name, sizeof name, "record-%d \"%s\"\n\ttab", i, words[i % 6]);
    set(r, "id", new_int((int64_t)i * 7919 - 1000000 + round));
    set(r, "name", new_string(name, (size_t)len));
    set(r, "active", new_value(i % 3 == 0 ? J_TRUE : J_FALSE));
    set(r, "parent", i % 5 == 0 ? new_value(J_NULL) : new_int(i / 5));
    struct value* tags = new_value(J_ARRAY);
    for (int t = 0; t < i % 4 + 1; t++) push(tags, NULL, 0, new_string(words[(i + t) % 6], strlen(words[(i + t) % 6])));
    set(r, "tags", tags);
    struct value* pos = new_value(J_OBJECT);
    set(pos, "x", new_int((int64_t)(i * i) % 1009));
    set(pos, "y", new_int(-(int64_t)i * 31));
    set(pos, "control", new_string("\x01\x1f", 2));
    set(r, "position", pos);
    push(records, NULL, 0, r);
  }
  set(root, "records", records);
  return root;
}

// FNV-1a over the text: equal texts in every build give equal checksums.
static uint64_t fnv1a(const char* s, size_t len, uint64_t h) {
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

int main(void) {
  long n = read_n(1);
  uint64_t checksum = 1469598103934665603ull;
  size_t bytes = 0;
  struct buffer first = {0}, second = {0};
  struct parser ps = {0};
  for (long round = 0; round < n; round++) {
    struct value* doc = build_document(round);
    first.len = 0;
    serialize(&first, doc);
    free_value(doc);
    ps.p = first.data;
    ps.end = first.data + first.len;
    struct value* parsed = parse_value(&ps);
    skip_ws(&ps);
    if (ps.p != ps.end) die("trailing bytes");
    second.len = 0;
    serialize(&second, parsed);
    free_value(parsed);
    if (first.len != second.len || memcmp(first.data, second.data, first.len) != 0) {
      die("the round trip changed the document");
    }
    checksum = fnv1a(second.data, second.len, checksum);
    bytes += second.len;
  }
  printf("{\"kernel\":\"json\",\"n\":%ld,\"bytes\":%zu,\"checksum\":\"%016llx\"}\n", n, bytes,
         (unsigned long long)checksum);
  free(first.data);
  free(second.data);
  free(ps.scratch.data);
  return 0;
}
