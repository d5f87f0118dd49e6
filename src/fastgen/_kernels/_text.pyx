# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# distutils: language = c++
"""Compiled text kernels: tokenize, n-gram, count and hash documents.

Plain data in, arrays out. Documents arrive as already-preprocessed ``str``
objects (lower-casing and accent stripping are done by the caller with
Python's own string methods, so their semantics match exactly); this module
reads their code points directly from the string buffers, with the GIL
released, and never creates a Python object per token.

Analyzers (``analyzer`` argument): ``WORD`` (maximal runs of ``\\w`` code
points, ``\\w`` being ``str.isalnum() or '_'`` as in :mod:`re`, at least
``min_token_len`` long), ``CHAR`` and ``CHAR_WB`` (scikit-learn's character
n-grams after collapsing runs of two or more white-space code points).
Terms are emitted in exactly the order scikit-learn's analyzers emit them.

Bounds-checking is off for the module: every index below is derived from a
buffer length checked in the same function (spans lie inside the document
buffer; the term scratch buffer is grown before it is written).
"""

cimport cython
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, realloc
from posix.stdlib cimport posix_memalign
from libc.string cimport memcpy, memset
from libcpp.vector cimport vector

from fastgen._kernels._weighting cimport (
    NORM_NONE, RowWeighting, row_weighting, weigh_row, weighting_is_identity,
)

import os

import numpy as np

cimport numpy as cnp

cnp.import_array()

cdef extern from "Python.h":
    int PyUnicode_KIND(object o)
    void *PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    object PyUnicode_FromKindAndData(int kind, const void *buf, Py_ssize_t size)
    bint Py_UNICODE_ISALNUM(Py_UCS4 ch) nogil
    bint Py_UNICODE_ISSPACE(Py_UCS4 ch) nogil
    Py_UCS4 Py_UNICODE_TOLOWER(Py_UCS4 ch) nogil

cdef enum:
    WORD = 0
    CHAR = 1
    CHAR_WB = 2

#: Analyzer name -> code understood by the drivers below.
ANALYZERS = {"word": WORD, "char": CHAR, "char_wb": CHAR_WB}

# What to do with each term.
cdef enum:
    SINK_GROW = 0      # look up, add unseen terms (fitting a vocabulary)
    SINK_LOOKUP = 1    # look up, skip unseen terms
    SINK_HASH = 2      # signed 32-bit MurmurHash3 of the UTF-8 bytes

ctypedef uint32_t cp_t   # one code point

# A growable array of plain values in one ``malloc`` block. Growing a large
# block goes through ``realloc``, which for page-sized blocks remaps pages
# instead of copying them (and touches no page twice), and the final block is
# handed to NumPy as it is. ``push`` never throws: an allocation failure sets
# ``failed`` (checked by the drivers, which then raise MemoryError).
cdef extern from *:
    """
    #include <cstdlib>
    #include <cstdint>
    #if defined(__linux__)
    #include <sys/mman.h>
    #endif
    /* Ask for transparent huge pages over the 2 MiB-aligned part of a large block:
       one page fault (and one TLB entry) per 2 MiB instead of per 4 KiB. */
    static inline void fg_advise_huge(void *p, size_t bytes) {
    #if defined(__linux__) && defined(MADV_HUGEPAGE)
        const uintptr_t huge = (uintptr_t)1 << 21;
        uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1);
        uintptr_t b = ((uintptr_t)p + bytes) & ~(huge - 1);
        if (b > a) madvise((void *)a, b - a, MADV_HUGEPAGE);
    #else
        (void)p; (void)bytes;
    #endif
    }
    template <typename T> struct FgPodVec {
        T *ptr; size_t len; size_t cap; bool failed;
        FgPodVec() : ptr(nullptr), len(0), cap(0), failed(false) {}
        ~FgPodVec() { std::free(ptr); }
        FgPodVec(const FgPodVec &) = delete;
        FgPodVec &operator=(const FgPodVec &) = delete;
        bool reserve(size_t n) {
            if (n <= cap) return true;
            if (failed) return false;
            size_t c = cap < 512 ? 512 : cap;
            while (c < n) {
                if (c > SIZE_MAX / (2 * sizeof(T))) { failed = true; return false; }
                c *= 2;
            }
            T *p = (T *)std::realloc(ptr, c * sizeof(T));
            if (!p) { failed = true; return false; }
            if (c * sizeof(T) >= ((size_t)4 << 20)) fg_advise_huge(p, c * sizeof(T));
            ptr = p; cap = c; return true;
        }
        inline void push(T v) {
            if (len == cap && !reserve(len + 1)) return;
            ptr[len++] = v;
        }
        inline void clear() { len = 0; }
        void shrink() {
            if (len < cap && len > 0) {
                T *p = (T *)std::realloc(ptr, len * sizeof(T));
                if (p) { ptr = p; cap = len; }
            }
        }
        T *release() { T *p = ptr; ptr = nullptr; len = cap = 0; return p; }
    };
    """
    cdef cppclass PodVec "FgPodVec" [T]:
        T *ptr
        size_t len
        size_t cap
        bint failed
        bint reserve(size_t n) noexcept nogil
        void push(T v) noexcept nogil
        void clear() noexcept nogil
        void shrink() noexcept nogil
        T *release() noexcept nogil
    void fg_advise_huge(void *p, size_t bytes) noexcept nogil

# Sorting a table's terms by code point (``TermTable.sorted_ids``). Each term
# gets a 64-bit key from its first three code points (each + 1 in 21 bits, 0
# past the end, so a prefix sorts first); only terms sharing that key are
# compared further, from their fourth code point on.
cdef extern from *:
    """
    #include <algorithm>
    #include <new>
    #include <vector>
    struct FgTermKey { uint64_t key; int32_t id; };
    static bool fg_sort_terms(const uint32_t *arena, const int64_t *offsets, int32_t n,
                              int32_t *out) {
        std::vector<FgTermKey> keys;
        try { keys.resize((size_t)n); } catch (const std::bad_alloc &) { return false; }
        for (int32_t t = 0; t < n; ++t) {
            const uint32_t *rec = arena + offsets[t];
            uint64_t len = (uint64_t)rec[0] | ((uint64_t)rec[1] << 32), key = 0;
            for (int j = 0; j < 3; ++j)
                key = (key << 21) | ((uint64_t)j < len ? (uint64_t)rec[2 + j] + 1 : 0);
            keys[(size_t)t] = FgTermKey{key, t};
        }
        auto less = [arena, offsets](const FgTermKey &a, const FgTermKey &b) {
            if (a.key != b.key) return a.key < b.key;
            const uint32_t *ra = arena + offsets[a.id], *rb = arena + offsets[b.id];
            uint64_t na = (uint64_t)ra[0] | ((uint64_t)ra[1] << 32);
            uint64_t nb = (uint64_t)rb[0] | ((uint64_t)rb[1] << 32);
            uint64_t m = na < nb ? na : nb;
            for (uint64_t i = 3; i < m; ++i)
                if (ra[2 + i] != rb[2 + i]) return ra[2 + i] < rb[2 + i];
            return na < nb;
        };
        std::sort(keys.begin(), keys.end(), less);
        for (int32_t t = 0; t < n; ++t) out[t] = keys[(size_t)t].id;
        return true;
    }
    """
    bint fg_sort_terms(const uint32_t *arena, const int64_t *offsets, int32_t n,
                       int32_t *out) noexcept nogil


cdef extern from *:
    void __builtin_prefetch(const void *addr) noexcept nogil
    int __builtin_ctzll(unsigned long long x) noexcept nogil
    int __builtin_clzll(unsigned long long x) noexcept nogil


# ---------------------------------------------------------------------------
# Character classes (ASCII fast path, CPython's tables otherwise)
# ---------------------------------------------------------------------------

cdef enum:
    F_WORD = 1
    F_SPACE = 2

# Flags of the Basic Multilingual Plane, filled once at import from CPython's
# own tables; other planes ask CPython directly.
cdef uint8_t BMP_FLAGS[65536]

# What a document's code point ``c`` of the BMP becomes when loaded, as one
# table entry: the code point itself (``BMP_AS_IS``) or its simple lower-case
# mapping (``BMP_AS_LOWER``, always in the BMP) in the bits under ``WORD_BIT``,
# and at ``WORD_BIT`` whether that code point is a word code point. Loading a
# document thus classifies it for the word tokenizer in the same pass.
# ``BMP_AS_LOWER`` also marks with ``SPECIAL`` the two code points whose lower
# case ``str.lower`` does not take from the simple mapping (see ``load_doc``).
cdef enum:
    WORD_BIT = 31
    SPECIAL = 1 << 30
    CP_BITS = 0x1FFFFF

cdef uint32_t BMP_AS_IS[65536]
cdef uint32_t BMP_AS_LOWER[65536]


