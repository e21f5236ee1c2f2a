/* The step memo's expander (model/semantics/memo.py) in C: `StepMemo._expand` without the interpreter.

   Per thread and program point it holds the step's footprint (the slots it reads and writes). The memo
   maps a step and its footprint's valuation, encoded as a compact byte string (_codec.h: the step's
   number, then the valuation as an encoded tuple), to an entry: the step's outcomes and its fatal
   signal's, each a patch (slot, value, slot, value, ...) or the violation it is. `expand(state, counting)`
   looks each thread's step up by the footprint's valuation in `state` and patches `state` into the
   successors; what the memo does not know yet it asks `miss` (Python), and a step with no footprint it
   asks `plain` to fire. Answers from the memo are counted per entry (runs not added to the coverage
   counts yet, `pending()`), and every `check_every`-th is handed to `check`, which fires the step again.

   Also here: `Valuation`, a state's values at some slots as one compact key (the property checks'). */

#include "_codec.h"

typedef struct {
    int present;            /* a step stands at this program point */
    int blocks;             /* no outcome blocks the thread (not a daemon's idle step) */
    int memo;               /* the step has a footprint: it is remembered (else fired on every state) */
    uint32_t number;        /* the step's number among all (thread, program point)s: its keys' prefix */
    PyObject *action;       /* the step's action id, and its fatal signal's */
    PyObject *sig_action;
    Py_ssize_t *slots;      /* the footprint */
    Py_ssize_t nslots;
} Point;

typedef struct {
    PyObject *tid;
    int tid_c;
    Py_ssize_t pcslot;
    Py_ssize_t npoints;
    Point *points;
} Table;

typedef struct {
    PyObject_HEAD
    Table *tables;
    Py_ssize_t nthreads;
    PyObject *miss, *check, *plain;
    Strings keys;            /* per entry: the step's number and its footprint's valuation, encoded */
    Buffer scratch;          /* a key, or a successor's encoding */
    PyObject **items;        /* borrowed: a footprint's values, or a successor's slots */
    Py_ssize_t items_cap;
    PyObject **outcomes;     /* per entry: (outcomes, signal outcomes), patches */
    uint64_t *hits;          /* per entry: answers not counted yet */
    size_t entries_cap;
    uint32_t *dirty;         /* the entries with answers not counted yet */
    size_t ndirty, dirty_cap;
    int *numbered_tid;       /* step number -> its thread */
    Py_ssize_t *numbered_pc; /* and program point */
    size_t nnumbered;
    unsigned long long answers, check_every;
    int ready;
} Expander;

static int grow_entries(Expander *e) {
    size_t cap = e->entries_cap ? 2 * e->entries_cap : 1024;
    PyObject **outcomes = PyMem_Realloc(e->outcomes, cap * sizeof(PyObject *));
    if (outcomes == NULL)
        goto fail;
    e->outcomes = outcomes;
    uint64_t *hits = PyMem_Realloc(e->hits, cap * sizeof(uint64_t));
    if (hits == NULL)
        goto fail;
    e->hits = hits;
    e->entries_cap = cap;
    return 0;
fail:
    PyErr_NoMemory();
    return -1;
}

