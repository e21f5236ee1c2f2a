/* The explicit search's exact state store in native code: every state encoded once into one growing
 * byte arena, interned through an open-addressing table of 32-bit ids. No Python object per stored state:
 * a state costs its encoding (about half a byte to a byte per slot), an 8-byte offset, a 4-byte hash and
 * its share of the table (engine/store.py, `ArenaStates`).
 *
 * The encoding is canonical and injective over what states hold (ints, bools, None, strings, bytes and
 * tuples of them): equal states encode to equal bytes, different ones to different bytes; True and 1 stay
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
 *
 * Also here, for the search under symmetry (store.py's `Canonical`): `ImageOrder`, which of a state's
 * images are least by the slots their ordering keys read; `Image`, a state's image under one permutation;
 * `least_state`, a total order on states that breaks the remaining ties.
 */
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

static int buffer_reserve(Buffer *b, size_t more) {
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

static int put_byte(Buffer *b, unsigned char c) {
    if (buffer_reserve(b, 1) < 0)
        return -1;
    b->data[b->len++] = c;
    return 0;
}

static int put_varint(Buffer *b, uint64_t v) {
    if (buffer_reserve(b, 10) < 0)
        return -1;
    while (v >= 0x80) {
        b->data[b->len++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    b->data[b->len++] = (unsigned char)v;
    return 0;
}

static int encode_big_int(Buffer *b, PyObject *v) {
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
static int put_run(Buffer *b, int kind, Py_ssize_t count) {
    if (count == 0)
        return 0;
    if (count == 1)
        return put_byte(b, kind == 1 ? NONE_TAG : 0);
    return put_byte(b, (unsigned char)((kind == 1 ? NONE_RUN : ZERO_RUN) + (count - RUN_MIN)));
}

static int encode_int(Buffer *b, PyObject *v, long long x, int overflow) {
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

static int encode(Buffer *b, PyObject *v, int depth) {
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
    if (PyTuple_CheckExact(v)) {
        if (depth >= MAX_DEPTH) {
            PyErr_SetString(PyExc_ValueError, "a state nests tuples too deeply to store");
            return -1;
        }
        Py_ssize_t n = PyTuple_GET_SIZE(v);
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
            PyObject *item = PyTuple_GET_ITEM(v, i);
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
        if (put_run(b, run, count) < 0)
            return -1;
        return 0;
    }
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

/* ---- decoding (only what `encode` produced: the arena, or what partition workers send each other; every
 * length and the nesting are checked, so that corrupt bytes raise ValueError rather than read past the end) */

typedef struct {
    const unsigned char *p, *end;
} Reader;

static int get_varint(Reader *r, uint64_t *out) {
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

static PyObject *decode(Reader *r, int depth) {
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

/* ---- the store */

typedef struct {
    PyObject_HEAD
    Buffer arena;             /* every state's encoding, in id order */
    uint64_t *offsets;        /* offsets[i]: where state i starts; offsets[count]: the arena's end */
    uint32_t *hashes;         /* per state, the low 32 bits of its hash */
    size_t count, cap;        /* states stored, room in offsets and hashes */
    uint32_t *table;          /* id + 1 per slot, 0 empty; linear probing */
    size_t mask;              /* table size - 1 (a power of two) */
    Buffer scratch;
    int raw;                  /* keys are bytes objects stored as they are, not states to encode */
} Arena;

static uint64_t hash_bytes(const unsigned char *p, size_t n) {
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

static int grow_table(Arena *a) {
    size_t size = (a->mask + 1) * 2;
    uint32_t *table = PyMem_Calloc(size, sizeof(uint32_t));
    if (!table) {
        PyErr_NoMemory();
        return -1;
    }
    size_t mask = size - 1;
    for (size_t id = 0; id < a->count; id++) {
        size_t i = a->hashes[id] & mask;
        while (table[i])
            i = (i + 1) & mask;
        table[i] = (uint32_t)(id + 1);
    }
    PyMem_Free(a->table);
    a->table = table;
    a->mask = mask;
    return 0;
}

static int grow_states(Arena *a) {
    size_t cap = a->cap ? a->cap + a->cap / 2 : 1024;
    uint64_t *offsets = PyMem_Realloc(a->offsets, (cap + 1) * sizeof(uint64_t));
    if (!offsets) {
        PyErr_NoMemory();
        return -1;
    }
    a->offsets = offsets;
    uint32_t *hashes = PyMem_Realloc(a->hashes, cap * sizeof(uint32_t));
    if (!hashes) {
        PyErr_NoMemory();
        return -1;
    }
    a->hashes = hashes;
    a->cap = cap;
    return 0;
}

/* Where a key is in the table: its slot, and its id (or -1 when the slot is empty). */
static Py_ssize_t lookup(Arena *a, const unsigned char *key, size_t len, uint64_t h, size_t *slot) {
    uint32_t h32 = (uint32_t)h;
    size_t i = h32 & a->mask;   /* the kept 32 bits, as grow_table places them */
    for (;;) {
        uint32_t entry = a->table[i];
        if (!entry) {
            *slot = i;
            return -1;
        }
        size_t id = entry - 1;
        if (a->hashes[id] == h32 && a->offsets[id + 1] - a->offsets[id] == len &&
            memcmp(a->arena.data + a->offsets[id], key, len) == 0) {
            *slot = i;
            return (Py_ssize_t)id;
        }
        i = (i + 1) & a->mask;
    }
}

static int encode_state(Arena *a, PyObject *state) {
    a->scratch.len = 0;
    return encode(&a->scratch, state, 0);
}

/* The key a state (or, in a raw arena, a bytes object) is stored under. */
static int key_of(Arena *a, PyObject *arg, const unsigned char **key, size_t *len) {
    if (!a->table) {
        PyErr_SetString(PyExc_RuntimeError, "the Arena was not initialised");
        return -1;
    }
    if (a->raw) {
        if (!PyBytes_CheckExact(arg)) {
            PyErr_Format(PyExc_TypeError, "a raw Arena stores bytes, not %.100s", Py_TYPE(arg)->tp_name);
            return -1;
        }
        *key = (const unsigned char *)PyBytes_AS_STRING(arg);
        *len = (size_t)PyBytes_GET_SIZE(arg);
        return 0;
    }
    if (encode_state(a, arg) < 0)
        return -1;
    *key = a->scratch.data;
    *len = a->scratch.len;
    return 0;
}

static PyObject *Arena_intern(Arena *a, PyObject *arg) {
    const unsigned char *key;
    size_t len;
    if (key_of(a, arg, &key, &len) < 0)
        return NULL;
    uint64_t h = hash_bytes(key, len);
    size_t slot;
    Py_ssize_t id = lookup(a, key, len, h, &slot);
    if (id >= 0)
        return PyLong_FromSsize_t(id);
    if (a->count >= MAX_IDS) {
        PyErr_SetString(PyExc_OverflowError, "more than 2^32 - 2 states: beyond what the store can number");
        return NULL;
    }
    if ((a->count + 1 > a->cap && grow_states(a) < 0) || buffer_reserve(&a->arena, len) < 0)
        return NULL;
    size_t new_id = a->count;
    memcpy(a->arena.data + a->arena.len, key, len);
    a->offsets[new_id] = a->arena.len;
    a->arena.len += len;
    a->offsets[new_id + 1] = a->arena.len;
    a->hashes[new_id] = (uint32_t)h;
    a->table[slot] = (uint32_t)(new_id + 1);
    a->count++;
    if (4 * a->count > 3 * (a->mask + 1) && grow_table(a) < 0) {
        /* the state is stored but the table could not grow: undo, so the store stays consistent */
        a->count--;
        a->arena.len = a->offsets[new_id];
        a->table[slot] = 0;
        return NULL;
    }
    return PyLong_FromSize_t(new_id);
}

static PyObject *Arena_find(Arena *a, PyObject *arg) {
    const unsigned char *key;
    size_t len, slot;
    if (key_of(a, arg, &key, &len) < 0)
        return NULL;
    return PyLong_FromSsize_t(lookup(a, key, len, hash_bytes(key, len), &slot));
}

/* The one value encoded in [p, end), with nothing left over. */
static PyObject *decode_whole(const unsigned char *p, const unsigned char *end) {
    Reader r = {p, end};
    PyObject *v = decode(&r, 0);
    if (v && r.p != r.end) {
        Py_DECREF(v);
        PyErr_SetString(PyExc_ValueError, "an encoded state is corrupt (bytes left over)");
        return NULL;
    }
    return v;
}

static int check_id(Arena *a, Py_ssize_t *i) {
    if (*i < 0)
        *i += (Py_ssize_t)a->count;
    if (*i < 0 || (size_t)*i >= a->count) {
        PyErr_SetString(PyExc_IndexError, "state id out of range");
        return -1;
    }
    return 0;
}

static PyObject *Arena_item(Arena *a, Py_ssize_t i) {
    if (check_id(a, &i) < 0)
        return NULL;
    if (a->raw)
        return PyBytes_FromStringAndSize((const char *)a->arena.data + a->offsets[i],
                                         (Py_ssize_t)(a->offsets[i + 1] - a->offsets[i]));
    return decode_whole(a->arena.data + a->offsets[i], a->arena.data + a->offsets[i + 1]);
}

static PyObject *Arena_encoded(Arena *a, PyObject *arg) {
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (check_id(a, &i) < 0)
        return NULL;
    return PyBytes_FromStringAndSize((const char *)a->arena.data + a->offsets[i],
                                     (Py_ssize_t)(a->offsets[i + 1] - a->offsets[i]));
}

static PyObject *Arena_encode(Arena *a, PyObject *state) {
    if (a->raw) {
        PyErr_SetString(PyExc_TypeError, "a raw Arena stores bytes as they are: it encodes nothing");
        return NULL;
    }
    if (encode_state(a, state) < 0)
        return NULL;
    return PyBytes_FromStringAndSize((const char *)a->scratch.data, (Py_ssize_t)a->scratch.len);
}

static PyObject *Arena_nbytes(Arena *a, void *Py_UNUSED(closure)) {
    size_t n = a->arena.cap + (a->cap + 1) * sizeof(uint64_t) + a->cap * sizeof(uint32_t) +
               (a->mask + 1) * sizeof(uint32_t) + a->scratch.cap;
    return PyLong_FromSize_t(n);
}

static Py_ssize_t Arena_len(Arena *a) {
    return (Py_ssize_t)a->count;
}

static int Arena_init(Arena *a, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"raw", NULL};
    int raw = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$p:Arena", kwlist, &raw))
        return -1;
    if (a->table)
        return 0;
    a->raw = raw;
    a->mask = (1 << 12) - 1;
    a->table = PyMem_Calloc(a->mask + 1, sizeof(uint32_t));
    if (!a->table || grow_states(a) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    a->offsets[0] = 0;
    return 0;
}

static void Arena_dealloc(Arena *a) {
    PyMem_Free(a->arena.data);
    PyMem_Free(a->offsets);
    PyMem_Free(a->hashes);
    PyMem_Free(a->table);
    PyMem_Free(a->scratch.data);
    Py_TYPE(a)->tp_free((PyObject *)a);
}

static PyMethodDef Arena_methods[] = {
    {"intern", (PyCFunction)Arena_intern, METH_O,
     "intern(state) -> id: the id of an equal stored state, or the next id after storing it (== len before); "
     "a raw Arena takes bytes."},
    {"find", (PyCFunction)Arena_find, METH_O, "find(state) -> id of an equal stored state (raw: bytes), or -1."},
    {"encoded", (PyCFunction)Arena_encoded, METH_O, "encoded(id) -> the stored encoding of state id, as bytes."},
    {"encode", (PyCFunction)Arena_encode, METH_O, "encode(state) -> its encoding, as bytes (nothing stored)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Arena_getset[] = {
    {"nbytes", (getter)Arena_nbytes, NULL, "bytes the store has allocated", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods Arena_as_sequence = {
    .sq_length = (lenfunc)Arena_len,
    .sq_item = (ssizeargfunc)Arena_item,
};

static PyTypeObject ArenaType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "netcheck.checker.engine._arena.Arena",
    .tp_basicsize = sizeof(Arena),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Arena(*, raw=False): states (raw: bytes) interned into one byte arena: intern, find, len, [id].",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Arena_init,
    .tp_dealloc = (destructor)Arena_dealloc,
    .tp_methods = Arena_methods,
    .tp_getset = Arena_getset,
    .tp_as_sequence = &Arena_as_sequence,
};

/* ---- symmetry: which images of a state are least by the slots they read (engine/store.py, `Canonical`) */

typedef struct {
    PyObject_HEAD
    Py_ssize_t perms, width;  /* permutations (rows), slots per row */
    Py_ssize_t need;          /* the shortest state the rows can read: the largest slot + 1 */
    Py_ssize_t *slots;        /* perms x width: row k lists the state slots image k's ordering key reads */
} ImageOrder;

/* -1, 0 or 1 as a is less than, equal to or greater than b by Python's own comparison (as tuples compare
 * their items: equality first, then <); -2 with an exception set. */
static int compare_items(PyObject *a, PyObject *b) {
    if (a == b)
        return 0;
    if (PyLong_CheckExact(a) && PyLong_CheckExact(b)) {
        int oa = 0, ob = 0;
        long long x = PyLong_AsLongLongAndOverflow(a, &oa), y = PyLong_AsLongLongAndOverflow(b, &ob);
        if (!oa && !ob && !PyErr_Occurred())
            return x < y ? -1 : x > y;
        PyErr_Clear();
    }
    int eq = PyObject_RichCompareBool(a, b, Py_EQ);
    if (eq < 0)
        return -2;
    if (eq)
        return 0;
    int lt = PyObject_RichCompareBool(a, b, Py_LT);
    return lt < 0 ? -2 : lt ? -1 : 1;
}

/* A slot number read from a Python int into *slot, raising `*need` to cover it; -1 with an exception set. */
static int read_slot(PyObject *item, Py_ssize_t *slot, Py_ssize_t *need) {
    *slot = PyLong_AsSsize_t(item);
    if (*slot < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "a slot number is never negative");
        return -1;
    }
    if (*slot + 1 > *need)
        *need = *slot + 1;
    return 0;
}

static PyObject *ImageOrder_least(ImageOrder *o, PyObject *state) {
    if (!o->slots) {
        PyErr_SetString(PyExc_RuntimeError, "the ImageOrder was not initialised");
        return NULL;
    }
    if (!PyTuple_Check(state) || PyTuple_GET_SIZE(state) < o->need) {
        PyErr_SetString(PyExc_TypeError, "least() takes a state tuple with every slot the order reads");
        return NULL;
    }
    PyObject **items = ((PyTupleObject *)state)->ob_item;
    Py_ssize_t best = 0, ties = 1, w = o->width;
    Py_ssize_t few[64];
    Py_ssize_t *tied = o->perms <= 64 ? few : PyMem_Malloc((size_t)o->perms * sizeof(Py_ssize_t));
    if (!tied)
        return PyErr_NoMemory();
    tied[0] = 0;
    for (Py_ssize_t k = 1; k < o->perms; k++) {
        const Py_ssize_t *row = o->slots + k * w, *least = o->slots + best * w;
        int c = 0;
        for (Py_ssize_t i = 0; i < w && c == 0; i++)
            c = compare_items(items[row[i]], items[least[i]]);
        if (c == -2) {
            if (tied != few)
                PyMem_Free(tied);
            return NULL;
        }
        if (c < 0) {
            best = k;
            ties = 0;
        }
        if (c <= 0)
            tied[ties++] = k;
    }
    PyObject *out = PyList_New(ties);
    for (Py_ssize_t t = 0; out && t < ties; t++) {
        PyObject *k = PyLong_FromSsize_t(tied[t]);
        if (!k) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, t, k);
    }
    if (tied != few)
        PyMem_Free(tied);
    return out;
}

static int ImageOrder_init(ImageOrder *o, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"rows", NULL};
    PyObject *rows;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:ImageOrder", kwlist, &rows))
        return -1;
    PyObject *seq = PySequence_Fast(rows, "ImageOrder takes a sequence of rows of slot numbers");
    if (!seq)
        return -1;
    Py_ssize_t perms = PySequence_Fast_GET_SIZE(seq), width = -1, need = 0;
    Py_ssize_t *slots = NULL;
    for (Py_ssize_t k = 0; k < perms; k++) {
        PyObject *row = PySequence_Fast(PySequence_Fast_GET_ITEM(seq, k), "each row is a sequence of slot numbers");
        if (!row)
            goto fail;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(row);
        if (width < 0) {
            width = n;
            slots = PyMem_Malloc((size_t)(perms * width + 1) * sizeof(Py_ssize_t));
            if (!slots) {
                Py_DECREF(row);
                PyErr_NoMemory();
                goto fail;
            }
        } else if (n != width) {
            Py_DECREF(row);
            PyErr_SetString(PyExc_ValueError, "every row of an ImageOrder has the same length");
            goto fail;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            if (read_slot(PySequence_Fast_GET_ITEM(row, i), &slots[k * width + i], &need) < 0) {
                Py_DECREF(row);
                goto fail;
            }
        }
        Py_DECREF(row);
    }
    if (perms == 0) {
        PyErr_SetString(PyExc_ValueError, "an ImageOrder has at least one row (the identity's)");
        goto fail;
    }
    Py_DECREF(seq);
    PyMem_Free(o->slots);
    o->slots = slots;
    o->perms = perms;
    o->width = width;
    o->need = need;
    return 0;
fail:
    PyMem_Free(slots);
    Py_DECREF(seq);
    return -1;
}

static void ImageOrder_dealloc(ImageOrder *o) {
    PyMem_Free(o->slots);
    Py_TYPE(o)->tp_free((PyObject *)o);
}

static PyMethodDef ImageOrder_methods[] = {
    {"least", (PyCFunction)ImageOrder_least, METH_O,
     "least(state) -> the rows (ascending) whose slots, read from state, make the least key."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ImageOrderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "netcheck.checker.engine._arena.ImageOrder",
    .tp_basicsize = sizeof(ImageOrder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "ImageOrder(rows): per image of a state, the slots its ordering key reads; least(state).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)ImageOrder_init,
    .tp_dealloc = (destructor)ImageOrder_dealloc,
    .tp_methods = ImageOrder_methods,
};

/* ---- symmetry: a state's image under one permutation, and a total order on states to break ties */

typedef struct {
    PyObject_HEAD
    Py_ssize_t n, need;       /* image slots; the shortest state the image reads */
    Py_ssize_t *source;       /* image slot j reads state slot source[j] */
    PyObject **maps;          /* and goes through maps[j] (a callable), or NULL: the value as it is */
} Image;

static PyObject *Image_call(Image *im, PyObject *args, PyObject *kwargs) {
    PyObject *state;
    if (kwargs && PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "an Image takes one state");
        return NULL;
    }
    if (!PyArg_UnpackTuple(args, "Image", 1, 1, &state))
        return NULL;
    if (!im->source) {
        PyErr_SetString(PyExc_RuntimeError, "the Image was not initialised");
        return NULL;
    }
    if (!PyTuple_Check(state) || PyTuple_GET_SIZE(state) < im->need) {
        PyErr_SetString(PyExc_TypeError, "an Image takes a state tuple with every slot it reads");
        return NULL;
    }
    PyObject **items = ((PyTupleObject *)state)->ob_item;
    PyObject *out = PyTuple_New(im->n);
    if (!out)
        return NULL;
    for (Py_ssize_t j = 0; j < im->n; j++) {
        PyObject *v = items[im->source[j]];
        if (im->maps[j]) {
            v = PyObject_CallOneArg(im->maps[j], v);
            if (!v) {
                Py_DECREF(out);
                return NULL;
            }
        } else {
            Py_INCREF(v);
        }
        PyTuple_SET_ITEM(out, j, v);
    }
    return out;
}

static void Image_clear(Image *im) {
    if (im->maps)
        for (Py_ssize_t j = 0; j < im->n; j++)
            Py_XDECREF(im->maps[j]);
    PyMem_Free(im->maps);
    PyMem_Free(im->source);
    im->maps = NULL;
    im->source = NULL;
    im->n = im->need = 0;
}

static int Image_init(Image *im, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"source", "maps", NULL};
    PyObject *source_arg, *maps_arg;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO:Image", kwlist, &source_arg, &maps_arg))
        return -1;
    PyObject *source = PySequence_Fast(source_arg, "an Image's source is a sequence of slot numbers");
    if (!source)
        return -1;
    PyObject *maps = PySequence_Fast(maps_arg, "an Image's maps are a sequence of callables or None");
    if (!maps) {
        Py_DECREF(source);
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(source);
    if (PySequence_Fast_GET_SIZE(maps) != n) {
        PyErr_SetString(PyExc_ValueError, "an Image has one map (or None) per slot");
        goto fail;
    }
    Image_clear(im);
    im->source = PyMem_Malloc((size_t)(n + 1) * sizeof(Py_ssize_t));
    im->maps = PyMem_Calloc((size_t)(n + 1), sizeof(PyObject *));
    if (!im->source || !im->maps) {
        PyErr_NoMemory();
        goto fail_clear;
    }
    im->n = n;
    for (Py_ssize_t j = 0; j < n; j++) {
        if (read_slot(PySequence_Fast_GET_ITEM(source, j), &im->source[j], &im->need) < 0)
            goto fail_clear;
        PyObject *fn = PySequence_Fast_GET_ITEM(maps, j);
        if (fn != Py_None) {
            if (!PyCallable_Check(fn)) {
                PyErr_SetString(PyExc_TypeError, "an Image's map is a callable or None");
                goto fail_clear;
            }
            im->maps[j] = Py_NewRef(fn);
        }
    }
    Py_DECREF(source);
    Py_DECREF(maps);
    return 0;
fail_clear:
    Image_clear(im);
fail:
    Py_DECREF(source);
    Py_DECREF(maps);
    return -1;
}

static void Image_dealloc(Image *im) {
    Image_clear(im);
    Py_TYPE(im)->tp_free((PyObject *)im);
}

static PyTypeObject ImageType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "netcheck.checker.engine._arena.Image",
    .tp_basicsize = sizeof(Image),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Image(source, maps): state -> the tuple whose slot j is maps[j](state[source[j]]) (None: as it is).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Image_init,
    .tp_dealloc = (destructor)Image_dealloc,
    .tp_call = (ternaryfunc)Image_call,
};

/* The kinds of value a state holds, in the total order's sequence. */
static int value_rank(PyObject *v) {
    if (v == Py_None)
        return 0;
    if (PyBool_Check(v))
        return 1;
    if (PyLong_Check(v))
        return 2;
    if (PyUnicode_Check(v))
        return 3;
    if (PyBytes_Check(v))
        return 4;
    if (PyTuple_Check(v))
        return 5;
    PyErr_Format(PyExc_TypeError, "a state holds a %.100s, which has no place in the order of states",
                 Py_TYPE(v)->tp_name);
    return -1;
}

/* A total order on what states hold: None, then booleans, ints, strings, bytes, tuples; within a kind
 * by value, tuples item by item and then by length. -1, 0, 1; -2 with an exception set. */
static int order_cmp(PyObject *a, PyObject *b, int depth) {
    if (a == b)
        return 0;
    int ra = value_rank(a), rb = value_rank(b);
    if (ra < 0 || rb < 0)
        return -2;
    if (ra != rb)
        return ra < rb ? -1 : 1;
    switch (ra) {
    case 0:
        return 0;
    case 1:
        return (a == Py_True) - (b == Py_True);
    case 5: {
        if (depth > MAX_DEPTH) {
            PyErr_SetString(PyExc_ValueError, "a state nested too deeply to order");
            return -2;
        }
        Py_ssize_t na = PyTuple_GET_SIZE(a), nb = PyTuple_GET_SIZE(b);
        for (Py_ssize_t i = 0; i < na && i < nb; i++) {
            int c = order_cmp(PyTuple_GET_ITEM(a, i), PyTuple_GET_ITEM(b, i), depth + 1);
            if (c)
                return c;
        }
        return na < nb ? -1 : na > nb;
    }
    default: /* ints, strings, bytes: Python's own order */
        return compare_items(a, b);
    }
}

/* least_state(states): the index of the first of the least states by the total order. */
static PyObject *module_least_state(PyObject *Py_UNUSED(module), PyObject *arg) {
    PyObject *seq = PySequence_Fast(arg, "least_state takes a sequence of states");
    if (!seq)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq), best = 0;
    if (n == 0) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "least_state of no states");
        return NULL;
    }
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 1; i < n; i++) {
        int c = order_cmp(items[i], items[best], 0);
        if (c == -2) {
            Py_DECREF(seq);
            return NULL;
        }
        if (c < 0)
            best = i;
    }
    Py_DECREF(seq);
    return PyLong_FromSsize_t(best);
}

/* ---- Fingerprints: 64-bit fingerprint -> state id (`verify --store hash`), store.py's FingerprintTable in
 * native code: open addressing with linear probing on the fingerprint's low bits, 0 marking an empty slot,
 * the capacity doubled at three quarters full; 12 bytes a slot. */

typedef struct {
    PyObject_HEAD
    uint64_t *keys;
    uint32_t *ids;
    size_t mask, size;
} Fingerprints;

static size_t fp_slot(const uint64_t *keys, size_t mask, uint64_t key) {
    size_t i = (size_t)(key & mask);
    while (keys[i] && keys[i] != key)
        i = (i + 1) & mask;
    return i;
}

static int fp_alloc(Fingerprints *t, size_t capacity) {
    uint64_t *keys = PyMem_Calloc(capacity, sizeof(uint64_t));
    uint32_t *ids = PyMem_Calloc(capacity, sizeof(uint32_t));
    if (!keys || !ids) {
        PyMem_Free(keys);
        PyMem_Free(ids);
        PyErr_NoMemory();
        return -1;
    }
    uint64_t *old_keys = t->keys;
    uint32_t *old_ids = t->ids;
    size_t old_capacity = old_keys ? t->mask + 1 : 0;
    for (size_t j = 0; j < old_capacity; j++) {
        if (!old_keys[j])
            continue;
        size_t i = fp_slot(keys, capacity - 1, old_keys[j]);
        keys[i] = old_keys[j];
        ids[i] = old_ids[j];
    }
    PyMem_Free(old_keys);
    PyMem_Free(old_ids);
    t->keys = keys;
    t->ids = ids;
    t->mask = capacity - 1;
    return 0;
}

static int fp_key(PyObject *arg, uint64_t *key) {
    *key = PyLong_AsUnsignedLongLong(arg);
    if (*key == (uint64_t)-1 && PyErr_Occurred())
        return -1;
    if (!*key) {
        PyErr_SetString(PyExc_ValueError, "a fingerprint is never 0 (the table's empty mark)");
        return -1;
    }
    return 0;
}

static PyObject *Fingerprints_setdefault(Fingerprints *t, PyObject *const *args, Py_ssize_t nargs) {
    uint64_t key;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "setdefault(key, sid) takes two arguments");
        return NULL;
    }
    if (fp_key(args[0], &key) < 0)
        return NULL;
    size_t i = fp_slot(t->keys, t->mask, key);
    if (t->keys[i])
        return PyLong_FromUnsignedLong(t->ids[i]);
    unsigned long sid = PyLong_AsUnsignedLong(args[1]);
    if (sid == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    if (sid > MAX_IDS) {
        PyErr_SetString(PyExc_OverflowError, "a state id beyond what the table can number");
        return NULL;
    }
    t->keys[i] = key;
    t->ids[i] = (uint32_t)sid;
    t->size++;
    if (4 * t->size > 3 * t->mask && fp_alloc(t, 2 * (t->mask + 1)) < 0)
        return NULL;
    return Py_NewRef(args[1]);
}

static PyObject *Fingerprints_get(Fingerprints *t, PyObject *const *args, Py_ssize_t nargs) {
    uint64_t key;
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "get(key, default=None) takes one or two arguments");
        return NULL;
    }
    if (fp_key(args[0], &key) < 0)
        return NULL;
    size_t i = fp_slot(t->keys, t->mask, key);
    if (t->keys[i])
        return PyLong_FromUnsignedLong(t->ids[i]);
    return Py_NewRef(nargs == 2 ? args[1] : Py_None);
}

static Py_ssize_t Fingerprints_len(Fingerprints *t) {
    return (Py_ssize_t)t->size;
}

static PyObject *Fingerprints_get_mask(Fingerprints *t, void *Py_UNUSED(closure)) {
    return PyLong_FromSize_t(t->mask);
}

static PyObject *Fingerprints_nbytes(Fingerprints *t, void *Py_UNUSED(closure)) {
    return PyLong_FromSize_t((t->mask + 1) * (sizeof(uint64_t) + sizeof(uint32_t)));
}

static int Fingerprints_init(Fingerprints *t, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"capacity", NULL};
    Py_ssize_t capacity = 1 << 12;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|n:Fingerprints", kwlist, &capacity))
        return -1;
    if (capacity < 2 || (capacity & (capacity - 1))) {
        PyErr_SetString(PyExc_ValueError, "the capacity is a power of two, at least 2");
        return -1;
    }
    if (t->keys)
        return 0;
    t->size = 0;
    return fp_alloc(t, (size_t)capacity);
}

