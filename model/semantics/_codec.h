/* Native code the state store (checker/engine/_arena.c) and the step memo (model/semantics/_memo.c) share:
 * the canonical byte encoding of the values a state holds, and an interning table of byte strings.
 *
 * The encoding is canonical and injective over what states hold (ints, bools, None, strings, bytes and
 * tuples of them): equal values encode to equal bytes, different ones to different bytes; True and 1 stay
 * apart, as pickling kept them.
 * One byte per value where it can, and one per run of Nones or zeros in a tuple (dead locals, empty
 * counters):
 *   0x00-0x7f  the ints 0..127
 *   0x80-0x8f  a tuple of 0..15 items, its items follow
 *   0x90       a tuple, its length (varint) and items follow
 *   0xa0-0xbf  inside a tuple, a run of 2..33 Nones
 *   0xc0-0xdf  inside a tuple, a run of 2..33 int zeros
 *   0xf0       an int in int64 range outside 0..127 and not -1, zigzag varint
 *   0xf1       any other int: its byte count (varint), then little-endian two's complement bytes
 *   0xf2 None, 0xf3 False, 0xf4 True, 0xf7 -1
 *   0xf5 a str, 0xf6 a bytes: the byte count (varint), then the UTF-8 or the bytes
 * A run is always as long as it can be (33 items at most, then the next run), so that the encoding stays
 * canonical.
 */
#ifndef NETCHECK_CODEC_H
#define NETCHECK_CODEC_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define SMALL_INTS 0x80
#define TUPLE_SHORT 0x80
#define TUPLE_SHORT_MAX 15
#define TUPLE_LONG 0x90
#define NONE_RUN 0xa0
#define ZERO_RUN 0xc0
#define RUN_MIN 2
#define RUN_MAX 33
#define INT_VARINT 0xf0
#define INT_BIG 0xf1
#define NONE_TAG 0xf2
#define FALSE_TAG 0xf3
#define TRUE_TAG 0xf4
#define STR_TAG 0xf5
#define BYTES_TAG 0xf6
#define MINUS_ONE_TAG 0xf7
#define MAX_DEPTH 64
#define MAX_IDS 0xfffffffeu

/* ---- a growing byte buffer: one encoding (scratch), or the arena of every state */

typedef struct {
    unsigned char *data;
    size_t len, cap;
} Buffer;

static inline int buffer_reserve(Buffer *b, size_t more) {
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more)
        cap *= 2;
    unsigned char *data = PyMem_Realloc(b->data, cap);
    if (!data) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static inline int put_byte(Buffer *b, unsigned char c) {
    if (buffer_reserve(b, 1) < 0)
        return -1;
    b->data[b->len++] = c;
    return 0;
}