static int count_answer(Expander *e, size_t id) {
    if (e->hits[id] == 0) {
        if (e->ndirty == e->dirty_cap) {
            size_t cap = e->dirty_cap ? 2 * e->dirty_cap : 1024;
            uint32_t *grown = PyMem_Realloc(e->dirty, cap * sizeof(uint32_t));
            if (grown == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            e->dirty = grown;
            e->dirty_cap = cap;
        }
        e->dirty[e->ndirty++] = (uint32_t)id;
    }
    e->hits[id]++;
    return 0;
}

/* The outcome `patch` gives from state `s` (a new reference): `s` with the patch's slots replaced, or
   the patch itself where it is a violation. */
static PyObject *patched(PyObject *s, PyObject *patch) {
    if (!PyTuple_CheckExact(patch)) {
        Py_INCREF(patch);
        return patch;
    }
    Py_ssize_t m = PyTuple_GET_SIZE(patch);
    if (m == 0) {
        Py_INCREF(s);
        return s;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(s);
    PyObject *out = PyTuple_New(n);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyTuple_GET_ITEM(s, i);
        Py_INCREF(v);
        PyTuple_SET_ITEM(out, i, v);
    }
    for (Py_ssize_t k = 0; k + 1 < m; k += 2) {
        Py_ssize_t slot = PyLong_AsSsize_t(PyTuple_GET_ITEM(patch, k));
        if (slot == -1 && PyErr_Occurred()) {
            Py_DECREF(out);
            return NULL;
        }
        if (slot < 0 || slot >= n) {
            Py_DECREF(out);
            PyErr_SetString(PyExc_IndexError, "a memo patch names a slot outside the state");
            return NULL;
        }
        PyObject *v = PyTuple_GET_ITEM(patch, k + 1);
        Py_INCREF(v);
        Py_DECREF(PyTuple_GET_ITEM(out, slot));
        PyTuple_SET_ITEM(out, slot, v);
    }
    return out;
}

/* Append (tid, action, choice, signal, outcome) for each outcome; `patches`: the outcomes are patches of `s`. */
static Py_ssize_t add_edges(PyObject *out, Table *t, PyObject *action, PyObject *signal, PyObject *s,
                            PyObject *outcomes, int patches) {
    PyObject *seq = PySequence_Fast(outcomes, "the outcomes of a step must be a sequence");
    if (seq == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t choice = 0; choice < n; choice++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, choice);
        PyObject *target = patches ? patched(s, item) : (Py_INCREF(item), item);
        if (target == NULL)
            goto fail;
        PyObject *c = PyLong_FromSsize_t(choice);
        if (c == NULL) {
            Py_DECREF(target);
            goto fail;
        }
        PyObject *edge = PyTuple_New(5);
        if (edge == NULL) {
            Py_DECREF(target);
            Py_DECREF(c);
            goto fail;
        }
        Py_INCREF(t->tid);
        Py_INCREF(action);
        Py_INCREF(signal);
        PyTuple_SET_ITEM(edge, 0, t->tid);
        PyTuple_SET_ITEM(edge, 1, action);
        PyTuple_SET_ITEM(edge, 2, c);
        PyTuple_SET_ITEM(edge, 3, signal);
        PyTuple_SET_ITEM(edge, 4, target);
        int failed = PyList_Append(out, edge);
        Py_DECREF(edge);
        if (failed < 0)
            goto fail;
    }
    Py_DECREF(seq);
    return n;
fail:
    Py_DECREF(seq);
    return -1;
}