cdef void _fill_tables() noexcept nogil:
    cdef uint32_t c, low
    for c in range(65536):
        BMP_FLAGS[c] = ((F_WORD if (Py_UNICODE_ISALNUM(c) or c == 95) else 0)
                        | (F_SPACE if Py_UNICODE_ISSPACE(c) else 0))
    for c in range(65536):
        low = Py_UNICODE_TOLOWER(c)
        BMP_AS_IS[c] = c | (<uint32_t>(BMP_FLAGS[c] & F_WORD) << WORD_BIT)
        BMP_AS_LOWER[c] = low | (<uint32_t>(BMP_FLAGS[low] & F_WORD) << WORD_BIT)
        if c == 0x130 or c == 0x3A3:
            BMP_AS_LOWER[c] |= SPECIAL


_fill_tables()


cdef inline bint is_space(cp_t c) noexcept nogil:
    if c < 65536:
        return BMP_FLAGS[c] & F_SPACE
    return Py_UNICODE_ISSPACE(c)


# ---------------------------------------------------------------------------
# Hashing
# ---------------------------------------------------------------------------

cdef enum:
    HASH_PAIRS = 16   # code-point pairs a term_hash chunk sums (one key each)
    SHORT_TERM = 8    # longest term short_term_hash takes (must stay 8)

# term_hash's keys: odd 64-bit numbers drawn (splitmix64) from a seed the
# operating system gives at import, so that nobody who writes the documents knows
# them: terms built to share a hash (which would make every table lookup probe
# through all of them) cannot be prepared in advance. Only where a term sits in a
# table depends on them; ids, outputs and model files do not.
cdef uint64_t HASH_KEYS[HASH_PAIRS]
# SHORT_MASKS[n][j]: the bits of pair j that hold code points of a term of n <= SHORT_TERM
cdef uint64_t SHORT_MASKS[SHORT_TERM + 1][4]   # 4 = SHORT_TERM / 2 pairs


cdef void _fill_hash_keys(uint64_t seed) noexcept nogil:
    cdef uint64_t x = seed, z
    cdef int i, j
    for i in range(HASH_PAIRS):
        x += 0x9E3779B97F4A7C15ULL
        z = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
        HASH_KEYS[i] = (z ^ (z >> 31)) | 1
    for i in range(SHORT_TERM + 1):
        for j in range(4):
            if 2 * j + 2 <= i:
                SHORT_MASKS[i][j] = 0xFFFFFFFFFFFFFFFFULL
            elif 2 * j + 1 == i:
                SHORT_MASKS[i][j] = 0xFFFFFFFFULL
            else:
                SHORT_MASKS[i][j] = 0


_fill_hash_keys(int.from_bytes(os.urandom(8), "little"))


cdef inline uint64_t fmix64(uint64_t k) noexcept nogil:
    """MurmurHash3's 64-bit finaliser: every input bit moves every output bit."""
    k ^= k >> 33
    k *= 0xFF51AFD7ED558CCDULL
    k ^= k >> 33
    k *= 0xC4CEB9FE1A85EC53ULL
    k ^= k >> 33
    return k


cdef inline uint64_t length_seed(Py_ssize_t n) noexcept nogil:
    """Where ``term_hash`` starts for a term of ``n`` code points (both hash paths)."""
    return <uint64_t>n * 0x9E3779B97F4A7C15ULL


cdef inline uint64_t term_hash(const cp_t *s, Py_ssize_t n) noexcept nogil:
    """64-bit hash of a code-point sequence (table hashing only).

    Multilinear: the code points are read two at a time as one 64-bit word, each
    word times its position's odd key, and the products summed; the sum (and
    the length) then go through ``fmix64``. The products are independent, so
    hashing a token is not one long chain of dependent multiplies; a single
    changed word changes the sum (an odd key is invertible modulo 2**64).
    Terms longer than ``2 * HASH_PAIRS`` code points are summed a chunk at a time,
    each chunk's sum mixed into the hash before the next.
    """
    cdef uint64_t h = length_seed(n)
    cdef uint64_t acc, pair
    cdef Py_ssize_t i = 0, j, m
    while True:
        m = n - i
        if m > 2 * HASH_PAIRS:
            m = 2 * HASH_PAIRS
        acc = 0
        for j in range(m >> 1):
            memcpy(&pair, s + i + 2 * j, sizeof(uint64_t))
            acc += pair * HASH_KEYS[j]
        if m & 1:
            acc += <uint64_t>s[i + m - 1] * HASH_KEYS[m >> 1]
        i += m
        if i >= n:
            return fmix64(h ^ acc)
        h = fmix64(h ^ acc) + <uint64_t>i


cdef inline uint64_t short_term_hash(const cp_t *s, Py_ssize_t n) noexcept nogil:
    """``term_hash`` of a term of at most ``SHORT_TERM`` code points, without a loop
    (no branch to mispredict on the term's length): reads ``SHORT_TERM`` code points
    from ``s`` whatever ``n``, and masks off those past the term."""
    cdef uint64_t p0, p1, p2, p3
    cdef const uint64_t *m = SHORT_MASKS[n]
    memcpy(&p0, s, 8)
    memcpy(&p1, s + 2, 8)
    memcpy(&p2, s + 4, 8)
    memcpy(&p3, s + 6, 8)
    return fmix64(length_seed(n)
                  ^ ((p0 & m[0]) * HASH_KEYS[0] + (p1 & m[1]) * HASH_KEYS[1]
                     + (p2 & m[2]) * HASH_KEYS[2] + (p3 & m[3]) * HASH_KEYS[3]))


cdef inline uint32_t rotl32(uint32_t x, int r) noexcept nogil:
    return (x << r) | (x >> (32 - r))


cdef inline uint32_t _mm_block(uint32_t h1, uint32_t k1) noexcept nogil:
    k1 *= 0xcc9e2d51U
    k1 = rotl32(k1, 15)
    k1 *= 0x1b873593U
    h1 ^= k1
    h1 = rotl32(h1, 13)
    return h1 * 5 + 0xe6546b64U


cdef inline int32_t _mm_finish(uint32_t h1, uint32_t k1, int rem, Py_ssize_t n) noexcept nogil:
    if rem:
        k1 *= 0xcc9e2d51U
        k1 = rotl32(k1, 15)
        k1 *= 0x1b873593U
        h1 ^= k1
    h1 ^= <uint32_t>n
    h1 ^= h1 >> 16
    h1 *= 0x85ebca6bU
    h1 ^= h1 >> 13
    h1 *= 0xc2b2ae35U
    h1 ^= h1 >> 16
    return <int32_t>h1


cdef int32_t murmur3_32(const uint8_t *data, Py_ssize_t n, uint32_t seed) noexcept nogil:
    """MurmurHash3 x86 32-bit of ``n`` bytes, as a signed integer."""
    cdef uint32_t h1 = seed, k1 = 0
    cdef Py_ssize_t nblocks = n // 4, i
    for i in range(nblocks):
        h1 = _mm_block(h1, <uint32_t>data[4 * i] | (<uint32_t>data[4 * i + 1] << 8)
                       | (<uint32_t>data[4 * i + 2] << 16) | (<uint32_t>data[4 * i + 3] << 24))
    cdef const uint8_t *tail = data + nblocks * 4
    cdef int rem = n & 3
    if rem == 3:
        k1 ^= <uint32_t>tail[2] << 16
    if rem >= 2:
        k1 ^= <uint32_t>tail[1] << 8
    if rem >= 1:
        k1 ^= tail[0]
    return _mm_finish(h1, k1, rem, n)


cdef inline int32_t murmur3_32_ascii(const cp_t *data, Py_ssize_t n, uint32_t seed,
                                     bint *ascii) noexcept nogil:
    """``murmur3_32`` of code points taken as one byte each, which is their UTF-8 when
    they are all ASCII; ``ascii[0]`` says whether they are (otherwise the hash is void)."""
    cdef uint32_t h1 = seed, k1 = 0
    cdef cp_t seen = 0, c0, c1, c2, c3
    cdef Py_ssize_t nblocks = n // 4, i
    for i in range(nblocks):
        c0 = data[4 * i]
        c1 = data[4 * i + 1]
        c2 = data[4 * i + 2]
        c3 = data[4 * i + 3]
        seen |= c0 | c1 | c2 | c3
        h1 = _mm_block(h1, c0 | (c1 << 8) | (c2 << 16) | (c3 << 24))
    cdef const cp_t *tail = data + nblocks * 4
    cdef int rem = n & 3
    if rem == 3:
        k1 ^= tail[2] << 16
        seen |= tail[2]
    if rem >= 2:
        k1 ^= tail[1] << 8
        seen |= tail[1]
    if rem >= 1:
        k1 ^= tail[0]
        seen |= tail[0]
    ascii[0] = seen < 128
    return _mm_finish(h1, k1, rem, n)