static inline int put_varint(Buffer *b, uint64_t v) {
    if (buffer_reserve(b, 10) < 0)
        return -1;
    while (v >= 0x80) {
        b->data[b->len++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    b->data[b->len++] = (unsigned char)v;
    return 0;
}

static inline int encode_big_int(Buffer *b, PyObject *v) {
    /* int.to_bytes(n, "little", signed=True), n the fewest bytes that hold it and its sign */
    PyObject *bits = PyObject_CallMethod(v, "bit_length", NULL);
    if (!bits)
        return -1;
    Py_ssize_t nbits = PyLong_AsSsize_t(bits);
    Py_DECREF(bits);
    if (nbits < 0)
        return -1;
    PyObject *method = PyObject_GetAttrString(v, "to_bytes");
    PyObject *args = Py_BuildValue("(ns)", nbits / 8 + 1, "little");
    PyObject *kwargs = Py_BuildValue("{s:O}", "signed", Py_True);
    PyObject *raw = (method && args && kwargs) ? PyObject_Call(method, args, kwargs) : NULL;
    Py_XDECREF(method);
    Py_XDECREF(args);
    Py_XDECREF(kwargs);
    if (!raw)
        return -1;
    char *data;
    Py_ssize_t len;
    int rc = PyBytes_AsStringAndSize(raw, &data, &len) < 0 || put_byte(b, INT_BIG) < 0 ||
             put_varint(b, (uint64_t)len) < 0 || buffer_reserve(b, (size_t)len) < 0;
    if (!rc) {
        memcpy(b->data + b->len, data, (size_t)len);
        b->len += (size_t)len;
    }
    Py_DECREF(raw);
    return rc ? -1 : 0;
}

/* A run of `count` Nones (kind 1) or zeros (kind 2): one run byte, or the value's own byte for one item. */
static inline int put_run(Buffer *b, int kind, Py_ssize_t count) {
    if (count == 0)
        return 0;
    if (count == 1)
        return put_byte(b, kind == 1 ? NONE_TAG : 0);
    return put_byte(b, (unsigned char)((kind == 1 ? NONE_RUN : ZERO_RUN) + (count - RUN_MIN)));
}

static inline int encode_int(Buffer *b, PyObject *v, long long x, int overflow) {
    if (overflow)
        return encode_big_int(b, v);
    if (x >= 0 && x < SMALL_INTS)
        return put_byte(b, (unsigned char)x);
    if (x == -1)
        return put_byte(b, MINUS_ONE_TAG);
    uint64_t zigzag = ((uint64_t)x << 1) ^ (uint64_t)(x >> 63);
    if (put_byte(b, INT_VARINT) < 0)
        return -1;
    return put_varint(b, zigzag);
}

static inline int encode_items(Buffer *b, PyObject *const *items, Py_ssize_t n, int depth);

static inline int encode(Buffer *b, PyObject *v, int depth) {
    if (v == Py_None)
        return put_byte(b, NONE_TAG);
    if (v == Py_False)
        return put_byte(b, FALSE_TAG);
    if (v == Py_True)
        return put_byte(b, TRUE_TAG);
    if (PyLong_CheckExact(v)) {
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (x == -1 && !overflow && PyErr_Occurred())
            return -1;
        return encode_int(b, v, x, overflow);
    }
    if (PyTuple_CheckExact(v))
        return encode_items(b, PySequence_Fast_ITEMS(v), PyTuple_GET_SIZE(v), depth);
    if (PyUnicode_CheckExact(v) || PyBytes_CheckExact(v)) {
        const char *data;
        Py_ssize_t len;
        if (PyUnicode_CheckExact(v)) {
            data = PyUnicode_AsUTF8AndSize(v, &len);
            if (!data)
                return -1;
        } else {
            data = PyBytes_AS_STRING(v);
            len = PyBytes_GET_SIZE(v);
        }
        if (put_byte(b, PyUnicode_CheckExact(v) ? STR_TAG : BYTES_TAG) < 0 || put_varint(b, (uint64_t)len) < 0 ||
            buffer_reserve(b, (size_t)len) < 0)
            return -1;
        memcpy(b->data + b->len, data, (size_t)len);
        b->len += (size_t)len;
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "a state holds a %.100s, which the store cannot encode (ints, bools, None, "
                 "strings, bytes and tuples of them only)", Py_TYPE(v)->tp_name);
    return -1;
}

/* The tuple of `items[0..n)` (a tuple's own items, or ones gathered elsewhere: a state with a patch applied,
   the slots the step memo keys on), without making it. */
static inline int encode_items(Buffer *b, PyObject *const *items, Py_ssize_t n, int depth) {
    if (depth >= MAX_DEPTH) {
        PyErr_SetString(PyExc_ValueError, "a state nests tuples too deeply to store");
        return -1;
    }
    if (n <= TUPLE_SHORT_MAX) {
        if (put_byte(b, (unsigned char)(TUPLE_SHORT + n)) < 0)
            return -1;
    } else if (put_byte(b, TUPLE_LONG) < 0 || put_varint(b, (uint64_t)n) < 0) {
        return -1;
    }
    /* each item looked at once: Nones and zeros gather into runs, anything else ends the run */
    int run = 0;
    Py_ssize_t count = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = items[i];
        int kind = 0, overflow = 0;
        long long x = 0;
        if (item == Py_None) {
            kind = 1;
        } else if (PyLong_CheckExact(item)) {
            x = PyLong_AsLongLongAndOverflow(item, &overflow);
            if (x == -1 && !overflow && PyErr_Occurred())
                return -1;
            kind = !overflow && x == 0 ? 2 : 0;
        }
        if (kind && kind == run && count < RUN_MAX) {
            count++;
            continue;
        }
        if (put_run(b, run, count) < 0)
            return -1;
        run = kind;
        count = kind ? 1 : 0;
        if (kind)
            continue;
        if ((PyLong_CheckExact(item) ? encode_int(b, item, x, overflow) : encode(b, item, depth + 1)) < 0)
            return -1;
    }
    return put_run(b, run, count);
}

/* ---- decoding (only what `encode` produced: the arena, or what partition workers send each other; every
 * length and the nesting are checked, so that corrupt bytes raise ValueError rather than read past the end) */

typedef struct {
    const unsigned char *p, *end;
} Reader;

static inline int get_varint(Reader *r, uint64_t *out) {
    uint64_t v = 0;
    int shift = 0;
    while (r->p < r->end && shift < 64) {
        unsigned char c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
        shift += 7;
    }
    PyErr_SetString(PyExc_ValueError, "an encoded state is corrupt (a truncated number)");
    return -1;
}

static inline PyObject *decode(Reader *r, int depth) {
    if (depth > MAX_DEPTH) {
        PyErr_SetString(PyExc_ValueError, "an encoded state is corrupt (nested deeper than a state can be)");
        return NULL;
    }
    if (r->p >= r->end) {
        PyErr_SetString(PyExc_ValueError, "an encoded state is corrupt (it ends early)");
        return NULL;
    }
    unsigned char c = *r->p++;
    if (c < SMALL_INTS)
        return PyLong_FromLong(c);
    if (c <= TUPLE_SHORT + TUPLE_SHORT_MAX || c == TUPLE_LONG) {
        uint64_t n = (uint64_t)(c - TUPLE_SHORT);
        if (c == TUPLE_LONG && get_varint(r, &n) < 0)
            return NULL;
        if (n > RUN_MAX * (uint64_t)(r->end - r->p)) {
            PyErr_SetString(PyExc_ValueError, "an encoded state is corrupt (a tuple longer than its bytes)");
            return NULL;
        }
        PyObject *t = PyTuple_New((Py_ssize_t)n);
        if (!t)
            return NULL;
        uint64_t i = 0;
        while (i < n) {
            unsigned char next = r->p < r->end ? *r->p : 0;
            if (next >= NONE_RUN && next < ZERO_RUN + (RUN_MAX - RUN_MIN + 1)) {
                r->p++;
                int zeros = next >= ZERO_RUN;
                uint64_t k = (uint64_t)(next - (zeros ? ZERO_RUN : NONE_RUN)) + RUN_MIN;
                if (k > n - i) {
                    Py_DECREF(t);
                    PyErr_SetString(PyExc_ValueError, "an encoded state is corrupt (a run past its tuple)");
                    return NULL;
                }
                for (uint64_t e = i + k; i < e; i++) {
                    PyObject *item = zeros ? PyLong_FromLong(0) : Py_NewRef(Py_None);
                    if (!item) {
                        Py_DECREF(t);
                        return NULL;
                    }
                    PyTuple_SET_ITEM(t, (Py_ssize_t)i, item);
                }
                continue;
            }
            PyObject *item = decode(r, depth + 1);
            if (!item) {
                Py_DECREF(t);
                return NULL;
            }
            PyTuple_SET_ITEM(t, (Py_ssize_t)i++, item);
        }
        return t;
    }
    switch (c) {
    case INT_VARINT: {
        uint64_t z;
        if (get_varint(r, &z) < 0)
            return NULL;
        long long x = (long long)(z >> 1) ^ -(long long)(z & 1);
        return PyLong_FromLongLong(x);
    }
    case INT_BIG: {
        uint64_t len;
        if (get_varint(r, &len) < 0)
            return NULL;
        if (len > (uint64_t)(r->end - r->p)) {
            PyErr_SetString(PyExc_ValueError, "an encoded state is corrupt (a number longer than its bytes)");
            return NULL;
        }
        PyObject *raw = PyBytes_FromStringAndSize((const char *)r->p, (Py_ssize_t)len);
        r->p += len;
        if (!raw)
            return NULL;
        PyObject *type = (PyObject *)&PyLong_Type;
        PyObject *args = Py_BuildValue("(Os)", raw, "little");
        PyObject *kwargs = Py_BuildValue("{s:O}", "signed", Py_True);
        PyObject *from_bytes = PyObject_GetAttrString(type, "from_bytes");
        PyObject *v = (args && kwargs && from_bytes) ? PyObject_Call(from_bytes, args, kwargs) : NULL;
        Py_XDECREF(from_bytes);
        Py_XDECREF(args);
        Py_XDECREF(kwargs);
        Py_DECREF(raw);
        return v;
    }
    case STR_TAG:
    case BYTES_TAG: {
        uint64_t len;
        if (get_varint(r, &len) < 0)
            return NULL;
        if (len > (uint64_t)(r->end - r->p)) {
            PyErr_SetString(PyExc_ValueError, "an encoded state is corrupt (a string longer than its bytes)");
            return NULL;
        }
        const char *data = (const char *)r->p;
        r->p += len;
        return c == STR_TAG ? PyUnicode_DecodeUTF8(data, (Py_ssize_t)len, "strict")
                            : PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
    }
    case MINUS_ONE_TAG:
        return PyLong_FromLong(-1);
    case NONE_TAG:
        Py_RETURN_NONE;
    case FALSE_TAG:
        Py_RETURN_FALSE;
    case TRUE_TAG:
        Py_RETURN_TRUE;
    }
    PyErr_Format(PyExc_ValueError, "an encoded state is corrupt (tag 0x%02x)", c);
    return NULL;
}

static inline PyObject *decode_whole(const unsigned char *p, const unsigned char *end) {
    Reader r = {p, end};
    PyObject *v = decode(&r, 0);
    if (v && r.p != r.end) {
        Py_DECREF(v);
        PyErr_SetString(PyExc_ValueError, "an encoded state is corrupt (bytes left over)");
        return NULL;
    }
    return v;
}

/* ---- an interning table of byte strings: each stored once in one growing buffer, numbered in order, found
 * through an open-addressing table of ids (linear probing), each string's 32-bit hash kept beside it so that
 * probing reads a stored string only when the hashes match */

typedef struct {
    Buffer bytes;             /* every string, in id order */
    uint64_t *offsets;        /* offsets[i]: where string i starts; offsets[count]: the end */
    uint32_t *hashes;         /* per string, the low 32 bits of its hash */
    size_t count, cap;        /* strings stored, room in offsets and hashes */
    uint32_t *table;          /* id + 1 per slot, 0 empty */
    size_t mask;              /* table size - 1 (a power of two) */
} Strings;

static inline uint64_t hash_bytes(const unsigned char *p, size_t n) {
    /* FNV-1a, 64 bits, then a final mix so that the low bits (the table index) depend on every byte */
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static inline int strings_grow_ids(Strings *t) {
    size_t cap = t->cap ? t->cap + t->cap / 2 : 1024;
    uint64_t *offsets = PyMem_Realloc(t->offsets, (cap + 1) * sizeof(uint64_t));
    if (!offsets) {
        PyErr_NoMemory();
        return -1;
    }
    t->offsets = offsets;
    uint32_t *hashes = PyMem_Realloc(t->hashes, cap * sizeof(uint32_t));
    if (!hashes) {
        PyErr_NoMemory();
        return -1;
    }
    t->hashes = hashes;
    t->cap = cap;
    return 0;
}

static inline int strings_init(Strings *t) {
    memset(t, 0, sizeof(*t));
    t->mask = (1 << 12) - 1;
    t->table = PyMem_Calloc(t->mask + 1, sizeof(uint32_t));
    if (!t->table || strings_grow_ids(t) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    t->offsets[0] = 0;
    return 0;
}

static inline void strings_free(Strings *t) {
    PyMem_Free(t->bytes.data);
    PyMem_Free(t->offsets);
    PyMem_Free(t->hashes);
    PyMem_Free(t->table);
    memset(t, 0, sizeof(*t));
}

static inline size_t strings_nbytes(const Strings *t) {
    return t->bytes.cap + (t->cap + 1) * sizeof(uint64_t) + t->cap * sizeof(uint32_t) +
           (t->mask + 1) * sizeof(uint32_t);
}

static inline int strings_grow_table(Strings *t) {
    size_t size = (t->mask + 1) * 2;
    uint32_t *table = PyMem_Calloc(size, sizeof(uint32_t));
    if (!table) {
        PyErr_NoMemory();
        return -1;
    }
    size_t mask = size - 1;
    for (size_t id = 0; id < t->count; id++) {
        size_t i = t->hashes[id] & mask;
        while (table[i])
            i = (i + 1) & mask;
        table[i] = (uint32_t)(id + 1);
    }
    PyMem_Free(t->table);
    t->table = table;
    t->mask = mask;
    return 0;
}

/* Where a string is in the table: its slot, and its id (or -1 when the slot is empty: where it would go). */
static inline Py_ssize_t strings_lookup(const Strings *t, const unsigned char *key, size_t len, uint64_t h,
                                        size_t *slot) {
    uint32_t h32 = (uint32_t)h;
    size_t i = h32 & t->mask;   /* the kept 32 bits, as strings_grow_table places them */
    for (;;) {
        uint32_t entry = t->table[i];
        if (!entry) {
            *slot = i;
            return -1;
        }
        size_t id = entry - 1;
        if (t->hashes[id] == h32 && t->offsets[id + 1] - t->offsets[id] == len &&
            memcmp(t->bytes.data + t->offsets[id], key, len) == 0) {
            *slot = i;
            return (Py_ssize_t)id;
        }
        i = (i + 1) & t->mask;
    }
}

/* Store a string `strings_lookup` did not find (at its `slot`): its id, or -1 with an exception set. */
static inline Py_ssize_t strings_add(Strings *t, const unsigned char *key, size_t len, uint64_t h, size_t slot) {
    if (t->count >= MAX_IDS) {
        PyErr_SetString(PyExc_OverflowError, "more than 2^32 - 2 entries: beyond what the table can number");
        return -1;
    }
    if ((t->count + 1 > t->cap && strings_grow_ids(t) < 0) || buffer_reserve(&t->bytes, len) < 0)
        return -1;
    size_t id = t->count;
    memcpy(t->bytes.data + t->bytes.len, key, len);
    t->offsets[id] = t->bytes.len;
    t->bytes.len += len;
    t->offsets[id + 1] = t->bytes.len;
    t->hashes[id] = (uint32_t)h;
    t->table[slot] = (uint32_t)(id + 1);
    t->count++;
    if (4 * t->count > 3 * (t->mask + 1) && strings_grow_table(t) < 0) {
        /* stored but the table could not grow: undo, so that the table stays consistent */
        t->count--;
        t->bytes.len = t->offsets[id];
        t->table[slot] = 0;
        return -1;
    }
    return (Py_ssize_t)id;
}

/* The id of a string, stored first if the table does not hold it yet (`*added` says which), or -1 with an
   exception set. */
static inline Py_ssize_t strings_intern(Strings *t, const unsigned char *key, size_t len, int *added) {
    uint64_t h = hash_bytes(key, len);
    size_t slot;
    Py_ssize_t id = strings_lookup(t, key, len, h, &slot);
    *added = id < 0;
    return id >= 0 ? id : strings_add(t, key, len, h, slot);
}

/* String `id`'s bytes. */
static inline const unsigned char *strings_at(const Strings *t, size_t id, size_t *len) {
    *len = (size_t)(t->offsets[id + 1] - t->offsets[id]);
    return t->bytes.data + t->offsets[id];
}

/* ---- where an expansion may put the successors it encodes itself (the step memo's `expand_into`): a state
 * store's intern function, handed over in a capsule named INTERN_CAPSULE (checker/engine/_arena.c's
 * `INTERN`). It returns the id of the state with this encoding, storing it first if it is new (`*added`
 * set: new ids come in order), or -1 with an exception set. */

#define INTERN_CAPSULE "netcheck.state_store.intern"
typedef Py_ssize_t (*InternEncoded)(PyObject *store, const unsigned char *key, size_t len, int *added);

#endif