static int reserve_items(Expander *e, Py_ssize_t n) {
    if (n <= e->items_cap)
        return 0;
    PyObject **items = PyMem_Realloc(e->items, (size_t)n * sizeof(PyObject *));
    if (items == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    e->items = items;
    e->items_cap = n;
    return 0;
}

/* The scratch buffer := a step's key: its number, then its footprint's values in `s`, as an encoded tuple. */
static int encode_key(Expander *e, Point *p, PyObject *s) {
    Py_ssize_t n = PyTuple_GET_SIZE(s);
    if (reserve_items(e, p->nslots) < 0)
        return -1;
    for (Py_ssize_t i = 0; i < p->nslots; i++) {
        if (p->slots[i] >= n) {
            PyErr_SetString(PyExc_IndexError, "a footprint slot outside the state");
            return -1;
        }
        e->items[i] = PyTuple_GET_ITEM(s, p->slots[i]);
    }
    e->scratch.len = 0;
    return put_varint(&e->scratch, p->number) < 0 || encode_items(&e->scratch, e->items, p->nslots, 0) < 0 ? -1 : 0;
}

/* The outcomes a remembered step has in state `s` (a borrowed reference): looked up, or made by `miss`. */
static PyObject *outcomes_of(Expander *e, Table *t, Point *p, Py_ssize_t pc, PyObject *s, int counting) {
    Buffer *b = &e->scratch;
    if (encode_key(e, p, s) < 0)
        return NULL;
    uint64_t h = hash_bytes(b->data, b->len);
    size_t slot;
    Py_ssize_t id = strings_lookup(&e->keys, b->data, b->len, h, &slot);
    if (id >= 0) {
        PyObject *outcomes = e->outcomes[id];
        e->answers++;
        if (counting && count_answer(e, (size_t)id) < 0)
            return NULL;
        if (e->check_every && e->answers % e->check_every == 0) {
            PyObject *r = PyObject_CallFunction(e->check, "OnOO", t->tid, pc, s, outcomes);
            if (r == NULL)
                return NULL;
            Py_DECREF(r);
        }
        return outcomes;
    }
    PyObject *outcomes = PyObject_CallFunction(e->miss, "OnO", t->tid, pc, s);
    if (outcomes == NULL)
        return NULL;
    if (!PyTuple_CheckExact(outcomes) || PyTuple_GET_SIZE(outcomes) != 2) {
        Py_DECREF(outcomes);
        PyErr_SetString(PyExc_TypeError, "miss must return a pair (outcomes, signal outcomes)");
        return NULL;
    }
    /* the key again (`miss` ran Python, which must not have used this expander, but the table may have
       grown meanwhile if it did) */
    if (encode_key(e, p, s) < 0) {
        Py_DECREF(outcomes);
        return NULL;
    }
    h = hash_bytes(b->data, b->len);
    if (strings_lookup(&e->keys, b->data, b->len, h, &slot) >= 0) {
        Py_DECREF(outcomes);
        PyErr_SetString(PyExc_RuntimeError, "the step memo was used while it was asked for an entry");
        return NULL;
    }
    if (e->keys.count == e->entries_cap && grow_entries(e) < 0) {
        Py_DECREF(outcomes);
        return NULL;
    }
    id = strings_add(&e->keys, b->data, b->len, h, slot);
    if (id < 0) {
        Py_DECREF(outcomes);
        return NULL;
    }
    e->outcomes[id] = outcomes;   /* the entry holds the reference */
    e->hits[id] = 0;
    return outcomes;
}

/* What thread `t`'s step does in `s`: (outcomes, signal outcomes), a new reference, with the step's point
   and program point; Py_None where the thread has no step (finished), NULL with an exception set. */
static PyObject *thread_outcomes(Expander *e, Table *t, PyObject *s, int counting, Point **point, Py_ssize_t *at) {
    if (t->pcslot >= PyTuple_GET_SIZE(s)) {
        PyErr_SetString(PyExc_IndexError, "a program counter slot outside the state");
        return NULL;
    }
    Py_ssize_t pc = PyLong_AsSsize_t(PyTuple_GET_ITEM(s, t->pcslot));
    if (pc == -1 && PyErr_Occurred())
        return NULL;
    if (pc < 0 || pc >= t->npoints) {
        PyErr_SetString(PyExc_IndexError, "a program counter outside its thread's program");
        return NULL;
    }
    Point *p = *point = &t->points[pc];
    *at = pc;
    if (!p->present)
        Py_RETURN_NONE;
    if (p->memo) {
        PyObject *owner = outcomes_of(e, t, p, pc, s, counting);   /* borrowed: the entry holds it */
        Py_XINCREF(owner);
        return owner;
    }
    PyObject *owner = PyObject_CallFunction(e->plain, "OnO", t->tid, pc, s);
    if (owner != NULL && (!PyTuple_CheckExact(owner) || PyTuple_GET_SIZE(owner) != 2)) {
        Py_DECREF(owner);
        PyErr_SetString(PyExc_TypeError, "plain must return a pair (outcomes, signal outcomes)");
        return NULL;
    }
    return owner;
}

/* The state and counting flag of an expand call, checked. */
static int expand_args(Expander *e, PyObject *const *args, Py_ssize_t nargs, Py_ssize_t want, PyObject **s,
                       int *counting) {
    if (nargs != want) {
        PyErr_SetString(PyExc_TypeError, want == 2 ? "expand(state, counting)"
                                                   : "expand_into(state, counting, intern, store, action_bytes)");
        return -1;
    }
    if (!e->ready) {
        PyErr_SetString(PyExc_RuntimeError, "the Expander was not initialised");
        return -1;
    }
    *s = args[0];
    if (!PyTuple_CheckExact(*s)) {
        PyErr_SetString(PyExc_TypeError, "a state must be a tuple");
        return -1;
    }
    *counting = PyObject_IsTrue(args[1]);
    return *counting < 0 ? -1 : 0;
}

static PyObject *Expander_expand(Expander *e, PyObject *const *args, Py_ssize_t nargs) {
    PyObject *s;
    int counting;
    if (expand_args(e, args, nargs, 2, &s, &counting) < 0)
        return NULL;
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    uint64_t blocked = 0;
    for (Py_ssize_t k = 0; k < e->nthreads; k++) {
        Table *t = &e->tables[k];
        Point *p;
        Py_ssize_t pc;
        PyObject *owner = thread_outcomes(e, t, s, counting, &p, &pc);
        if (owner == NULL)
            goto fail;
        if (owner == Py_None) {
            Py_DECREF(owner);
            continue;
        }
        Py_ssize_t made = add_edges(out, t, p->action, Py_False, s, PyTuple_GET_ITEM(owner, 0), p->memo);
        if (made < 0 || add_edges(out, t, p->sig_action, Py_True, s, PyTuple_GET_ITEM(owner, 1), p->memo) < 0) {
            Py_DECREF(owner);
            goto fail;
        }
        Py_DECREF(owner);
        if (made == 0 && p->blocks)
            blocked |= (uint64_t)1 << t->tid_c;
    }
    PyObject *mask = PyLong_FromUnsignedLongLong(blocked);
    if (mask == NULL)
        goto fail;
    PyObject *result = PyTuple_Pack(2, out, mask);
    Py_DECREF(out);
    Py_DECREF(mask);
    return result;
fail:
    Py_DECREF(out);
    return NULL;
}

/* The scratch buffer := the encoding of `s` with `patch` (slot, value, ...) applied, made from their items. */
static int encode_patched(Expander *e, PyObject *s, PyObject *patch) {
    Py_ssize_t n = PyTuple_GET_SIZE(s), m = PyTuple_GET_SIZE(patch);
    if (reserve_items(e, n) < 0)
        return -1;
    memcpy(e->items, PySequence_Fast_ITEMS(s), (size_t)n * sizeof(PyObject *));
    for (Py_ssize_t k = 0; k + 1 < m; k += 2) {
        Py_ssize_t slot = PyLong_AsSsize_t(PyTuple_GET_ITEM(patch, k));
        if (slot == -1 && PyErr_Occurred())
            return -1;
        if (slot < 0 || slot >= n) {
            PyErr_SetString(PyExc_IndexError, "a memo patch names a slot outside the state");
            return -1;
        }
        e->items[slot] = PyTuple_GET_ITEM(patch, k + 1);
    }
    e->scratch.len = 0;
    return encode_items(&e->scratch, e->items, n, 0);
}

static int put_bytes(Buffer *b, const void *p, size_t n) {
    if (buffer_reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

/* The columns of the edges one expand_into stored: target id, action, choice (the store's array types). */
typedef struct {
    Buffer dst, action, choice;
} Columns;

/* One outcome of a step from `s` interned: a stored edge (columns, `signals`, and (id, action, choice, state)
   in `events` when the target is new), or (tid, action, choice, signal, violation) in `events`. */
static int intern_outcome(Expander *e, Table *t, PyObject *s, PyObject *item, int patch, PyObject *action,
                          Py_ssize_t choice, int signal, InternEncoded intern, PyObject *store, Columns *c,
                          int wide, PyObject *signals, PyObject *events) {
    if (!PyTuple_CheckExact(item)) {
        PyObject *v = Py_BuildValue("(OOnOO)", t->tid, action, choice, signal ? Py_True : Py_False, item);
        int rc = v == NULL ? -1 : PyList_Append(events, v);
        Py_XDECREF(v);
        return rc;
    }
    if (patch ? encode_patched(e, s, item) < 0 : (e->scratch.len = 0, encode(&e->scratch, item, 0) < 0))
        return -1;
    int is_new = 0;
    Py_ssize_t id = intern(store, e->scratch.data, e->scratch.len, &is_new);
    if (id < 0)
        return -1;
    long a = PyLong_AsLong(action);
    if (a == -1 && PyErr_Occurred())
        return -1;
    if (id > UINT32_MAX || a < 0 || a > (wide ? UINT32_MAX : UINT16_MAX) || choice > UINT16_MAX) {
        PyErr_SetString(PyExc_OverflowError, "an edge beyond what the store's columns hold");
        return -1;
    }
    uint32_t id32 = (uint32_t)id, a32 = (uint32_t)a;
    uint16_t a16 = (uint16_t)a, c16 = (uint16_t)choice;
    size_t edge = c->dst.len / sizeof(uint32_t);
    if (put_bytes(&c->dst, &id32, sizeof id32) < 0 ||
        (wide ? put_bytes(&c->action, &a32, sizeof a32) : put_bytes(&c->action, &a16, sizeof a16)) < 0 ||
        put_bytes(&c->choice, &c16, sizeof c16) < 0)
        return -1;
    if (signal) {
        PyObject *k = PyLong_FromSize_t(edge);
        int rc = k == NULL ? -1 : PyList_Append(signals, k);
        Py_XDECREF(k);
        if (rc < 0)
            return -1;
    }
    if (is_new) {
        PyObject *state = patch ? patched(s, item) : (Py_INCREF(item), item);
        if (state == NULL)
            return -1;
        PyObject *v = Py_BuildValue("(nOnN)", id, action, choice, state);
        int rc = v == NULL ? -1 : PyList_Append(events, v);
        Py_XDECREF(v);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* expand_into(state, counting, intern, store, action_bytes): `expand`, with each successor encoded here and
   interned into `store` by `intern` (a capsule, _codec.h's InternEncoded), no tuple made but for new states;
   the actions column in 2 or 4 bytes an action. */
static PyObject *Expander_expand_into(Expander *e, PyObject *const *args, Py_ssize_t nargs) {
    PyObject *s;
    int counting;
    if (expand_args(e, args, nargs, 5, &s, &counting) < 0)
        return NULL;
    long width = PyLong_AsLong(args[4]);
    if (width != 2 && width != 4) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "actions take 2 or 4 bytes");
        return NULL;
    }
    InternEncoded intern = (InternEncoded)PyCapsule_GetPointer(args[2], INTERN_CAPSULE);
    if (intern == NULL)
        return NULL;
    PyObject *store = args[3];
    Columns c = {{NULL, 0, 0}, {NULL, 0, 0}, {NULL, 0, 0}};
    PyObject *signals = PyList_New(0), *events = PyList_New(0), *result = NULL;
    if (signals == NULL || events == NULL)
        goto done;
    uint64_t blocked = 0;
    for (Py_ssize_t k = 0; k < e->nthreads; k++) {
        Table *t = &e->tables[k];
        Point *p;
        Py_ssize_t pc;
        PyObject *owner = thread_outcomes(e, t, s, counting, &p, &pc);
        if (owner == NULL)
            goto done;
        if (owner == Py_None) {
            Py_DECREF(owner);
            continue;
        }
        for (int signal = 0; signal < 2; signal++) {
            PyObject *seq = PySequence_Fast(PyTuple_GET_ITEM(owner, signal), "the outcomes of a step: a sequence");
            if (seq == NULL) {
                Py_DECREF(owner);
                goto done;
            }
            Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
            for (Py_ssize_t choice = 0; choice < n; choice++)
                if (intern_outcome(e, t, s, PySequence_Fast_GET_ITEM(seq, choice), p->memo,
                                   signal ? p->sig_action : p->action, choice, signal, intern, store, &c,
                                   width == 4, signals, events) < 0) {
                    Py_DECREF(seq);
                    Py_DECREF(owner);
                    goto done;
                }
            Py_DECREF(seq);
            if (!signal && n == 0 && p->blocks)
                blocked |= (uint64_t)1 << t->tid_c;
        }
        Py_DECREF(owner);
    }
    /* (y# makes None of a NULL buffer: no edge is b"") */
    result = Py_BuildValue("(Ky#y#y#OO)", (unsigned long long)blocked, c.dst.data ? (const char *)c.dst.data : "",
                           (Py_ssize_t)c.dst.len, c.action.data ? (const char *)c.action.data : "",
                           (Py_ssize_t)c.action.len, c.choice.data ? (const char *)c.choice.data : "",
                           (Py_ssize_t)c.choice.len, signals, events);
done:
    PyMem_Free(c.dst.data);
    PyMem_Free(c.action.data);
    PyMem_Free(c.choice.data);
    Py_XDECREF(signals);
    Py_XDECREF(events);
    return result;
}

/* pending(limit): up to `limit` entries with answers not counted yet, from the last, which are then forgotten. */
static PyObject *Expander_pending(Expander *e, PyObject *arg) {
    Py_ssize_t limit = PyLong_AsSsize_t(arg);
    if (limit == -1 && PyErr_Occurred())
        return NULL;
    size_t take = limit < 0 || (size_t)limit > e->ndirty ? e->ndirty : (size_t)limit;
    PyObject *out = PyList_New((Py_ssize_t)take);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < take; i++) {
        size_t id = e->dirty[e->ndirty - 1 - i], len;
        const unsigned char *key = strings_at(&e->keys, id, &len);
        Reader r = {key, key + len};
        uint64_t number;
        if (get_varint(&r, &number) < 0 || number >= e->nnumbered) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_RuntimeError, "a step memo key names no step");
            Py_DECREF(out);
            return NULL;
        }
        PyObject *valuation = decode_whole(r.p, r.end);
        if (valuation == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyObject *item = Py_BuildValue("(inNK)", e->numbered_tid[number], e->numbered_pc[number], valuation,
                                       (unsigned long long)e->hits[id]);
        if (item == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)i, item);
    }
    for (size_t i = 0; i < take; i++)
        e->hits[e->dirty[--e->ndirty]] = 0;
    return out;
}

/* forget(): every pending answer dropped. */
static PyObject *Expander_forget(Expander *e, PyObject *Py_UNUSED(ignored)) {
    for (size_t i = 0; i < e->ndirty; i++)
        e->hits[e->dirty[i]] = 0;
    e->ndirty = 0;
    Py_RETURN_NONE;
}

static PyObject *Expander_answers(Expander *e, void *Py_UNUSED(closure)) {
    return PyLong_FromUnsignedLongLong(e->answers);
}

static PyObject *Expander_entries(Expander *e, void *Py_UNUSED(closure)) {
    return PyLong_FromSize_t(e->ready ? e->keys.count : 0);
}

static void free_tables(Expander *e) {
    for (Py_ssize_t k = 0; k < e->nthreads && e->tables; k++) {
        Table *t = &e->tables[k];
        for (Py_ssize_t pc = 0; pc < t->npoints && t->points; pc++) {
            Point *p = &t->points[pc];
            Py_CLEAR(p->action);
            Py_CLEAR(p->sig_action);
            PyMem_Free(p->slots);
            p->slots = NULL;
        }
        PyMem_Free(t->points);
        Py_CLEAR(t->tid);
    }
    PyMem_Free(e->tables);
    e->tables = NULL;
    e->nthreads = 0;
    PyMem_Free(e->numbered_tid);
    PyMem_Free(e->numbered_pc);
    e->numbered_tid = NULL;
    e->numbered_pc = NULL;
    e->nnumbered = 0;
}

static void free_entries(Expander *e) {
    if (e->ready) {
        for (size_t id = 0; id < e->keys.count; id++)
            Py_CLEAR(e->outcomes[id]);
        strings_free(&e->keys);
    }
    PyMem_Free(e->outcomes);
    PyMem_Free(e->hits);
    PyMem_Free(e->items);
    PyMem_Free(e->dirty);
    PyMem_Free(e->scratch.data);
    e->outcomes = NULL;
    e->hits = NULL;
    e->items = NULL;
    e->items_cap = 0;
    e->dirty = NULL;
    e->scratch.data = NULL;
    e->scratch.len = e->scratch.cap = 0;
    e->entries_cap = e->ndirty = e->dirty_cap = 0;
    e->ready = 0;
}

static int read_point(Point *p, PyObject *step, int daemon, PyObject *footprint) {
    if (step == Py_None)
        return 0;
    p->present = 1;
    p->action = PyObject_GetAttrString(step, "action");
    p->sig_action = PyObject_GetAttrString(step, "sig_action");
    PyObject *idle = PyObject_GetAttrString(step, "idle");
    if (p->action == NULL || p->sig_action == NULL || idle == NULL) {
        Py_XDECREF(idle);
        return -1;
    }
    int is_idle = PyObject_IsTrue(idle);
    Py_DECREF(idle);
    if (is_idle < 0)
        return -1;
    p->blocks = !(daemon && is_idle);
    if (footprint == Py_None)
        return 0;
    if (!PyTuple_Check(footprint)) {
        PyErr_SetString(PyExc_TypeError, "a footprint must be a tuple of slots, or None");
        return -1;
    }
    p->memo = 1;
    p->nslots = PyTuple_GET_SIZE(footprint);
    p->slots = PyMem_Calloc(p->nslots ? (size_t)p->nslots : 1, sizeof(Py_ssize_t));
    if (p->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < p->nslots; i++) {
        p->slots[i] = PyLong_AsSsize_t(PyTuple_GET_ITEM(footprint, i));
        if (p->slots[i] < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "a negative footprint slot");
            return -1;
        }
    }
    return 0;
}

