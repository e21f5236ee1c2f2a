/* The explicit search's exact state store in native code: every state encoded once into one growing
 * byte arena, interned through an open-addressing table of 32-bit ids. No Python object per stored state:
 * a state costs its encoding (about half a byte to a byte per slot), an 8-byte offset, a 4-byte hash and
 * its share of the table (engine/store.py, `ArenaStates`). The encoding and the table are
 * model/semantics/_codec.h's, which the step memo shares.
 *
 * Also here, for the search under symmetry (store.py's `Canonical`): `ImageOrder`, which of a state's
 * images are least by the slots their ordering keys read; `Image`, a state's image under one permutation;
 * `least_state`, a total order on states that breaks the remaining ties.
 */
#include "_codec.h"

/* ---- the store */

typedef struct {
    PyObject_HEAD
    Strings states;           /* every state's encoding, numbered in order */
    Buffer scratch;
    int raw;                  /* keys are bytes objects stored as they are, not states to encode */
    int ready;
} Arena;

/* The key a state (or, in a raw arena, a bytes object) is stored under. */
static int key_of(Arena *a, PyObject *arg, const unsigned char **key, size_t *len) {
    if (!a->ready) {
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
    a->scratch.len = 0;
    if (encode(&a->scratch, arg, 0) < 0)
        return -1;
    *key = a->scratch.data;
    *len = a->scratch.len;
    return 0;
}

static PyObject *Arena_intern(Arena *a, PyObject *arg) {
    const unsigned char *key;
    size_t len;
    int added;
    if (key_of(a, arg, &key, &len) < 0)
        return NULL;
    Py_ssize_t id = strings_intern(&a->states, key, len, &added);
    return id < 0 ? NULL : PyLong_FromSsize_t(id);
}

static PyTypeObject ArenaType;

/* The store's side of _codec.h's InternEncoded, for expansions that encode their successors themselves. */
static Py_ssize_t intern_encoded(PyObject *store, const unsigned char *key, size_t len, int *added) {
    if (!PyObject_TypeCheck(store, &ArenaType) || ((Arena *)store)->raw || !((Arena *)store)->ready) {
        PyErr_SetString(PyExc_TypeError, "successors are interned into an initialised Arena of states");
        return -1;
    }
    return strings_intern(&((Arena *)store)->states, key, len, added);
}

static PyObject *Arena_find(Arena *a, PyObject *arg) {
    const unsigned char *key;
    size_t len, slot;
    if (key_of(a, arg, &key, &len) < 0)
        return NULL;
    return PyLong_FromSsize_t(strings_lookup(&a->states, key, len, hash_bytes(key, len), &slot));
}

static int check_id(Arena *a, Py_ssize_t *i) {
    if (*i < 0)
        *i += (Py_ssize_t)a->states.count;
    if (*i < 0 || (size_t)*i >= a->states.count) {
        PyErr_SetString(PyExc_IndexError, "state id out of range");
        return -1;
    }
    return 0;
}

static PyObject *stored_bytes(Arena *a, Py_ssize_t i) {
    size_t len;
    const unsigned char *p = strings_at(&a->states, (size_t)i, &len);
    return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)len);
}

static PyObject *Arena_item(Arena *a, Py_ssize_t i) {
    if (check_id(a, &i) < 0)
        return NULL;
    if (a->raw)
        return stored_bytes(a, i);
    size_t len;
    const unsigned char *p = strings_at(&a->states, (size_t)i, &len);
    return decode_whole(p, p + len);
}

static PyObject *Arena_encoded(Arena *a, PyObject *arg) {
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (check_id(a, &i) < 0)
        return NULL;
    return stored_bytes(a, i);
}

static PyObject *Arena_encode(Arena *a, PyObject *state) {
    if (a->raw) {
        PyErr_SetString(PyExc_TypeError, "a raw Arena stores bytes as they are: it encodes nothing");
        return NULL;
    }
    a->scratch.len = 0;
    if (encode(&a->scratch, state, 0) < 0)
        return NULL;
    return PyBytes_FromStringAndSize((const char *)a->scratch.data, (Py_ssize_t)a->scratch.len);
}

static PyObject *Arena_nbytes(Arena *a, void *Py_UNUSED(closure)) {
    return PyLong_FromSize_t(strings_nbytes(&a->states) + a->scratch.cap);
}

static Py_ssize_t Arena_len(Arena *a) {
    return (Py_ssize_t)a->states.count;
}

static int Arena_init(Arena *a, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"raw", NULL};
    int raw = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$p:Arena", kwlist, &raw))
        return -1;
    if (a->ready)
        return 0;
    a->raw = raw;
    if (strings_init(&a->states) < 0)
        return -1;
    a->ready = 1;
    return 0;
}

static void Arena_dealloc(Arena *a) {
    strings_free(&a->states);
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
    /* INTERN: how an expansion that encodes its successors itself stores them here (_codec.h) */
    PyObject *intern = PyCapsule_New((void *)intern_encoded, INTERN_CAPSULE, NULL);
    if (!intern || PyModule_AddObjectRef(m, "INTERN", intern) < 0) {
        Py_XDECREF(intern);
        Py_DECREF(m);
        return NULL;
    }
    Py_DECREF(intern);
    return m;
}