static void Fingerprints_dealloc(Fingerprints *t) {
    PyMem_Free(t->keys);
    PyMem_Free(t->ids);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static PyMethodDef Fingerprints_methods[] = {
    {"setdefault", (PyCFunction)(void (*)(void))Fingerprints_setdefault, METH_FASTCALL,
     "setdefault(key, sid) -> the id stored under key, or sid after storing it there."},
    {"get", (PyCFunction)(void (*)(void))Fingerprints_get, METH_FASTCALL,
     "get(key, default=None) -> the id stored under key, or default."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Fingerprints_getset[] = {
    {"mask", (getter)Fingerprints_get_mask, NULL, "the capacity minus one", NULL},
    {"nbytes", (getter)Fingerprints_nbytes, NULL, "bytes the table has allocated", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods Fingerprints_as_sequence = {
    .sq_length = (lenfunc)Fingerprints_len,
};

static PyTypeObject FingerprintsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "netcheck.checker.engine._arena.Fingerprints",
    .tp_basicsize = sizeof(Fingerprints),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Fingerprints(capacity=4096): 64-bit fingerprint -> state id, as a dict's setdefault and get.",
    .tp_methods = Fingerprints_methods,
    .tp_getset = Fingerprints_getset,
    .tp_as_sequence = &Fingerprints_as_sequence,
    .tp_init = (initproc)Fingerprints_init,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)Fingerprints_dealloc,
};

/* decode(data): a state from its encoding (`Arena.encode`'s bytes, or a raw arena's entry holding one). */
static PyObject *module_decode(PyObject *Py_UNUSED(module), PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const unsigned char *p = view.buf;
    PyObject *v = decode_whole(p, p + view.len);
    PyBuffer_Release(&view);
    return v;
}

static PyMethodDef module_methods[] = {
    {"decode", module_decode, METH_O, "decode(data) -> the state that `Arena.encode` encoded to data."},
    {"least_state", module_least_state, METH_O,
     "least_state(states) -> the index of the first least state by a total order on what states hold."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef arena_module = {
    PyModuleDef_HEAD_INIT, "_arena", "The explicit search's state store in native code (engine/store.py).", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__arena(void) {
    if (PyType_Ready(&ArenaType) < 0 || PyType_Ready(&ImageOrderType) < 0 || PyType_Ready(&ImageType) < 0 ||
        PyType_Ready(&FingerprintsType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&arena_module);
    if (!m)
        return NULL;
    if (PyModule_AddObjectRef(m, "Arena", (PyObject *)&ArenaType) < 0 ||
        PyModule_AddObjectRef(m, "ImageOrder", (PyObject *)&ImageOrderType) < 0 ||
        PyModule_AddObjectRef(m, "Image", (PyObject *)&ImageType) < 0 ||
        PyModule_AddObjectRef(m, "Fingerprints", (PyObject *)&FingerprintsType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