static int read_table(Table *t, PyObject *spec) {
    PyObject *tid, *steps, *footprints;
    int daemon;
    if (!PyTuple_Check(spec) || !PyArg_ParseTuple(spec, "OnOpO", &tid, &t->pcslot, &steps, &daemon, &footprints)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "a thread: (tid, pc slot, steps, daemon, footprints)");
        return -1;
    }
    Py_INCREF(tid);
    t->tid = tid;
    t->tid_c = (int)PyLong_AsLong(t->tid);
    if (t->tid_c == -1 && PyErr_Occurred())
        return -1;
    if (t->tid_c < 0 || t->tid_c >= 64 || t->pcslot < 0) {
        PyErr_SetString(PyExc_ValueError, "thread ids run from 0 to 63, slots from 0");
        return -1;
    }
    if (!PyList_Check(steps) || !PyList_Check(footprints) || PyList_GET_SIZE(footprints) != PyList_GET_SIZE(steps)) {
        PyErr_SetString(PyExc_TypeError, "steps and footprints: lists of one length");
        return -1;
    }
    t->npoints = PyList_GET_SIZE(steps);
    t->points = PyMem_Calloc(t->npoints ? (size_t)t->npoints : 1, sizeof(Point));
    if (t->points == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t pc = 0; pc < t->npoints; pc++)
        if (read_point(&t->points[pc], PyList_GET_ITEM(steps, pc), daemon, PyList_GET_ITEM(footprints, pc)) < 0)
            return -1;
    return 0;
}