cdef int32_t murmur3_32_utf8(const cp_t *s, Py_ssize_t n, uint32_t seed,
                             bint *surrogate) noexcept nogil:
    """``murmur3_32`` of the UTF-8 encoding of code points, encoded on the fly (no
    buffer): each code point's bytes join the pending ones, and every four make a
    block. ``surrogate[0]`` is set (and the hash void) on a surrogate, which has no
    UTF-8."""
    cdef uint32_t h1 = seed, u
    cdef uint64_t pending = 0   # bytes not yet mixed, the first lowest
    cdef int n_pending = 0, width
    cdef Py_ssize_t n_bytes = 0, i
    cdef cp_t c
    for i in range(n):
        c = s[i]
        if c < 0x80:
            u = c
            width = 1
        elif c < 0x800:
            u = (0xC0 | (c >> 6)) | ((0x80 | (c & 0x3F)) << 8)
            width = 2
        elif c < 0x10000:
            if 0xD800 <= c <= 0xDFFF:
                surrogate[0] = True
                return 0
            u = ((0xE0 | (c >> 12)) | ((0x80 | ((c >> 6) & 0x3F)) << 8)
                 | ((0x80 | (c & 0x3F)) << 16))
            width = 3
        else:
            u = ((0xF0 | (c >> 18)) | ((0x80 | ((c >> 12) & 0x3F)) << 8)
                 | ((0x80 | ((c >> 6) & 0x3F)) << 16) | ((0x80 | (c & 0x3F)) << 24))
            width = 4
        pending |= <uint64_t>u << (8 * n_pending)
        n_pending += width
        n_bytes += width
        if n_pending >= 4:
            h1 = _mm_block(h1, <uint32_t>pending)
            pending >>= 32
            n_pending -= 4
    return _mm_finish(h1, <uint32_t>pending, n_pending, n_bytes)


def murmurhash3_32(str s, unsigned int seed=0):
    """Signed MurmurHash3 (x86, 32-bit) of ``s`` encoded as UTF-8."""
    cdef bytes b = s.encode("utf-8")
    return murmur3_32(<const uint8_t *><char *>b, len(b), seed)


# ---------------------------------------------------------------------------
# TermTable: an open-addressing hash table of code-point strings -> ids 0..n-1
# ---------------------------------------------------------------------------

cdef enum:
    INLINE_MAX = 11          # longest term a slot holds itself
    NOT_INLINE = 0xFFFF      # Slot.len of a term kept in the arena only


cdef struct Slot:
    uint32_t frag     # high 32 bits of the term's hash
    int32_t tid       # -1: empty
    uint16_t len      # the term's length when held in ``inl``, else NOT_INLINE
    uint16_t inl[INLINE_MAX]   # the term, if at most INLINE_MAX code points all < 65536


@cython.final
cdef class TermTable:
    """Insertion-ordered set of terms; term ``i`` has id ``i``.

    Open addressing with linear probing over 32-byte slots aligned to cache
    lines. A slot holds a hash fragment, the id and, for the short terms that
    make up most of a text (at most ``INLINE_MAX`` code points below 65536),
    the term itself, so that looking one up touches a single cache line.
    Every term is also kept in the arena (two code-point slots of length,
    then the code points), where longer terms are compared.
    Lookups are read-only and may run concurrently from several threads;
    insertion must be confined to one thread.
    """
    cdef vector[cp_t] arena
    cdef vector[int64_t] offsets     # record position of each id
    cdef vector[uint64_t] hashes     # full hash of each id (for rehashing)
    cdef Slot *slots
    cdef uint64_t mask

    def __cinit__(self):
        self.slots = NULL
        if not self._reset_slots(64):
            raise MemoryError()

    def __dealloc__(self):
        free(self.slots)

    cdef bint _reset_slots(self, uint64_t n_slots, bint huge=False) noexcept nogil:
        """Replace the slots by ``n_slots`` empty ones (a power of two); False if out of memory.

        ``huge``: on transparent huge pages if the slots fill 2 MiB or more, for a
        table that will be looked up at random many times (fewer TLB misses);
        not for tables still growing, whose short-lived blocks would each pay
        for zeroing and compacting huge pages.
        """
        cdef void *mem = NULL
        cdef uint64_t i
        cdef size_t size = n_slots * sizeof(Slot)
        cdef size_t align = 64
        if huge and size >= (<size_t>2 << 20):
            align = <size_t>2 << 20
        if n_slots > (<uint64_t>1 << 58) or posix_memalign(&mem, align, size) != 0:
            return False
        if align > 64:
            fg_advise_huge(mem, size)
        free(self.slots)
        self.slots = <Slot *>mem
        for i in range(n_slots):
            self.slots[i].tid = -1
        self.mask = n_slots - 1
        return True

    @staticmethod
    def from_terms(terms):
        """Build a table whose ids follow the order of ``terms`` (all distinct).

        A list or tuple of terms is given its final number of slots at once (no
        rehashing while it fills), on huge pages when large: such tables are
        vocabularies, looked up for every token of every document transformed.
        """
        cdef TermTable t = TermTable()
        cdef vector[cp_t] buf
        cdef str s
        cdef int32_t tid
        cdef uint64_t n_slots = 64
        if isinstance(terms, (list, tuple)):
            while n_slots <= 2 * <uint64_t>len(terms):
                n_slots *= 2
            if n_slots > 64 and not t._reset_slots(n_slots, True):
                raise MemoryError("out of memory while building a term table")
        for s in terms:
            _load(s, buf)
            tid = t.insert(buf.data(), <Py_ssize_t>buf.size())
            if tid < 0:
                raise MemoryError("out of memory while building a term table")
            if tid != t.size() - 1:
                raise ValueError(f"duplicate term {s!r}")
        return t

    def __len__(self):
        return self.size()

    cdef inline int32_t size(self) noexcept nogil:
        return <int32_t>self.hashes.size()

    cdef inline Py_ssize_t term_len(self, int64_t off) noexcept nogil:
        return <Py_ssize_t>(self.arena[off] | (<uint64_t>self.arena[off + 1] << 32))

    cdef int32_t find(self, const cp_t *s, Py_ssize_t n, uint64_t h) noexcept nogil:
        cdef uint64_t i = h & self.mask
        cdef uint32_t frag = <uint32_t>(h >> 32)
        cdef const Slot *slot
        cdef int64_t off
        while True:
            slot = &self.slots[i]
            if slot.tid < 0:
                return -1
            if slot.frag == frag:
                if slot.len != NOT_INLINE:
                    if slot.len == n and _same16(slot.inl, s, n):
                        return slot.tid
                else:
                    off = self.offsets[slot.tid]
                    if self.term_len(off) == n and _same(self.arena.data() + off + 2, s, n):
                        return slot.tid
            i = (i + 1) & self.mask

    cdef int32_t lookup(self, const cp_t *s, Py_ssize_t n) noexcept nogil:
        return self.find(s, n, term_hash(s, n))

    cdef inline void prefetch(self, uint64_t h) noexcept nogil:
        """Start loading the slot where a term of hash ``h`` is first looked for."""
        __builtin_prefetch(&self.slots[h & self.mask])

    cdef int32_t insert(self, const cp_t *s, Py_ssize_t n) noexcept nogil:
        """Return the id of ``s``, adding it if unseen (-1: out of memory)."""
        return self.insert_hashed(s, n, term_hash(s, n))

    cdef int32_t insert_hashed(self, const cp_t *s, Py_ssize_t n, uint64_t h) noexcept nogil:
        """``insert`` of a term whose ``term_hash`` is ``h``."""
        cdef int32_t tid = self.find(s, n, h)
        if tid >= 0:
            return tid
        tid = self.size()
        self.hashes.push_back(h)
        self.offsets.push_back(<int64_t>self.arena.size())
        self.arena.push_back(<cp_t>(<uint64_t>n & 0xFFFFFFFFU))
        self.arena.push_back(<cp_t>(<uint64_t>n >> 32))
        self.arena.insert(self.arena.end(), s, s + n)
        if 2 * <uint64_t>(tid + 1) > self.mask:
            if not self._reset_slots(2 * (self.mask + 1)):
                return -1
            for h in range(<uint64_t>tid + 1):
                self._place(<int32_t>h)
        else:
            self._place(tid)
        return tid

    cdef void _place(self, int32_t tid) noexcept nogil:
        cdef uint64_t h = self.hashes[tid]
        cdef uint64_t i = h & self.mask
        cdef int64_t off = self.offsets[tid]
        cdef Py_ssize_t n = self.term_len(off), k
        cdef const cp_t *term = self.arena.data() + off + 2
        cdef Slot *slot
        while self.slots[i].tid >= 0:
            i = (i + 1) & self.mask
        slot = &self.slots[i]
        slot.frag = <uint32_t>(h >> 32)
        slot.tid = tid
        slot.len = NOT_INLINE
        if n <= INLINE_MAX:
            for k in range(n):
                if term[k] >= 65536:
                    return
                slot.inl[k] = <uint16_t>term[k]
            slot.len = <uint16_t>n

    def terms(self):
        """All terms as a list of ``str``, in id order."""
        cdef list out = []
        cdef int32_t tid
        cdef int64_t off
        for tid in range(self.size()):
            off = self.offsets[tid]
            out.append(PyUnicode_FromKindAndData(
                4, <const void *>(self.arena.data() + off + 2), self.term_len(off)))
        return out

    def sorted_ids(self):
        """Ids ordered by their terms as Python orders ``str`` (by code point), int32."""
        cdef int32_t n = self.size()
        cdef cnp.ndarray[int32_t, ndim=1] ids = np.empty(n, dtype=np.int32)
        cdef bint ok
        with nogil:
            ok = fg_sort_terms(self.arena.data(), self.offsets.data(), n,
                               <int32_t *>cnp.PyArray_DATA(ids))
        if not ok:
            raise MemoryError("out of memory while sorting terms")
        return ids

    def merge(self, TermTable other not None):
        """Add ``other``'s terms in its id order; return its id -> our id map."""
        cdef cnp.ndarray[int32_t, ndim=1] mapping = np.empty(other.size(), dtype=np.int32)
        cdef int32_t[::1] out = mapping
        cdef int32_t tid
        cdef int64_t off
        with nogil:
            for tid in range(other.size()):
                off = other.offsets[tid]
                out[tid] = self.insert(other.arena.data() + off + 2, other.term_len(off))
                if out[tid] < 0:
                    break
        if any_negative(out):
            raise MemoryError("out of memory while merging term tables")
        return mapping