/* Number every (thread, program point), the prefix of its keys, and remember which is which. */
static int number_points(Expander *e) {
    size_t total = 0;
    for (Py_ssize_t k = 0; k < e->nthreads; k++)
        total += (size_t)e->tables[k].npoints;
    e->numbered_tid = PyMem_Calloc(total ? total : 1, sizeof(int));
    e->numbered_pc = PyMem_Calloc(total ? total : 1, sizeof(Py_ssize_t));
    if (!e->numbered_tid || !e->numbered_pc) {
        PyErr_NoMemory();
        return -1;
    }
    size_t number = 0;
    for (Py_ssize_t k = 0; k < e->nthreads; k++) {
        Table *t = &e->tables[k];
        for (Py_ssize_t pc = 0; pc < t->npoints; pc++, number++) {
            t->points[pc].number = (uint32_t)number;
            e->numbered_tid[number] = t->tid_c;
            e->numbered_pc[number] = pc;
        }
    }
    e->nnumbered = total;
    return 0;
}

static int Expander_init(Expander *e, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"threads", "miss", "check", "plain", "check_every", NULL};
    PyObject *threads, *miss, *check, *plain;
    unsigned long long check_every;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!OOOK", names, &PyList_Type, &threads, &miss, &check, &plain,
                                     &check_every))
        return -1;
    free_tables(e);
    free_entries(e);
    Py_INCREF(miss);
    Py_INCREF(check);
    Py_INCREF(plain);
    Py_XSETREF(e->miss, miss);
    Py_XSETREF(e->check, check);
    Py_XSETREF(e->plain, plain);
    e->check_every = check_every;
    e->answers = 0;
    Py_ssize_t n = PyList_GET_SIZE(threads);
    e->tables = PyMem_Calloc(n ? (size_t)n : 1, sizeof(Table));
    if (e->tables == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    e->nthreads = n;
    for (Py_ssize_t k = 0; k < n; k++)
        if (read_table(&e->tables[k], PyList_GET_ITEM(threads, k)) < 0)
            return -1;
    if (number_points(e) < 0 || strings_init(&e->keys) < 0)
        return -1;
    e->ready = 1;
    return 0;
}

static int Expander_traverse(Expander *e, visitproc visit, void *arg) {
    Py_VISIT(e->miss);
    Py_VISIT(e->check);
    Py_VISIT(e->plain);
    if (e->ready)
        for (size_t id = 0; id < e->keys.count; id++)
            Py_VISIT(e->outcomes[id]);
    return 0;
}

static int Expander_clear(Expander *e) {
    Py_CLEAR(e->miss);
    Py_CLEAR(e->check);
    Py_CLEAR(e->plain);
    free_tables(e);
    free_entries(e);
    return 0;
}

static void Expander_dealloc(Expander *e) {
    PyObject_GC_UnTrack(e);
    Expander_clear(e);
    Py_TYPE(e)->tp_free((PyObject *)e);
}

static PyMethodDef Expander_methods[] = {
    {"expand", (PyCFunction)(void (*)(void))Expander_expand, METH_FASTCALL,
     "expand(state, counting) -> (transitions, blocked mask): TransitionSystem.expand through the memo."},
    {"expand_into", (PyCFunction)(void (*)(void))Expander_expand_into, METH_FASTCALL,
     "expand_into(state, counting, intern, store, action_bytes) -> (blocked mask, targets, actions, choices, "
     "signal edges, events): expand, each successor interned into store (targets uint32, actions in "
     "action_bytes, choices uint16, native order; events in edge order: (id, action, choice, state) per new state, (tid, action, choice, "
     "signal, violation) per violation)."},
    {"pending", (PyCFunction)Expander_pending, METH_O,
     "pending(limit) -> up to limit (all: -1) [(thread, program point, footprint valuation, answers)] not counted "
     "yet, which are then forgotten."},
    {"forget", (PyCFunction)Expander_forget, METH_NOARGS, "forget() -> None: every pending answer dropped."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Expander_getset[] = {
    {"answers", (getter)Expander_answers, NULL, "answers from the memo so far", NULL},
    {"entries", (getter)Expander_entries, NULL, "entries remembered", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ExpanderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "netcheck.model.semantics._memo.Expander",
    .tp_basicsize = sizeof(Expander),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Expander(threads, miss, check, plain, check_every): the step memo's expander (memo.py).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Expander_init,
    .tp_traverse = (traverseproc)Expander_traverse,
    .tp_clear = (inquiry)Expander_clear,
    .tp_dealloc = (destructor)Expander_dealloc,
    .tp_methods = Expander_methods,
    .tp_getset = Expander_getset,
};

/* ---- Valuation(slots): called on a state, the encoding (bytes) of its values at `slots`: a dict key as fine as
   the tuple of those values (equal exactly when they are equal with the same types), made and hashed
   without a tuple (what the property checks cache their verdicts under, checker/engine/verdicts.py). */

typedef struct {
    PyObject_HEAD
    Py_ssize_t *slots;
    Py_ssize_t nslots, need;   /* need: the shortest state it reads (the largest slot + 1) */
    PyObject **items;
    Buffer scratch;
} Valuation;

static PyObject *Valuation_call(Valuation *v, PyObject *args, PyObject *kwargs) {
    PyObject *s;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "Valuation(state) takes no keywords");
        return NULL;
    }
    if (!PyArg_UnpackTuple(args, "Valuation", 1, 1, &s))
        return NULL;
    PyObject *seq = PySequence_Fast(s, "a valuation reads a state: a tuple (or list) of its slots");
    if (seq == NULL)
        return NULL;
    if (PySequence_Fast_GET_SIZE(seq) < v->need) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_IndexError, "a state shorter than the slots a valuation reads");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < v->nslots; i++)
        v->items[i] = PySequence_Fast_GET_ITEM(seq, v->slots[i]);
    v->scratch.len = 0;
    int rc = encode_items(&v->scratch, v->items, v->nslots, 0);
    Py_DECREF(seq);
    if (rc < 0)
        return NULL;
    return PyBytes_FromStringAndSize((const char *)v->scratch.data, (Py_ssize_t)v->scratch.len);
}