cdef bint any_negative(const int32_t[::1] v) noexcept:
    cdef Py_ssize_t i
    for i in range(v.shape[0]):
        if v[i] < 0:
            return True
    return False


cdef inline bint _same16(const uint16_t *a, const cp_t *b, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if a[i] != b[i]:
            return False
    return True


cdef inline bint _same(const cp_t *a, const cp_t *b, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if a[i] != b[i]:
            return False
    return True


cdef void _load(str s, vector[cp_t] &buf):
    """Copy the code points of ``s`` into ``buf`` (GIL held)."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(s)
    buf.resize(n)
    _widen(PyUnicode_KIND(s), PyUnicode_DATA(s), n, buf.data())


cdef inline void _widen(int kind, const void *data, Py_ssize_t n, cp_t *out) noexcept nogil:
    cdef Py_ssize_t i
    if kind == 1:
        for i in range(n):
            out[i] = (<const uint8_t *>data)[i]
    elif kind == 2:
        for i in range(n):
            out[i] = (<const uint16_t *>data)[i]
    else:
        memcpy(out, data, n * sizeof(cp_t))


# ---------------------------------------------------------------------------
# Per-document term generation
# ---------------------------------------------------------------------------

cdef struct Params:
    int analyzer
    int min_n
    int max_n
    int min_token_len
    int sink
    int64_t n_features        # SINK_HASH (at most 2**31 - 1)
    bint alternate_sign       # SINK_HASH
    bint pow2_features        # SINK_HASH: n_features is a power of two (index by mask)


cdef cppclass Scratch:
    vector[cp_t] doc          # the document's code points, then SHORT_TERM zeros
    Py_ssize_t n_doc          # the document's length
    vector[uint64_t] mask     # WORD: bit j of mask[k] says doc[64 k + j] is a word code point
    vector[cp_t] norm         # white-space-collapsed text (char analyzers)
    vector[cp_t] term         # a materialised term
    PodVec[int64_t] spans     # token (start, length) pairs
    PodVec[int64_t] keys      # per-document term keys before counting
    vector[int64_t] keys_tmp  # scratch for sort_keys
    vector[uint64_t] hashes   # the tokens' term_hash (emit_tokens)
    bint bad_surrogate


cdef inline void emit_hashed(const cp_t *s, Py_ssize_t n, uint64_t th, Params *p,
                             TermTable table, Scratch *w) noexcept nogil:
    """``emit`` for the table sinks, of a term whose ``term_hash`` is ``th``."""
    cdef int32_t tid
    if p.sink == SINK_GROW:
        tid = table.insert_hashed(s, n, th)
        if tid >= 0:
            w.keys.push(tid)
        else:
            w.keys.failed = True   # out of memory: the driver raises
    else:
        tid = table.find(s, n, th)
        if tid >= 0:
            w.keys.push(tid)


cdef inline void emit(const cp_t *s, Py_ssize_t n, Params *p, TermTable table,
                      Scratch *w) noexcept nogil:
    cdef int32_t h
    cdef uint32_t a, idx
    cdef bint ascii
    if p.sink != SINK_HASH:
        emit_hashed(s, n, term_hash(s, n), p, table, w)
    else:
        h = murmur3_32_ascii(s, n, 0, &ascii)
        if not ascii:
            h = murmur3_32_utf8(s, n, 0, &w.bad_surrogate)
            if w.bad_surrogate:
                return
        if h == -2147483648:   # abs() overflows: scikit-learn's convention
            a = <uint32_t>(2147483647 - (p.n_features - 1))
        else:
            a = <uint32_t>(h if h >= 0 else -h)
        # 32-bit unsigned arithmetic: n_features < 2**31
        if p.pow2_features:
            idx = a & <uint32_t>(p.n_features - 1)
        else:
            idx = a % <uint32_t>p.n_features
        # key: index * 2 + (1 if the sign is negative)
        w.keys.push(<int64_t>idx * 2 + (1 if (p.alternate_sign and h < 0) else 0))






cdef enum:
    EARLY_DIGITS = 3   # byte histograms taken in the first pass over the keys


cdef void radix_sort(uint64_t *a, uint64_t *tmp, Py_ssize_t n, int shift) noexcept nogil:
    """Stable sort of ``a[:n]`` by the bits of its values from ``shift`` up.

    The keys sorted here (a document's terms, a row's columns) are few and their
    comparisons unpredictable, so instead of a comparison sort: insertion sort for
    a handful, otherwise an LSD radix sort on bytes, with as many passes as the
    largest key has bytes and a pass skipped when every key shares its byte.
    The histograms of the first ``EARLY_DIGITS`` bytes (enough for ids below
    2**24) are taken in the same pass that finds the largest key.
    ``tmp`` holds at least ``n`` values (scratch).
    """
    cdef Py_ssize_t i, j, b, total, c, digit = 0
    cdef uint64_t x, largest = 0
    cdef Py_ssize_t early[EARLY_DIGITS][256]
    cdef Py_ssize_t late[256]
    cdef Py_ssize_t *count
    cdef uint64_t *src = a
    cdef uint64_t *dst = tmp
    cdef uint64_t *swap_
    if n < 32:
        for i in range(1, n):
            x = a[i]
            j = i - 1
            while j >= 0 and (a[j] >> shift) > (x >> shift):
                a[j + 1] = a[j]
                j -= 1
            a[j + 1] = x
        return
    memset(early, 0, sizeof(early))
    for i in range(n):
        x = a[i]
        largest |= x
        x >>= shift
        early[0][x & 255] += 1
        early[1][(x >> 8) & 255] += 1
        early[2][(x >> 16) & 255] += 1
    while shift < 64 and (largest >> shift) > 0:
        if digit < EARLY_DIGITS:
            count = early[digit]
        else:
            count = late
            memset(late, 0, sizeof(late))
            for i in range(n):
                late[(src[i] >> shift) & 255] += 1
        if count[(src[0] >> shift) & 255] != n:
            total = 0
            for b in range(256):
                c = count[b]
                count[b] = total
                total += c
            for i in range(n):
                b = (src[i] >> shift) & 255
                dst[count[b]] = src[i]
                count[b] += 1
            swap_ = src
            src = dst
            dst = swap_
        shift += 8
        digit += 1
    if src != a:
        memcpy(a, src, n * sizeof(uint64_t))


cdef enum:
    SPREAD_SORT_MAX = 1024   # most keys spread_sort takes (more: radix_sort)


cdef void spread_sort(uint64_t *a, uint64_t *tmp, Py_ssize_t n) noexcept nogil:
    """Sort ``a[:n]`` (``n <= SPREAD_SORT_MAX``) of keys spread evenly over their range.

    One counting pass files the keys into about ``2 n`` buckets by their top
    bits; insertion sort then only has the few keys sharing a bucket to order.
    Fit for hashed keys; ids, which crowd at the small end, are not spread.
    ``tmp`` holds at least ``n`` values (scratch).
    """
    cdef uint16_t count[2 * SPREAD_SORT_MAX + 1]
    cdef uint64_t largest = 0, x
    cdef Py_ssize_t i, j, b, n_buckets
    cdef int shift, bits
    for i in range(n):
        largest |= a[i]
    bits = 64 - __builtin_clzll(<unsigned long long>n)   # 2**bits buckets, 2**bits > n
    shift = 64 - __builtin_clzll(largest | 1) - bits
    if shift < 0:
        shift = 0
    n_buckets = <Py_ssize_t>(largest >> shift) + 1
    memset(count, 0, (n_buckets + 1) * sizeof(uint16_t))
    for i in range(n):
        count[(a[i] >> shift) + 1] += 1
    for b in range(1, n_buckets + 1):
        count[b] += count[b - 1]
    for i in range(n):
        b = <Py_ssize_t>(a[i] >> shift)
        tmp[count[b]] = a[i]
        count[b] += 1
    for i in range(n):
        x = tmp[i]
        j = i - 1
        while j >= 0 and a[j] > x:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = x


cdef void sort_keys(Scratch *w, bint spread) noexcept nogil:
    """Sort ``w.keys`` (non-negative, a document's worth) in increasing order;
    ``spread``: they are hashes, spread evenly over their range (``spread_sort``)."""
    cdef Py_ssize_t n = <Py_ssize_t>w.keys.len
    if n >= 32:
        w.keys_tmp.resize(n)
    if spread and 32 <= n <= SPREAD_SORT_MAX:
        spread_sort(<uint64_t *>w.keys.ptr, <uint64_t *>w.keys_tmp.data(), n)
    else:
        radix_sort(<uint64_t *>w.keys.ptr, <uint64_t *>w.keys_tmp.data(), n, 0)


cdef void collapse_spaces(const cp_t *s, Py_ssize_t n, vector[cp_t] &out) noexcept nogil:
    """re.sub(r"\\s\\s+", " ", s): runs of 2+ white-space become one space."""
    out.resize(n)
    cdef Py_ssize_t i = 0, j, k = 0
    cdef cp_t *o = out.data()
    while i < n:
        if is_space(s[i]):
            j = i + 1
            while j < n and is_space(s[j]):
                j += 1
            if j - i >= 2:
                o[k] = 32
            else:
                o[k] = s[i]
            k += 1
            i = j
        else:
            o[k] = s[i]
            k += 1
            i += 1
    out.resize(k)


cdef inline void _push_token(const cp_t *s, Py_ssize_t start, Py_ssize_t end,
                             int min_token_len, TermTable stop, Scratch *w) noexcept nogil:
    if end - start >= min_token_len:
        if stop is None or stop.lookup(s + start, end - start) < 0:
            w.spans.push(start)
            w.spans.push(end - start)


cdef void word_spans(const cp_t *s, Py_ssize_t n, const uint64_t *mask, int min_token_len,
                     TermTable stop, Scratch *w) noexcept nogil:
    """``w.spans`` := (start, length) of the maximal runs of word code points, in order,
    at least ``min_token_len`` long and not in ``stop``.

    ``mask`` classifies the code points, 64 to a word (``load_doc``'s
    ``w.mask``): the token edges are each word's 0->1 and 1->0 transitions, visited lowest first
    (they alternate start, end, start, ...). Bits past ``n`` are zero, so a
    token running to the end of a partial block ends there; one running to
    the end of a full last block is closed after the loop.
    """
    cdef Py_ssize_t base = 0, start = 0, pos
    cdef uint64_t m, edges, carry = 0
    w.spans.clear()
    while base < n:
        m = mask[base >> 6]
        edges = m ^ ((m << 1) | carry)
        while edges:
            pos = base + __builtin_ctzll(edges)
            if (m >> (pos - base)) & 1:
                start = pos
            else:
                _push_token(s, start, pos, min_token_len, stop, w)
            edges &= edges - 1
        carry = m >> 63
        base += 64
    if carry:
        _push_token(s, start, n, min_token_len, stop, w)


cdef enum:
    PREFETCH_AHEAD = 12   # table slots requested ahead of the token being looked up


cdef void emit_tokens(const cp_t *s, const int64_t *spans, Py_ssize_t n_tok, Params *p,
                      TermTable table, Scratch *w) noexcept nogil:
    """``emit`` every token (unigram) of ``spans`` into a table sink; ``s`` is
    readable for ``SHORT_TERM`` code points past its last token (``load_doc``'s pad).

    Hashes first, then the lookups, each one's slot requested ``PREFETCH_AHEAD``
    tokens early: a large vocabulary's slots are cache misses, and this way
    several are in flight at once instead of one after another.
    """
    cdef Py_ssize_t k
    cdef uint64_t *h
    w.hashes.resize(n_tok)
    h = w.hashes.data()
    for k in range(n_tok):
        if spans[2 * k + 1] <= SHORT_TERM:   # most tokens: s is padded past the last
            h[k] = short_term_hash(s + spans[2 * k], spans[2 * k + 1])
        else:
            h[k] = term_hash(s + spans[2 * k], spans[2 * k + 1])
        if k < PREFETCH_AHEAD:
            table.prefetch(h[k])
    for k in range(n_tok):
        if k + PREFETCH_AHEAD < n_tok:
            table.prefetch(h[k + PREFETCH_AHEAD])
        emit_hashed(s + spans[2 * k], spans[2 * k + 1], h[k], p, table, w)


cdef void analyze_doc(const cp_t *s, Py_ssize_t n, Params *p, TermTable table,
                      TermTable stop, Scratch *w) noexcept nogil:
    """Emit the terms of the ``n`` code points ``s`` (``w.doc``: ``SHORT_TERM``
    readable code points follow them) in scikit-learn's order."""
    cdef Py_ssize_t i, j, k, start, n_tok, gram, length, pos, w_len, offset
    cdef const int64_t *spans
    cdef cp_t *t
    if p.analyzer == WORD:
        word_spans(s, n, w.mask.data(), p.min_token_len, stop, w)
        if w.spans.failed:
            w.keys.failed = True   # out of memory: the driver raises
            return
        n_tok = <Py_ssize_t>w.spans.len // 2
        spans = w.spans.ptr
        gram = p.min_n
        if gram == 1:
            if p.sink == SINK_HASH:
                for k in range(n_tok):
                    emit(s + spans[2 * k], spans[2 * k + 1], p, table, w)
            else:
                emit_tokens(s, spans, n_tok, p, table, w)
            gram = 2
        while gram <= p.max_n and gram <= n_tok:
            for k in range(n_tok - gram + 1):
                length = gram - 1
                for j in range(gram):
                    length += spans[2 * (k + j) + 1]
                if <Py_ssize_t>w.term.size() < length:
                    w.term.resize(length)
                t = w.term.data()
                pos = 0
                for j in range(gram):
                    if j:
                        t[pos] = 32
                        pos += 1
                    memcpy(t + pos, s + spans[2 * (k + j)],
                           spans[2 * (k + j) + 1] * sizeof(cp_t))
                    pos += spans[2 * (k + j) + 1]
                emit(t, length, p, table, w)
            gram += 1
    elif p.analyzer == CHAR:
        collapse_spaces(s, n, w.norm)
        t = w.norm.data()
        length = <Py_ssize_t>w.norm.size()
        gram = p.min_n
        while gram <= p.max_n and gram <= length:
            for i in range(length - gram + 1):
                emit(t + i, gram, p, table, w)
            gram += 1
    else:  # CHAR_WB
        collapse_spaces(s, n, w.norm)
        length = <Py_ssize_t>w.norm.size()
        i = 0
        while i < length:
            if is_space(w.norm[i]):
                i += 1
                continue
            start = i
            while i < length and not is_space(w.norm[i]):
                i += 1
            w_len = i - start + 2
            if <Py_ssize_t>w.term.size() < w_len:
                w.term.resize(w_len)
            t = w.term.data()
            t[0] = 32
            memcpy(t + 1, w.norm.data() + start, (i - start) * sizeof(cp_t))
            t[w_len - 1] = 32
            for gram in range(p.min_n, <Py_ssize_t>p.max_n + 1):
                offset = 0
                emit(t, gram if gram < w_len else w_len, p, table, w)
                while offset + gram < w_len:
                    offset += 1
                    emit(t + offset, gram, p, table, w)
                if offset == 0:
                    break


# ---------------------------------------------------------------------------
# Batch drivers
# ---------------------------------------------------------------------------

def all_str(list docs):
    """True when every item of ``docs`` is exactly a ``str`` (no subclass)."""
    cdef object d
    for d in docs:
        if type(d) is not str:
            return False
    return True


cdef class _Docs:
    """Raw pointers to a list of str, valid while this object is alive."""
    cdef vector[int] kinds
    cdef vector[const void *] data
    cdef vector[Py_ssize_t] lengths
    cdef list keep

    def __cinit__(self, list docs):
        cdef object d
        self.keep = list(docs)
        for d in self.keep:
            if type(d) is not str:
                raise TypeError(f"expected str documents, got {type(d).__name__}")
            self.kinds.push_back(PyUnicode_KIND(d))
            self.data.push_back(PyUnicode_DATA(d))
            self.lengths.push_back(PyUnicode_GET_LENGTH(d))


ctypedef fused unit_t:   # one code point of a str buffer, by its kind
    uint8_t
    uint16_t
    uint32_t


cdef bint _map_doc(const unit_t *src, Py_ssize_t n, const uint32_t *bmp, bint lower,
                   cp_t *out, uint64_t *mask) noexcept nogil:
    """``out[i]`` := ``src[i]`` through ``bmp`` (``BMP_AS_IS`` or ``BMP_AS_LOWER``;
    ``lower`` says which, for the planes above the BMP); ``mask`` (unless NULL):
    their word bits, 64 to a word (``Scratch.mask``). ``out`` may be ``src``.

    Returns whether ``bmp`` marked a code point ``SPECIAL``.
    """
    cdef Py_ssize_t base, i, end
    cdef uint64_t m
    cdef uint32_t e, seen = 0
    cdef cp_t c
    for base in range(0, n, 64):
        end = n if n - base < 64 else base + 64
        m = 0
        for i in range(base, end):
            c = src[i]
            if unit_t is uint32_t and c >= 65536:
                if lower:
                    c = Py_UNICODE_TOLOWER(c)
                e = c | (<uint32_t>(Py_UNICODE_ISALNUM(c) != 0) << WORD_BIT)
            else:
                e = bmp[c]
            seen |= e
            out[i] = e & CP_BITS
            m |= <uint64_t>(e >> WORD_BIT) << (i - base)
        if mask != NULL:
            mask[base >> 6] = m
    return (seen & SPECIAL) != 0


cdef void load_doc(_Docs docs, Py_ssize_t d, bint lower, bint classify,
                   Scratch *w) noexcept nogil:
    """Code points of document ``d`` into ``w.doc``, lower-cased like ``str.lower`` if asked,
    then ``SHORT_TERM`` zeros; their number into ``w.n_doc``; with ``classify``,
    their word bits into ``w.mask`` (the WORD analyzer's input).

    One pass over the string's own buffer, whatever its kind. CPython's
    simple lower-case mapping equals ``str.lower`` except for U+0130 (two
    code points) and U+03A3 (the final-sigma rule): a document holding
    either is lower-cased by ``str.lower`` itself (``_python_lower``).
    """
    cdef Py_ssize_t n = docs.lengths[d]
    cdef int kind = docs.kinds[d]
    cdef const void *data = docs.data[d]
    cdef const uint32_t *bmp = &BMP_AS_LOWER[0] if lower else &BMP_AS_IS[0]
    cdef uint64_t *mask = NULL
    cdef bint special
    w.doc.resize(n + SHORT_TERM)
    w.n_doc = n
    memset(w.doc.data() + n, 0, SHORT_TERM * sizeof(cp_t))
    if classify:
        w.mask.resize(n // 64 + 1)
        mask = w.mask.data()
    elif not lower:
        _widen(kind, data, n, w.doc.data())
        return
    if kind == 1:
        special = _map_doc(<const uint8_t *>data, n, bmp, lower, w.doc.data(), mask)
    elif kind == 2:
        special = _map_doc(<const uint16_t *>data, n, bmp, lower, w.doc.data(), mask)
    else:
        special = _map_doc(<const uint32_t *>data, n, bmp, lower, w.doc.data(), mask)
    if lower and special:
        _python_lower(docs, d, w)
        if classify:
            n = w.n_doc
            w.mask.resize(n // 64 + 1)
            _map_doc(<const uint32_t *>w.doc.data(), n, BMP_AS_IS, False, w.doc.data(),
                     w.mask.data())


cdef void _python_lower(_Docs docs, Py_ssize_t d, Scratch *w) noexcept with gil:
    """``w.doc`` := the code points of ``str.lower`` of document ``d`` (rare: takes the GIL)."""
    cdef str low
    cdef Py_ssize_t n
    try:
        low = docs.keep[d].lower()
    except BaseException:   # MemoryError, KeyboardInterrupt: the driver raises
        w.keys.failed = True
        return
    n = PyUnicode_GET_LENGTH(low)
    w.doc.resize(n + SHORT_TERM)
    w.n_doc = n
    _widen(PyUnicode_KIND(low), PyUnicode_DATA(low), n, w.doc.data())
    memset(w.doc.data() + n, 0, SHORT_TERM * sizeof(cp_t))


cdef Params make_params(int analyzer, int min_n, int max_n, int min_token_len, int sink,
                        int64_t n_features, bint alternate_sign) except *:
    if analyzer not in (WORD, CHAR, CHAR_WB):
        raise ValueError(f"unknown analyzer code {analyzer}")
    if min_n < 1 or max_n < min_n:
        raise ValueError(f"invalid ngram_range ({min_n}, {max_n})")
    if min_token_len < 1:
        raise ValueError("min_token_len must be >= 1")
    if sink == SINK_HASH and not 1 <= n_features <= 2147483647:
        raise ValueError("n_features must be in [1, 2**31 - 1]")
    cdef Params p
    p.analyzer = analyzer
    p.min_n = min_n
    p.max_n = max_n
    p.min_token_len = min_token_len
    p.sink = sink
    p.n_features = n_features
    p.alternate_sign = alternate_sign
    p.pow2_features = n_features > 0 and (n_features & (n_features - 1)) == 0
    return p


def count(list docs, TermTable table not None, bint grow, int analyzer, int min_n, int max_n,
          int min_token_len=2, TermTable stop=None, bint lower=False, bint wide=False):
    """Count the terms of each document.

    Parameters
    ----------
    docs : list of str, preprocessed documents (``lower``: lower-case them here,
        exactly as ``str.lower`` would).
    table : TermTable; with ``grow`` unseen terms are added to it (ids in
        order of first appearance), otherwise they are skipped.
    wide : write the counts as int64 (the vectorizers' default dtype) instead of int32.

    Returns
    -------
    indptr : int64 (n_docs + 1,)
    indices : int32 (nnz,), term ids, increasing within each document
    counts : int32 (nnz,), int64 with ``wide``
    """
    cdef Params p = make_params(analyzer, min_n, max_n, min_token_len,
                                SINK_GROW if grow else SINK_LOOKUP, 0, False)
    cdef _Docs ds = _Docs(docs)
    cdef Py_ssize_t n_docs = len(docs), d, k, nk
    cdef PodVec[int64_t] indptr
    cdef PodVec[int32_t] indices
    cdef PodVec[int32_t] counts
    cdef PodVec[int64_t] counts64
    cdef Scratch w
    cdef int64_t key
    cdef const int64_t *keys
    cdef int32_t run
    cdef bint failed = not indptr.reserve(n_docs + 1)
    if not failed:
        indptr.push(0)
    with nogil:
        for d in range(n_docs if not failed else 0):
            load_doc(ds, d, lower, p.analyzer == WORD, &w)
            w.keys.clear()
            analyze_doc(w.doc.data(), w.n_doc, &p, table, stop, &w)
            nk = <Py_ssize_t>w.keys.len
            sort_keys(&w, False)
            keys = w.keys.ptr
            k = 0
            while k < nk:
                key = keys[k]
                run = 1
                k += 1
                while k < nk and keys[k] == key:
                    run += 1
                    k += 1
                indices.push(<int32_t>key)
                if wide:
                    counts64.push(run)
                else:
                    counts.push(run)
            indptr.push(<int64_t>indices.len)
            if w.keys.failed or indices.failed or counts.failed or counts64.failed:
                failed = True
                break
    if failed:
        raise MemoryError("out of memory while counting terms")
    return (_owned_array(indptr), _owned_array(indices),
            _owned_array(counts64) if wide else _owned_array(counts))


cdef double SIGNS[2]
SIGNS[0] = 1.0
SIGNS[1] = -1.0


def hash_counts(list docs, int64_t n_features, bint alternate_sign, int analyzer,
                int min_n, int max_n, int min_token_len=2, TermTable stop=None, bint lower=False,
                bint binary=False, int norm=0):
    """Hash the terms of each document (scikit-learn's HashingVectorizer semantics).

    Rows are weighed by ``_weighting.weigh_row`` (``binary``, then ``norm``, a
    ``_weighting.NORMS`` code) while they are hot in cache.

    Returns
    -------
    indptr : int64 (n_docs + 1,)
    indices : int32 (nnz,), increasing within each document
    values : float64 (nnz,), summed signs (explicit zeros kept, as scikit-learn does)
    """
    cdef RowWeighting weighting = row_weighting(binary, False, None, norm)
    cdef Params p = make_params(analyzer, min_n, max_n, min_token_len, SINK_HASH,
                                n_features, alternate_sign)
    cdef _Docs ds = _Docs(docs)
    cdef Py_ssize_t n_docs = len(docs), d = 0, k, nk
    cdef PodVec[int64_t] indptr
    cdef PodVec[int32_t] indices
    cdef PodVec[double] values
    cdef Scratch w
    cdef int64_t key
    cdef const int64_t *keys
    cdef double v
    cdef bint failed = not indptr.reserve(n_docs + 1)
    w.bad_surrogate = False
    if not failed:
        indptr.push(0)
    with nogil:
        for d in range(n_docs if not failed else 0):
            load_doc(ds, d, lower, p.analyzer == WORD, &w)
            w.keys.clear()
            analyze_doc(w.doc.data(), w.n_doc, &p, None, stop, &w)
            if w.bad_surrogate:
                break
            nk = <Py_ssize_t>w.keys.len
            sort_keys(&w, True)
            keys = w.keys.ptr
            k = 0
            while k < nk:
                key = keys[k] >> 1
                v = 0.0
                while k < nk and (keys[k] >> 1) == key:
                    v += SIGNS[keys[k] & 1]
                    k += 1
                indices.push(<int32_t>key)
                values.push(v)
            if w.keys.failed or indices.failed or values.failed:
                failed = True
                break
            if binary or norm:
                weigh_row(indices.ptr + indptr.ptr[indptr.len - 1],
                          values.ptr + indptr.ptr[indptr.len - 1],
                          values.len - indptr.ptr[indptr.len - 1], &weighting)
            indptr.push(<int64_t>indices.len)
    if failed:
        raise MemoryError("out of memory while hashing terms")
    if w.bad_surrogate:
        raise UnicodeEncodeError("utf-8", docs[d], 0, len(docs[d]),
                                 "surrogates not allowed")
    return _owned_array(indptr), _owned_array(indices), _owned_array(values)


cdef cppclass RowScratch:
    # gathered rows, one after another: each row's columns (increasing) and values
    PodVec[int32_t] cols
    PodVec[double] vals


cdef inline void _gather_counts(const int64_t *keys, Py_ssize_t n, RowScratch *row) noexcept nogil:
    """Sorted column keys -> (column, multiplicity) pairs."""
    cdef Py_ssize_t k = 0
    cdef int64_t key
    cdef double a
    while k < n:
        key = keys[k]
        a = 0.0
        while k < n and keys[k] == key:
            a += 1.0
            k += 1
        row.cols.push(<int32_t>key)
        row.vals.push(a)


cdef inline void _gather_signs(const int64_t *keys, Py_ssize_t n, RowScratch *row) noexcept nogil:
    """Sorted hash keys (index * 2 + negative sign) -> (index, summed signs) pairs, zeros kept."""
    cdef Py_ssize_t k = 0
    cdef int64_t key
    cdef double v
    while k < n:
        key = keys[k] >> 1
        v = 0.0
        while k < n and (keys[k] >> 1) == key:
            v += SIGNS[keys[k] & 1]
            k += 1
        row.cols.push(<int32_t>key)
        row.vals.push(v)


cdef enum:
    # documents whose rows linear_scores gathers before scoring them
    SCORE_BLOCK = 256
    # classes summed in a local accumulator (the compiler keeps it apart from the
    # weights, so the per-class loop vectorises); more classes sum into ``out`` itself
    ACC_CLASSES = 64
    # weight rows requested ahead of the one being summed
    PREFETCH_ROWS = 16


cdef inline void _prefetch_row(const double *wrow, Py_ssize_t n_cls) noexcept nogil:
    """Start loading every cache line of a weight row (``n_cls`` doubles)."""
    cdef Py_ssize_t c
    for c in range(0, n_cls, 8):
        __builtin_prefetch(wrow + c)
    __builtin_prefetch(wrow + n_cls - 1)


cdef void _score_rows(double *out, const int32_t *cols, const double *vals,
                      const int64_t *starts, Py_ssize_t n_rows, const double *weights,
                      Py_ssize_t n_cls, bint round32, bint use_threshold,
                      double threshold) noexcept nogil:
    """``out[b] += x_b @ weights`` for gathered, weighed rows ``x_b`` (row ``b`` holds
    the ``starts[b]:starts[b + 1]`` entries of ``cols``, increasing, and ``vals``),
    each summed in its column order.

    The weight rows are scattered over a large matrix: the one needed
    ``PREFETCH_ROWS`` entries later, across row boundaries, is requested while an
    entry is summed, so several are in flight at once.
    ``round32``: each value is first rounded to float32 (the vectorizer's dtype);
    ``use_threshold``: then a value becomes 1 if ``> threshold``, else is dropped
    (BernoulliNB's binarization, which eliminates the zeros it makes).  Every class
    is summed in the same order on every path (the row's column order).
    """
    cdef Py_ssize_t b, j, c, end
    cdef Py_ssize_t total = <Py_ssize_t>starts[n_rows]
    cdef double a
    cdef const double *wrow
    cdef double *o
    cdef double acc[ACC_CLASSES]
    cdef bint plain = n_cls <= ACC_CLASSES and not round32 and not use_threshold
    for j in range(min(<Py_ssize_t>PREFETCH_ROWS, total)):
        _prefetch_row(weights + <Py_ssize_t>cols[j] * n_cls, n_cls)
    for b in range(n_rows):
        o = out + b * n_cls
        end = <Py_ssize_t>starts[b + 1]
        if plain:
            for c in range(n_cls):
                acc[c] = o[c]
            for j in range(<Py_ssize_t>starts[b], end):
                if j + PREFETCH_ROWS < total:
                    _prefetch_row(weights + <Py_ssize_t>cols[j + PREFETCH_ROWS] * n_cls, n_cls)
                a = vals[j]
                wrow = weights + <Py_ssize_t>cols[j] * n_cls
                for c in range(n_cls):
                    acc[c] += a * wrow[c]
            for c in range(n_cls):
                o[c] = acc[c]
            continue
        for j in range(<Py_ssize_t>starts[b], end):
            if j + PREFETCH_ROWS < total:
                _prefetch_row(weights + <Py_ssize_t>cols[j + PREFETCH_ROWS] * n_cls, n_cls)
            a = vals[j]
            if round32:
                a = <double>(<float>a)
            if use_threshold:
                if a > threshold:
                    a = 1.0
                else:
                    continue
            wrow = weights + <Py_ssize_t>cols[j] * n_cls
            for c in range(n_cls):   # classes are independent: SIMD keeps each sum's order
                o[c] += a * wrow[c]


def linear_scores(list docs, TermTable table, const double[:, ::1] weights,
                  const int32_t[::1] column, bint binary, int analyzer, int min_n,
                  int max_n, int min_token_len=2, TermTable stop=None, bint lower=False,
                  *, int64_t n_features=0, bint alternate_sign=False, bint sublinear=False,
                  const double[::1] idf=None, int norm=NORM_NONE, bint float32=False,
                  threshold=None):
    """Per-document ``x @ weights`` without building the document-term matrix.

    Each document's row ``x`` is what a vectorizer would store for it, then
    multiplied into ``weights`` (float64, C-contiguous (n_columns, n_classes)):

    1. the terms give columns and values: with a ``table``, term ``tid`` counts
       once in column ``column[tid]`` (``column[tid] < 0``: the term is dropped);
       with ``table=None``, hashing: column ``|murmurhash3(term)| % n_features``
       (scikit-learn's HashingVectorizer; ``column`` must be None and
       ``n_features`` equal ``n_columns``), value the summed signs (+1, or -1 for
       a negative hash with ``alternate_sign``), zeros kept;
    2. the row is weighed by ``_weighting.weigh_row``: ``binary``, ``sublinear``,
       ``idf`` (one float64 weight per column, or None), ``norm`` (a
       ``_weighting.NORMS`` code);
    3. ``float32``: values are rounded to float32 (the vectorizer's output dtype);
    4. ``threshold`` (not None): values ``> threshold`` become 1, the others are
       dropped (BernoulliNB's ``binarize``);
    5. products are summed in increasing column order, stored zeros included,
       exactly as a CSR-times-dense product does.

    Returns float64 (n_docs, n_classes).
    """
    cdef bint hashing = table is None
    cdef Params p = make_params(analyzer, min_n, max_n, min_token_len,
                                SINK_HASH if hashing else SINK_LOOKUP, n_features,
                                alternate_sign)
    cdef Py_ssize_t n_out = weights.shape[0], n_cls = weights.shape[1]
    cdef Py_ssize_t tid
    if hashing:
        if column is not None:
            raise ValueError("a column map applies to a term table only, not to hashing")
        if n_features != n_out:
            raise ValueError(f"n_features={n_features} but the weight matrix has {n_out} rows")
    else:
        if column is None:
            raise ValueError("a term table needs a column map")
        if column.shape[0] != table.size():
            raise ValueError("column map must have one entry per table term")
        for tid in range(column.shape[0]):
            if column[tid] >= n_out:
                raise ValueError("column map points past the weight matrix")
    if idf is not None and idf.shape[0] != n_out:
        raise ValueError(f"idf has {idf.shape[0]} weights for {n_out} columns")
    cdef RowWeighting weighting = row_weighting(binary, sublinear, idf, norm)
    cdef bint weigh = not weighting_is_identity(&weighting)
    cdef bint use_threshold = threshold is not None
    cdef double thr = <double>threshold if use_threshold else 0.0
    cdef _Docs ds = _Docs(docs)
    cdef Py_ssize_t n_docs = len(docs), d = 0, d0, d1, b, k, nk, c, start, n_row
    cdef cnp.ndarray[double, ndim=2] out = np.zeros((n_docs, n_cls), dtype=np.float64)
    cdef double[:, ::1] ov = out
    cdef Scratch w
    cdef RowScratch rows  # the gathered rows of a block of documents, one after another
    cdef PodVec[int64_t] starts  # where each of them starts in ``rows``, then the end
    cdef int64_t key
    cdef bint failed = False
    w.bad_surrogate = False
    if n_docs == 0 or n_cls == 0:
        return out
    with nogil:
        # documents a block at a time: first every row of the block (the term table
        # hot in cache), then their products with the weights (the weight rows hot)
        d1 = 0
        while d1 < n_docs:
            d0 = d1
            d1 = min(d0 + SCORE_BLOCK, n_docs)
            rows.cols.clear()
            rows.vals.clear()
            starts.clear()
            for d in range(d0, d1):
                load_doc(ds, d, lower, p.analyzer == WORD, &w)
                w.keys.clear()
                analyze_doc(w.doc.data(), w.n_doc, &p, table, stop, &w)
                if w.bad_surrogate or w.keys.failed:
                    break
                nk = <Py_ssize_t>w.keys.len
                if not hashing:
                    # translate term ids to output columns, dropping pruned terms
                    nk = 0
                    for k in range(<Py_ssize_t>w.keys.len):
                        key = column[w.keys.ptr[k]]
                        if key >= 0:
                            w.keys.ptr[nk] = key
                            nk += 1
                    w.keys.len = nk
                sort_keys(&w, hashing)
                start = <Py_ssize_t>rows.cols.len
                starts.push(start)
                if hashing:
                    _gather_signs(w.keys.ptr, nk, &rows)
                else:
                    _gather_counts(w.keys.ptr, nk, &rows)
                if weigh:
                    weigh_row(rows.cols.ptr + start, rows.vals.ptr + start,
                              <Py_ssize_t>rows.cols.len - start, &weighting)
            starts.push(<int64_t>rows.cols.len)
            if w.bad_surrogate:
                break
            if w.keys.failed or rows.cols.failed or rows.vals.failed or starts.failed:
                failed = True
                break
            _score_rows(&ov[d0, 0], rows.cols.ptr, rows.vals.ptr, starts.ptr, d1 - d0,
                        &weights[0, 0], n_cls, float32, use_threshold, thr)
    if failed:
        raise MemoryError("out of memory while scoring documents")
    if w.bad_surrogate:
        raise UnicodeEncodeError("utf-8", docs[d], 0, len(docs[d]),
                                 "surrogates not allowed")
    return out


cdef class _Owned:
    """Hands a kernel's ``malloc`` output block to NumPy without copying it.

    ``np.asarray`` of this object views the block (``code``: 'i' int32,
    'q' int64, 'd' float64) and keeps it alive; the block is freed with it.
    """
    cdef void *ptr
    cdef char code
    cdef Py_ssize_t itemsize
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]

    def __getbuffer__(self, Py_buffer *buf, int flags):
        buf.buf = self.ptr
        buf.format = 'i' if self.code == b'i' else ('q' if self.code == b'q' else 'd')
        self.strides[0] = self.itemsize
        buf.obj = self
        buf.len = self.shape[0] * self.itemsize
        buf.itemsize = self.itemsize
        buf.ndim = 1
        buf.readonly = 0
        buf.shape = self.shape
        buf.strides = self.strides
        buf.suboffsets = NULL
        buf.internal = NULL

    def __releasebuffer__(self, Py_buffer *buf):
        pass

    def __dealloc__(self):
        free(self.ptr)


ctypedef fused pod_t:
    int32_t
    int64_t
    double


cdef _owned_array(PodVec[pod_t] &v):
    """The values of ``v`` as a 1-d NumPy array that takes over its block (``v`` is emptied)."""
    if v.len == 0:
        v.clear()
        if pod_t is int32_t:
            return np.empty(0, dtype=np.int32)
        elif pod_t is int64_t:
            return np.empty(0, dtype=np.int64)
        else:
            return np.empty(0, dtype=np.float64)
    v.shrink()
    cdef _Owned o = _Owned()
    o.shape[0] = <Py_ssize_t>v.len
    o.itemsize = sizeof(pod_t)
    if pod_t is int32_t:
        o.code = b'i'
    elif pod_t is int64_t:
        o.code = b'q'
    else:
        o.code = b'd'
    o.ptr = <void *>v.release()
    return np.asarray(o)


ctypedef fused out_index_t:
    int32_t
    int64_t

ctypedef fused out_value_t:
    int32_t
    int64_t
    float
    double


def place_rows(const int64_t[::1] indptr, const int32_t[::1] indices, const int32_t[::1] counts,
               Py_ssize_t row_lo, Py_ssize_t row_hi, out_index_t[::1] out_indices,
               out_value_t[::1] out_values, int64_t out_offset,
               const int32_t[::1] order=None, const int32_t[::1] column=None):
    """Copy rows ``row_lo:row_hi`` of a CSR piece into final output arrays, relabelling.

    Entries ``indptr[row_lo]:indptr[row_hi]`` land at ``out_offset`` onwards.
    Within each row, entries are put in increasing ``order[index]`` (``order``
    None: they stay as they are; the mapped values must be distinct within a
    row), each index becomes ``column[order[index]]`` (a missing map is the
    identity) and each count is converted to the output dtype. Runs without
    the GIL, so row ranges can be placed from several threads at once.
    """
    cdef Py_ssize_t n_rows = indptr.shape[0] - 1, r, k, a, b, n
    if n_rows < 0 or not 0 <= row_lo <= row_hi <= n_rows:
        raise ValueError("row range outside the CSR piece")
    if indices.shape[0] != counts.shape[0] or indptr[row_lo] < 0 \
            or indptr[row_hi] > indices.shape[0]:
        raise ValueError("inconsistent CSR arrays")
    for r in range(row_lo, row_hi):
        if indptr[r + 1] < indptr[r]:
            raise ValueError("indptr must be non-decreasing")
    cdef int64_t base = indptr[row_lo], n_out = indptr[row_hi] - indptr[row_lo]
    if out_indices.shape[0] != out_values.shape[0] or out_offset < 0 \
            or out_offset > out_indices.shape[0] - n_out:
        raise ValueError("output arrays too short for the rows placed")
    cdef bint reorder = order is not None, relabel = column is not None
    cdef int64_t n_order = order.shape[0] if reorder else 0
    cdef int64_t n_column = column.shape[0] if relabel else 0
    cdef int64_t idx, o
    cdef bint bad = False
    cdef vector[uint64_t] keys, tmp
    cdef int64_t dst
    with nogil:
        for r in range(row_lo, row_hi):
            a = indptr[r]
            b = indptr[r + 1]
            n = b - a
            dst = out_offset + a - base
            if reorder:
                if <Py_ssize_t>keys.size() < n:
                    keys.resize(n)
                    tmp.resize(n)
                for k in range(n):
                    idx = indices[a + k]
                    if idx < 0 or idx >= n_order or order[idx] < 0:
                        bad = True
                        break
                    keys[k] = (<uint64_t>order[idx] << 32) | <uint64_t>k
                if bad:
                    break
                radix_sort(keys.data(), tmp.data(), n, 32)
                for k in range(n):
                    o = <int64_t>(keys[k] >> 32)
                    if relabel:
                        if o < 0 or o >= n_column:
                            bad = True
                            break
                        o = column[o]
                    out_indices[dst + k] = <out_index_t>o
                    out_values[dst + k] = <out_value_t>counts[a + <Py_ssize_t>(keys[k] & 0xFFFFFFFFU)]
                if bad:
                    break
            else:
                for k in range(n):
                    o = indices[a + k]
                    if relabel:
                        if o < 0 or o >= n_column:
                            bad = True
                            break
                        o = column[o]
                    out_indices[dst + k] = <out_index_t>o
                    out_values[dst + k] = <out_value_t>counts[a + k]
                if bad:
                    break
    if bad:
        raise ValueError("index outside the relabelling maps")


def map_indices(int32_t[::1] indices, const int32_t[::1] column):
    """``indices[k] = column[indices[k]]`` in place (every index must lie inside ``column``)."""
    cdef Py_ssize_t k, n = indices.shape[0], n_column = column.shape[0]
    cdef int32_t idx
    cdef bint bad = False
    with nogil:
        for k in range(n):
            idx = indices[k]
            if idx < 0 or idx >= n_column:
                bad = True
                break
            indices[k] = column[idx]
    if bad:
        raise ValueError("index outside the relabelling map")