static int Valuation_init(Valuation *v, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"slots", NULL};
    PyObject *slots;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!", names, &PyTuple_Type, &slots))
        return -1;
    Py_ssize_t n = PyTuple_GET_SIZE(slots);
    Py_ssize_t *got = PyMem_Calloc(n ? (size_t)n : 1, sizeof(Py_ssize_t));
    PyObject **items = PyMem_Calloc(n ? (size_t)n : 1, sizeof(PyObject *));
    if (got == NULL || items == NULL) {
        PyMem_Free(got);
        PyMem_Free(items);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t need = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        got[i] = PyLong_AsSsize_t(PyTuple_GET_ITEM(slots, i));
        if (got[i] < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "a negative slot");
            PyMem_Free(got);
            PyMem_Free(items);
            return -1;
        }
        if (got[i] + 1 > need)
            need = got[i] + 1;
    }
    PyMem_Free(v->slots);
    PyMem_Free(v->items);
    v->slots = got;
    v->items = items;
    v->nslots = n;
    v->need = need;
    return 0;
}

static void Valuation_dealloc(Valuation *v) {
    PyMem_Free(v->slots);
    PyMem_Free(v->items);
    PyMem_Free(v->scratch.data);
    Py_TYPE(v)->tp_free((PyObject *)v);
}

static PyTypeObject ValuationType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "netcheck.model.semantics._memo.Valuation",
    .tp_basicsize = sizeof(Valuation),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Valuation(slots): called on a state, the encoding of its values at those slots (bytes).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Valuation_init,
    .tp_dealloc = (destructor)Valuation_dealloc,
    .tp_call = (ternaryfunc)Valuation_call,
};

static struct PyModuleDef memo_module = {
    PyModuleDef_HEAD_INIT, "_memo", "The step memo's expander in C (model/semantics/memo.py).", -1, NULL,
};

PyMODINIT_FUNC PyInit__memo(void) {
    if (PyType_Ready(&ExpanderType) < 0 || PyType_Ready(&ValuationType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&memo_module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Expander", (PyObject *)&ExpanderType) < 0 ||
        PyModule_AddObjectRef(m, "Valuation", (PyObject *)&ValuationType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
