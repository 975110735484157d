/*
 * nkms_secp256k1: the few secp256k1 operations the PRE library needs that the `secp256k1`
 * npm binding does not expose, as a Node-API addon over libsecp256k1 (MIT licence,
 * Copyright (c) 2013 Pieter Wuille; its sources ship in node_modules/secp256k1/src/secp256k1).
 * The library's internals are static, so its whole implementation is compiled into this file.
 *
 * Points cross the boundary as 65-byte uncompressed SEC1 encodings (04 ‖ x ‖ y), scalars as
 * 32 big-endian bytes below the group order. Every point given is checked to be on the curve.
 *
 *   mulMany(points, scalars, pairs)  scalars[j]·points[i] for each pair (i, j), constant-time
 *        in the scalars: secp256k1_ecmult_const's algorithm with a point's table built once
 *        for all its scalars; for the Umbral point U a blinded signed-digit comb
 *   mulGen(k)                  k·G, constant-time (the same comb, with a table for G)
 *   msm(points, scalars, g)    g·G + Σ kᵢ·Pᵢ, variable-time (public data only): Strauss
 *        (secp256k1_ecmult_multi_var) or, from 64 points, Pippenger with 128-bit scalars unsplit
 *   mulAddGEquals(P, a, g, R)  whether a·P + g·G = R: secp256k1_ecmult (a Strauss walk with
 *        the generator's precomputed tables), compared in Jacobian coordinates (no inversion):
 *        the capsule self-check, variable-time (public data only)
 *   decompress(points)         33-byte compressed points to 65-byte ones (null if any is invalid)
 *   ecdsaVerify(sig, msg, P)   libsecp256k1's ECDSA verification (low s only)
 *   ecdsaVerifyMany(sigs, msgs, P)  the same for many signatures by one key, with a key table
 *   ecdsaSignRecoverable(msg, d)  secp256k1_ecdsa_sign_recoverable with the default RFC 6979
 *        nonce, byte for byte, constant-time in d and the nonce (k·G by the blinded G comb)
 *   randomize(seed)            new blinding for the combs
 *
 * MIT licence, like the rest of nkms.
 */
#if defined(__GNUC__)
#define SECP256K1_API __attribute__((visibility("hidden")))
#endif
#include "secp256k1.c"

#include <node_api.h>
#include <stdlib.h>
#include <string.h>

/* U = hash_to_curve("POINT_U", DST "PARAMETERS"), the Umbral parameter point (see src/pre/curve.ts) */
static const unsigned char POINT_U[65] = {
    0x04, 0x07, 0x93, 0x90, 0xd0, 0xfb, 0xe2, 0x20, 0xfc, 0x34, 0xaa, 0xb8, 0xec, 0xbf, 0x49, 0x09, 0x80,
    0x98, 0x03, 0x68, 0x20, 0xfa, 0xdb, 0x98, 0xc0, 0x31, 0x43, 0xe5, 0x5d, 0xb8, 0xec, 0x73, 0xcd, 0x7e,
    0xa5, 0x0b, 0x21, 0x9d, 0xa8, 0x6a, 0x70, 0xe8, 0x48, 0x94, 0x13, 0xe4, 0xb9, 0x38, 0x8a, 0xfb, 0x63,
    0xac, 0x6f, 0x26, 0xe5, 0xec, 0x2c, 0xfd, 0xd9, 0x83, 0xb8, 0x3f, 0x0e, 0x84, 0xe7};

/* 1/2 mod n = (n + 1)/2 */
static const secp256k1_scalar secp256k1_comb_half = SECP256K1_SCALAR_CONST(
    0x7FFFFFFFUL, 0xFFFFFFFFUL, 0xFFFFFFFFUL, 0xFFFFFFFFUL, 0x5D576E73UL, 0x57A4501DUL, 0xDFE92F46UL, 0x681B20A1UL);

typedef struct comb_ctx_s comb_ctx;

typedef struct {
    secp256k1_context *ctx;
    comb_ctx *ucomb, *gcomb; /* fixed-base combs for U and G */
    secp256k1_scratch *scratch;
} nkms_state;

#define SCRATCH_SIZE (4u << 20)
/* below this many points Strauss (secp256k1_ecmult_multi_var) beats Pippenger */
#define MSM_PIPPENGER_MIN 64

/* ------------------------------------------------------------------------------------- */
/* constant-time fixed-base multiplication: a signed-digit comb (44 unified additions and
   3 doublings, table lookups by conditional moves), blinded like secp256k1_ecmult_gen.

   With L = COMB_BLOCKS·COMB_TEETH·COMB_SPACING ≥ 256 and v = (k + 2^L − 1)/2 mod n, whose
   bits are v_i, k = Σ_{i<L} (2·v_i − 1)·2^i (mod n): every bit is a digit ±1. Block b,
   position s gathers the bits i = (b·TEETH + j)·SPACING + s (j < TEETH) into d, and
   table[b][d] = Σ_j ±2^{(b·TEETH + j)·SPACING}·P; the table for d and its complement are
   opposite points, so half is stored and a conditional negation gives the other half.
   k·P = Σ_s 2^s Σ_b table[b][d(b, s)], accumulated from s = SPACING − 1 down with a doubling
   between positions. The blinding computes (k + β)·P − β·P for a random β: the walk starts
   from −(β/2^(SPACING−1))·P in randomized projective coordinates. */

#define COMB_BLOCKS 11
#define COMB_TEETH 6
#define COMB_SPACING 4
#define COMB_BITS (COMB_BLOCKS * COMB_TEETH * COMB_SPACING)
#define COMB_POINTS (1 << (COMB_TEETH - 1))

struct comb_ctx_s {
    secp256k1_ge_storage table[COMB_BLOCKS][COMB_POINTS];
    secp256k1_scalar offset; /* (2^L − 1)/2 mod n */
    secp256k1_scalar blind;  /* β */
    secp256k1_gej initial;   /* −(β/2^(SPACING−1))·P */
};

static void comb_mul(const comb_ctx *c, secp256k1_gej *r, const secp256k1_scalar *k) {
    secp256k1_scalar v;
    secp256k1_ge add;
    secp256k1_ge_storage adds;
    secp256k1_fe neg_y;
    int b, s, j, m;
    memset(&adds, 0, sizeof(adds));
    /* v = (k + β)/2 + (2^L − 1)/2 = (k + β + 2^L − 1)/2 */
    secp256k1_scalar_add(&v, k, &c->blind);
    secp256k1_scalar_mul(&v, &v, &secp256k1_comb_half);
    secp256k1_scalar_add(&v, &v, &c->offset);
    *r = c->initial;
    for (s = COMB_SPACING - 1; s >= 0; s--) {
        if (s != COMB_SPACING - 1) secp256k1_gej_double_nonzero(r, r, NULL);
        for (b = 0; b < COMB_BLOCKS; b++) {
            unsigned int d = 0, sign, idx;
            for (j = 0; j < COMB_TEETH; j++) {
                int bit = (b * COMB_TEETH + j) * COMB_SPACING + s; /* a public position */
                if (bit < 256) d |= secp256k1_scalar_get_bits(&v, bit, 1) << j;
            }
            /* top tooth 0: the complement's entry, negated */
            sign = ((d >> (COMB_TEETH - 1)) & 1) ^ 1;
            idx = (d ^ (0u - sign)) & (COMB_POINTS - 1);
            for (m = 0; m < COMB_POINTS; m++) secp256k1_ge_storage_cmov(&adds, &c->table[b][m], (unsigned int)m == idx);
            secp256k1_ge_from_storage(&add, &adds);
            secp256k1_fe_negate(&neg_y, &add.y, 1);
            secp256k1_fe_cmov(&add.y, &neg_y, sign);
            secp256k1_gej_add_ge(r, r, &add);
            d = sign = idx = 0;
        }
    }
    secp256k1_scalar_clear(&v);
    memset(&adds, 0, sizeof(adds));
    secp256k1_ge_clear(&add);
}

/* the table for base P (public; variable-time is fine here) */
static int comb_build(comb_ctx *c, const secp256k1_ge *base) {
    secp256k1_gej *pow2 = (secp256k1_gej *)malloc(COMB_BITS * sizeof(secp256k1_gej));
    secp256k1_gej *tj = (secp256k1_gej *)malloc(COMB_BLOCKS * COMB_POINTS * sizeof(secp256k1_gej));
    secp256k1_ge *t = (secp256k1_ge *)malloc(COMB_BLOCKS * COMB_POINTS * sizeof(secp256k1_ge));
    int i, b, j, m;
    if (pow2 == NULL || tj == NULL || t == NULL) {
        free(pow2);
        free(tj);
        free(t);
        return 0;
    }
    secp256k1_gej_set_ge(&pow2[0], base);
    for (i = 1; i < COMB_BITS; i++) secp256k1_gej_double_var(&pow2[i], &pow2[i - 1], NULL);
    for (b = 0; b < COMB_BLOCKS; b++) {
        secp256k1_gej *row = tj + b * COMB_POINTS;
        /* d = 100000b: + top tooth, − every other tooth */
        row[0] = pow2[(b * COMB_TEETH + COMB_TEETH - 1) * COMB_SPACING];
        for (j = 0; j < COMB_TEETH - 1; j++) {
            secp256k1_gej neg;
            secp256k1_gej_neg(&neg, &pow2[(b * COMB_TEETH + j) * COMB_SPACING]);
            secp256k1_gej_add_var(&row[0], &row[0], &neg, NULL);
        }
        /* setting tooth j's bit turns −2^e into +2^e: add 2·2^e = 2^(e+1) */
        for (m = 1; m < COMB_POINTS; m++) {
            int top = 0;
            while ((m >> (top + 1)) != 0) top++;
            secp256k1_gej_add_var(&row[m], &row[m & ~(1 << top)], &pow2[(b * COMB_TEETH + top) * COMB_SPACING + 1], NULL);
        }
    }
    secp256k1_ge_set_all_gej_var(t, tj, COMB_BLOCKS * COMB_POINTS);
    for (b = 0; b < COMB_BLOCKS; b++)
        for (m = 0; m < COMB_POINTS; m++) secp256k1_ge_to_storage(&c->table[b][m], &t[b * COMB_POINTS + m]);
    free(pow2);
    free(tj);
    free(t);
    {
        /* offset = (2^L − 1)/2 mod n, from 2^L − 1 = Σ 2^i */
        secp256k1_scalar one, acc, two_i;
        secp256k1_scalar_set_int(&acc, 0);
        secp256k1_scalar_set_int(&one, 1);
        two_i = one;
        for (i = 0; i < COMB_BITS; i++) {
            secp256k1_scalar_add(&acc, &acc, &two_i);
            secp256k1_scalar_add(&two_i, &two_i, &two_i);
        }
        secp256k1_scalar_mul(&c->offset, &acc, &secp256k1_comb_half);
    }
    /* unblinded until comb_blind: β = 0, initial = infinity */
    secp256k1_scalar_set_int(&c->blind, 0);
    secp256k1_gej_set_infinity(&c->initial);
    return 1;
}

/* new blinding from a 32-byte seed: β random, initial = −β·P in random projective coordinates */
static void comb_blind(comb_ctx *c, const unsigned char *seed32, unsigned char tag) {
    secp256k1_rfc6979_hmac_sha256 rng;
    unsigned char keydata[64], nonce32[32];
    secp256k1_scalar beta, zero;
    secp256k1_fe s;
    secp256k1_gej gb;
    int retry;
    secp256k1_scalar_get_b32(keydata, &c->blind); /* chains the previous blinding */
    memcpy(keydata + 32, seed32, 32);
    keydata[63] ^= tag; /* one seed, independent blindings per comb */
    secp256k1_rfc6979_hmac_sha256_initialize(&rng, keydata, 64);
    memset(keydata, 0, sizeof(keydata));
    do {
        secp256k1_rfc6979_hmac_sha256_generate(&rng, nonce32, 32);
        secp256k1_scalar_set_b32(&beta, nonce32, &retry);
        retry = retry || secp256k1_scalar_is_zero(&beta);
    } while (retry);
    do {
        secp256k1_rfc6979_hmac_sha256_generate(&rng, nonce32, 32);
        retry = !secp256k1_fe_set_b32(&s, nonce32) || secp256k1_fe_is_zero(&s);
    } while (retry);
    secp256k1_rfc6979_hmac_sha256_finalize(&rng);
    memset(nonce32, 0, sizeof(nonce32));
    /* the start point is doubled COMB_SPACING − 1 times: −(β/2^(SPACING−1))·P, computed with
       the unblinded comb */
    secp256k1_scalar_set_int(&zero, 0);
    c->blind = zero;
    secp256k1_gej_set_infinity(&c->initial);
    {
        secp256k1_scalar start;
        int i;
        secp256k1_scalar_negate(&start, &beta);
        for (i = 0; i < COMB_SPACING - 1; i++) secp256k1_scalar_mul(&start, &start, &secp256k1_comb_half);
        comb_mul(c, &gb, &start);
        secp256k1_scalar_clear(&start);
    }
    secp256k1_gej_rescale(&gb, &s);
    c->blind = beta;
    c->initial = gb;
    secp256k1_scalar_clear(&beta);
    secp256k1_fe_clear(&s);
}

/* 65-byte uncompressed encoding to a group element; 0 unless a valid point on the curve */
static int parse_point(secp256k1_ge *ge, const unsigned char *in) {
    secp256k1_fe x, y;
    if (in[0] != 4) return 0;
    if (!secp256k1_fe_set_b32(&x, in + 1) || !secp256k1_fe_set_b32(&y, in + 33)) return 0;
    secp256k1_ge_set_xy(ge, &x, &y);
    return secp256k1_ge_is_valid_var(ge);
}

static void write_point(unsigned char *out, secp256k1_ge *ge) {
    secp256k1_fe_normalize(&ge->x);
    secp256k1_fe_normalize(&ge->y);
    out[0] = 4;
    secp256k1_fe_get_b32(out + 1, &ge->x);
    secp256k1_fe_get_b32(out + 33, &ge->y);
}

/* ------------------------------------------------------------------------------------- */
/* constant-time k·P: secp256k1_ecmult_const split in two, so that a point's table of odd
   multiples is built once for several scalars, and with the final skew correction done by
   two unified additions and a conditional move instead of an affine 2·P (a field inversion) */

#ifndef USE_ENDOMORPHISM
#error "nkms_secp256k1 expects USE_ENDOMORPHISM"
#endif

#define CT_TABLE ECMULT_TABLE_SIZE(WINDOW_A)
#define CT_WNAF (1 + WNAF_SIZE(WINDOW_A - 1))

typedef struct {
    secp256k1_ge a;
    secp256k1_ge pre[CT_TABLE];     /* odd multiples of a, on the isomorphic curve with global Z */
    secp256k1_ge pre_lam[CT_TABLE]; /* λ times the above */
    secp256k1_fe z;
} ct_table;

static void ct_table_build(ct_table *t, const secp256k1_ge *a) {
    secp256k1_gej aj;
    int i;
    t->a = *a;
    secp256k1_gej_set_ge(&aj, a);
    secp256k1_ecmult_odd_multiples_table_globalz_windowa(t->pre, &t->z, &aj);
    for (i = 0; i < CT_TABLE; i++) {
        secp256k1_fe_normalize_weak(&t->pre[i].y);
        secp256k1_ge_mul_lambda(&t->pre_lam[i], &t->pre[i]);
    }
}

static void gej_cmov(secp256k1_gej *r, const secp256k1_gej *a, int flag) {
    secp256k1_fe_cmov(&r->x, &a->x, flag);
    secp256k1_fe_cmov(&r->y, &a->y, flag);
    secp256k1_fe_cmov(&r->z, &a->z, flag);
    r->infinity ^= (r->infinity ^ a->infinity) & -(flag != 0);
}

/* r ← r − skew·b for skew ∈ {1, 2}, without branching on skew */
static void ct_sub_skew(secp256k1_gej *r, const secp256k1_ge *b, int skew) {
    secp256k1_ge nb;
    secp256k1_gej r2;
    secp256k1_ge_neg(&nb, b);
    secp256k1_gej_add_ge(r, r, &nb);
    secp256k1_gej_add_ge(&r2, r, &nb);
    gej_cmov(r, &r2, skew == 2);
}

/* k·a for a scalar k in [1, n): the algorithm of secp256k1_ecmult_const (size 256) */
static void ct_mul(secp256k1_gej *r, const ct_table *t, const secp256k1_scalar *k) {
    secp256k1_scalar q_1, q_lam;
    int wnaf_1[CT_WNAF], wnaf_lam[CT_WNAF];
    int skew_1, skew_lam, i;
    secp256k1_ge tmpa, a_lam;
    secp256k1_scalar_split_lambda(&q_1, &q_lam, k);
    skew_1 = secp256k1_wnaf_const(wnaf_1, &q_1, WINDOW_A - 1, 128);
    skew_lam = secp256k1_wnaf_const(wnaf_lam, &q_lam, WINDOW_A - 1, 128);
    i = wnaf_1[WNAF_SIZE_BITS(128, WINDOW_A - 1)];
    ECMULT_CONST_TABLE_GET_GE(&tmpa, t->pre, i, WINDOW_A);
    secp256k1_gej_set_ge(r, &tmpa);
    i = wnaf_lam[WNAF_SIZE_BITS(128, WINDOW_A - 1)];
    ECMULT_CONST_TABLE_GET_GE(&tmpa, t->pre_lam, i, WINDOW_A);
    secp256k1_gej_add_ge(r, r, &tmpa);
    for (i = WNAF_SIZE_BITS(128, WINDOW_A - 1) - 1; i >= 0; i--) {
        int n, j;
        for (j = 0; j < WINDOW_A - 1; ++j) secp256k1_gej_double_nonzero(r, r, NULL);
        n = wnaf_1[i];
        ECMULT_CONST_TABLE_GET_GE(&tmpa, t->pre, n, WINDOW_A);
        secp256k1_gej_add_ge(r, r, &tmpa);
        n = wnaf_lam[i];
        ECMULT_CONST_TABLE_GET_GE(&tmpa, t->pre_lam, n, WINDOW_A);
        secp256k1_gej_add_ge(r, r, &tmpa);
    }
    secp256k1_fe_mul(&r->z, &r->z, &t->z);
    /* the wNAF encoded q + skew: subtract skew·a and skew·λ(a) */
    ct_sub_skew(r, &t->a, skew_1);
    secp256k1_ge_mul_lambda(&a_lam, &t->a);
    ct_sub_skew(r, &a_lam, skew_lam);
    secp256k1_scalar_clear(&q_1);
    secp256k1_scalar_clear(&q_lam);
    memset(wnaf_1, 0, sizeof(wnaf_1));
    memset(wnaf_lam, 0, sizeof(wnaf_lam));
    skew_1 = skew_lam = 0;
}

/* Jacobian to affine for n points (none at infinity) with one constant-time inversion */
static void batch_to_affine(secp256k1_ge *out, const secp256k1_gej *r, size_t n) {
    secp256k1_fe *acc = (secp256k1_fe *)malloc(n * sizeof(secp256k1_fe));
    secp256k1_fe inv;
    size_t i;
    if (acc == NULL) {
        for (i = 0; i < n; i++) {
            secp256k1_gej t = r[i];
            secp256k1_ge_set_gej(&out[i], &t);
        }
        return;
    }
    acc[0] = r[0].z;
    for (i = 1; i < n; i++) secp256k1_fe_mul(&acc[i], &acc[i - 1], &r[i].z);
    secp256k1_fe_inv(&inv, &acc[n - 1]);
    for (i = n; i-- > 0;) {
        secp256k1_fe zi;
        if (i > 0) {
            secp256k1_fe_mul(&zi, &inv, &acc[i - 1]);
            secp256k1_fe_mul(&inv, &inv, &r[i].z);
        } else {
            zi = inv;
        }
        secp256k1_ge_set_gej_zinv(&out[i], &r[i], &zi);
    }
    memset(acc, 0, n * sizeof(secp256k1_fe));
    free(acc);
}

/* ------------------------------------------------------------------------------------- */
/* variable-time helpers (public data only) */

static int scalar_below_2_128(const secp256k1_scalar *s) {
    unsigned char b[32];
    static const unsigned char zero[16] = {0};
    secp256k1_scalar_get_b32(b, s);
    return memcmp(b, zero, 16) == 0;
}

/* Pippenger over entries where scalars below 2¹²⁸ (or whose negation is) are not split by
   the endomorphism: half the bucket additions for such terms. Adapted from
   secp256k1_ecmult_pippenger_batch. Returns 0 on allocation failure. */
static int msm_pippenger(secp256k1_gej *r, const secp256k1_scalar *g, const secp256k1_scalar *sc, const secp256k1_ge *pt, size_t n) {
    size_t cap = 2 * n + 2, idx = 0, i;
    int bucket_window, ok = 0;
    secp256k1_ge *points = (secp256k1_ge *)malloc(cap * sizeof(secp256k1_ge));
    secp256k1_scalar *scalars = (secp256k1_scalar *)malloc(cap * sizeof(secp256k1_scalar));
    struct secp256k1_pippenger_state state;
    secp256k1_gej *buckets = NULL;
    state.ps = (struct secp256k1_pippenger_point_state *)malloc(cap * sizeof(*state.ps));
    state.wnaf_na = NULL;
    if (points == NULL || scalars == NULL || state.ps == NULL) goto done;
    if (g != NULL) {
        scalars[idx] = *g;
        points[idx] = secp256k1_ge_const_g;
        secp256k1_ecmult_endo_split(&scalars[idx], &scalars[idx + 1], &points[idx], &points[idx + 1]);
        idx += 2;
    }
    for (i = 0; i < n; i++) {
        secp256k1_scalar s = sc[i];
        secp256k1_ge p = pt[i];
        int neg = secp256k1_scalar_is_high(&s);
        if (neg) {
            secp256k1_scalar_negate(&s, &s);
            secp256k1_ge_neg(&p, &p);
        }
        /* s < 2¹²⁸: one wNAF of 128 bits, no split */
        if (scalar_below_2_128(&s)) {
            scalars[idx] = s;
            points[idx] = p;
            idx++;
        } else {
            scalars[idx] = sc[i];
            points[idx] = pt[i];
            secp256k1_ecmult_endo_split(&scalars[idx], &scalars[idx + 1], &points[idx], &points[idx + 1]);
            idx += 2;
        }
    }
    bucket_window = secp256k1_pippenger_bucket_window((idx + 1) / 2);
    state.wnaf_na = (int *)malloc(idx * WNAF_SIZE(bucket_window + 1) * sizeof(int));
    buckets = (secp256k1_gej *)malloc(((size_t)1 << bucket_window) * sizeof(secp256k1_gej));
    if (state.wnaf_na == NULL || buckets == NULL) goto done;
    secp256k1_ecmult_pippenger_wnaf(buckets, bucket_window, &state, r, scalars, points, idx);
    ok = 1;
done:
    free(points);
    free(scalars);
    free(state.ps);
    free(state.wnaf_na);
    free(buckets);
    return ok;
}

/* ------------------------------------------------------------------------------------- */
/* N-API plumbing */

#define NAPI_CHECK(call)                                                                            \
    do {                                                                                       \
        if ((call) != napi_ok) return throw_error(env, "nkms_secp256k1: N-API call failed");   \
    } while (0)

static napi_value throw_error(napi_env env, const char *msg) {
    napi_throw_error(env, NULL, msg);
    return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
    napi_throw_type_error(env, NULL, msg);
    return NULL;
}

/* a Uint8Array argument; 0 (with a TypeError pending) when it is not one */
static int get_bytes(napi_env env, napi_value v, unsigned char **data, size_t *len) {
    napi_typedarray_type type;
    napi_value ab;
    size_t offset;
    bool is_ta = false;
    void *p;
    if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) {
        napi_throw_type_error(env, NULL, "nkms_secp256k1: expected a Uint8Array");
        return 0;
    }
    if (napi_get_typedarray_info(env, v, &type, len, &p, &ab, &offset) != napi_ok || type != napi_uint8_array) {
        napi_throw_type_error(env, NULL, "nkms_secp256k1: expected a Uint8Array");
        return 0;
    }
    *data = (unsigned char *)p;
    return 1;
}

static napi_value new_bytes(napi_env env, size_t len, unsigned char **data) {
    napi_value ab, out;
    void *p;
    if (napi_create_arraybuffer(env, len, &p, &ab) != napi_ok) return NULL;
    if (napi_create_typedarray(env, napi_uint8_array, len, ab, 0, &out) != napi_ok) return NULL;
    *data = (unsigned char *)p;
    return out;
}

/* a public point as 65 uncompressed bytes, or null for the identity (variable-time) */
static napi_value point_or_null(napi_env env, secp256k1_gej *pj, const char *oom) {
    napi_value out;
    unsigned char *o;
    secp256k1_ge p;
    if (secp256k1_gej_is_infinity(pj)) {
        NAPI_CHECK(napi_get_null(env, &out));
        return out;
    }
    secp256k1_ge_set_gej_var(&p, pj);
    out = new_bytes(env, 65, &o);
    if (out == NULL) return throw_error(env, oom);
    write_point(o, &p);
    return out;
}

static nkms_state *get_state(napi_env env) {
    void *data = NULL;
    napi_get_instance_data(env, &data);
    return (nkms_state *)data;
}

/* a scalar in [1, n) from 32 bytes; 0 otherwise */
static int parse_nonzero_scalar(secp256k1_scalar *s, const unsigned char *in) {
    int overflow = 0;
    secp256k1_scalar_set_b32(s, in, &overflow);
    return !overflow & !secp256k1_scalar_is_zero(s);
}

/* ------------------------------------------------------------------------------------- */

/* mulMany(points: n·65 bytes, scalars: m·32 bytes, each in [1, n), pairs: q·2 bytes (point
   index, scalar index)) → q·65 bytes, the products, constant-time in the scalars. A point's
   table is built once however many scalars multiply it; U uses its fixed-base comb. */
static napi_value mul_many(napi_env env, napi_callback_info info) {
    nkms_state *st = get_state(env);
    size_t argc = 3, plen, slen, qlen, np, ns, nq, i;
    napi_value argv[3], out = NULL;
    unsigned char *pts, *scs, *pairs, *o;
    secp256k1_scalar *k = NULL;
    ct_table *tables = NULL;
    unsigned char *built = NULL;
    secp256k1_gej *r = NULL;
    secp256k1_ge *res = NULL;
    const char *err = NULL;
    NAPI_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 3 || !get_bytes(env, argv[0], &pts, &plen) || !get_bytes(env, argv[1], &scs, &slen) ||
        !get_bytes(env, argv[2], &pairs, &qlen))
        return NULL;
    np = plen / 65;
    ns = slen / 32;
    nq = qlen / 2;
    if (plen % 65 || slen % 32 || qlen % 2 || np == 0 || ns == 0 || nq == 0 || np > 255 || ns > 255 || nq > 255)
        return throw_type(env, "mulMany: expected 1 to 255 points (65 bytes), scalars (32 bytes) and index pairs");
    k = (secp256k1_scalar *)malloc(ns * sizeof(secp256k1_scalar));
    tables = (ct_table *)malloc(np * sizeof(ct_table));
    built = (unsigned char *)calloc(np, 1);
    r = (secp256k1_gej *)malloc(nq * sizeof(secp256k1_gej));
    res = (secp256k1_ge *)malloc(nq * sizeof(secp256k1_ge));
    if (k == NULL || tables == NULL || built == NULL || r == NULL || res == NULL) {
        err = "mulMany: out of memory";
        goto done;
    }
    for (i = 0; i < ns; i++) {
        if (!parse_nonzero_scalar(&k[i], scs + 32 * i)) {
            err = "mulMany: scalar must be in [1, n)";
            goto done;
        }
    }
    for (i = 0; i < np; i++) {
        if (!parse_point(&tables[i].a, pts + 65 * i)) {
            err = "mulMany: not a point on the curve";
            goto done;
        }
    }
    for (i = 0; i < nq; i++) {
        size_t pi = pairs[2 * i], si = pairs[2 * i + 1];
        if (pi >= np || si >= ns) {
            err = "mulMany: index out of range";
            goto done;
        }
    }
    for (i = 0; i < nq; i++) {
        size_t pi = pairs[2 * i], si = pairs[2 * i + 1];
        /* which point is U is public: the branch leaks nothing about the scalars */
        if (memcmp(pts + 65 * pi, POINT_U, 65) == 0) {
            comb_mul(st->ucomb, &r[i], &k[si]);
            continue;
        }
        if (!built[pi]) {
            secp256k1_ge a = tables[pi].a;
            ct_table_build(&tables[pi], &a);
            built[pi] = 1;
        }
        ct_mul(&r[i], &tables[pi], &k[si]);
    }
    /* never infinity: the group has prime order n and every scalar is in [1, n) */
    batch_to_affine(res, r, nq);
    out = new_bytes(env, 65 * nq, &o);
    if (out == NULL) {
        err = "mulMany: out of memory";
        goto done;
    }
    for (i = 0; i < nq; i++) write_point(o + 65 * i, &res[i]);
done:
    if (k) memset(k, 0, ns * sizeof(secp256k1_scalar));
    if (tables) memset(tables, 0, np * sizeof(ct_table));
    if (r) memset(r, 0, nq * sizeof(secp256k1_gej));
    if (res) memset(res, 0, nq * sizeof(secp256k1_ge));
    free(k);
    free(tables);
    free(built);
    free(r);
    free(res);
    if (err) return throw_type(env, err);
    return out;
}

/* mulGen(k: Uint8Array(32), 0 < k < n) → k·G, 65 bytes */
static napi_value mul_gen(napi_env env, napi_callback_info info) {
    nkms_state *st = get_state(env);
    size_t argc = 1, klen;
    napi_value argv[1], out;
    unsigned char *kb, *o;
    secp256k1_scalar k;
    secp256k1_gej rj;
    secp256k1_ge r;
    NAPI_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 1 || !get_bytes(env, argv[0], &kb, &klen)) return NULL;
    if (klen != 32 || !parse_nonzero_scalar(&k, kb)) return throw_type(env, "mulGen: scalar must be in [1, n)");
    comb_mul(st->gcomb, &rj, &k);
    secp256k1_scalar_clear(&k);
    secp256k1_ge_set_gej(&r, &rj);
    out = new_bytes(env, 65, &o);
    if (out == NULL) return throw_error(env, "mulGen: out of memory");
    write_point(o, &r);
    return out;
}

typedef struct {
    const secp256k1_ge *points;
    const secp256k1_scalar *scalars;
} msm_data;

static int msm_callback(secp256k1_scalar *sc, secp256k1_ge *pt, size_t idx, void *data) {
    const msm_data *d = (const msm_data *)data;
    *sc = d->scalars[idx];
    *pt = d->points[idx];
    return 1;
}

/* msm(points: n·65 bytes, scalars: n·32 bytes, g: Uint8Array(32) | null) → g·G + Σ kᵢ·Pᵢ
   (65 bytes), or null for the identity. Variable-time: public data only. */
static napi_value msm(napi_env env, napi_callback_info info) {
    nkms_state *st = get_state(env);
    size_t argc = 3, plen, slen, glen, n, i;
    napi_value argv[3];
    napi_valuetype gtype;
    unsigned char *pts, *scs, *gb = NULL;
    secp256k1_scalar g;
    secp256k1_ge *points;
    secp256k1_scalar *scalars;
    secp256k1_gej rj;
    msm_data data;
    int ok;
    NAPI_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 3 || !get_bytes(env, argv[0], &pts, &plen) || !get_bytes(env, argv[1], &scs, &slen)) return NULL;
    NAPI_CHECK(napi_typeof(env, argv[2], &gtype));
    if (gtype != napi_null && gtype != napi_undefined) {
        int overflow = 0;
        if (!get_bytes(env, argv[2], &gb, &glen)) return NULL;
        if (glen != 32) return throw_type(env, "msm: the generator scalar must be 32 bytes");
        secp256k1_scalar_set_b32(&g, gb, &overflow);
        if (overflow) return throw_type(env, "msm: scalar not below the group order");
    }
    if (plen % 65 != 0 || slen % 32 != 0 || plen / 65 != slen / 32) return throw_type(env, "msm: expected n points of 65 bytes and n scalars of 32 bytes");
    n = plen / 65;
    points = (secp256k1_ge *)malloc((n ? n : 1) * sizeof(secp256k1_ge));
    scalars = (secp256k1_scalar *)malloc((n ? n : 1) * sizeof(secp256k1_scalar));
    if (points == NULL || scalars == NULL) {
        free(points);
        free(scalars);
        return throw_error(env, "msm: out of memory");
    }
    for (i = 0; i < n; i++) {
        int overflow = 0;
        secp256k1_scalar_set_b32(&scalars[i], scs + 32 * i, &overflow);
        if (overflow || !parse_point(&points[i], pts + 65 * i)) {
            free(points);
            free(scalars);
            return throw_type(env, overflow ? "msm: scalar not below the group order" : "msm: not a point on the curve");
        }
    }
    data.points = points;
    data.scalars = scalars;
    if (n >= MSM_PIPPENGER_MIN) {
        ok = msm_pippenger(&rj, gb ? &g : NULL, scalars, points, n);
    } else {
        ok = secp256k1_ecmult_multi_var(&st->ctx->error_callback, &st->ctx->ecmult_ctx, st->scratch, &rj, gb ? &g : NULL, msm_callback, &data, n);
    }
    free(points);
    free(scalars);
    if (!ok) return throw_error(env, "msm: multi-scalar multiplication failed");
    return point_or_null(env, &rj, "msm: out of memory");
}

/* ecdsaVerify(sig: 64 bytes r ‖ s, digest: 32 bytes, pk: 65 bytes) → boolean; rejects high s */
static napi_value ecdsa_verify(napi_env env, napi_callback_info info) {
    nkms_state *st = get_state(env);
    size_t argc = 3, slen, mlen, plen;
    napi_value argv[3], out;
    unsigned char *sig, *msg, *pk;
    secp256k1_scalar r, s, m;
    secp256k1_ge q;
    int overflow = 0, ok;
    NAPI_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 3 || !get_bytes(env, argv[0], &sig, &slen) || !get_bytes(env, argv[1], &msg, &mlen) ||
        !get_bytes(env, argv[2], &pk, &plen))
        return NULL;
    if (slen != 64 || mlen != 32 || plen != 65) return throw_type(env, "ecdsaVerify: expected 64, 32 and 65 bytes");
    secp256k1_scalar_set_b32(&r, sig, &overflow);
    ok = !overflow;
    secp256k1_scalar_set_b32(&s, sig + 32, &overflow);
    ok = ok && !overflow && !secp256k1_scalar_is_high(&s) && parse_point(&q, pk);
    secp256k1_scalar_set_b32(&m, msg, NULL);
    ok = ok && secp256k1_ecdsa_sig_verify(&st->ctx->ecmult_ctx, &r, &s, &q, &m);
    NAPI_CHECK(napi_get_boolean(env, ok, &out));
    return out;
}

/* ECDSA verification of many signatures by one key, public data only: a window-8 table of
   the key's odd multiples (and their λ images) built once, the s⁻¹ of all signatures from
   one scalar inversion (Montgomery's trick), then per signature a Strauss walk over the key
   table and libsecp256k1's generator tables. The x-coordinate test is secp256k1_ecdsa_sig_verify's. */
#define PK_WINDOW 8
#define PK_TABLE ECMULT_TABLE_SIZE(PK_WINDOW)

static int ecdsa_check_x(const secp256k1_scalar *sigr, const secp256k1_gej *pr) {
    unsigned char c[32];
    secp256k1_fe xr;
    if (secp256k1_gej_is_infinity(pr)) return 0;
    secp256k1_scalar_get_b32(c, sigr);
    secp256k1_fe_set_b32(&xr, c);
    if (secp256k1_gej_eq_x_var(&xr, pr)) return 1;
    if (secp256k1_fe_cmp_var(&xr, &secp256k1_ecdsa_const_p_minus_order) >= 0) return 0;
    secp256k1_fe_add(&xr, &secp256k1_ecdsa_const_order_as_fe);
    return secp256k1_gej_eq_x_var(&xr, pr);
}

static void strauss_pk_g(const secp256k1_ecmult_context *ctx, secp256k1_gej *r, const secp256k1_ge_storage *pre, const secp256k1_ge_storage *pre_lam, const secp256k1_scalar *na, const secp256k1_scalar *ng) {
    secp256k1_scalar na_1, na_lam, ng_1, ng_128;
    int wnaf_1[130], wnaf_lam[130], wnaf_g1[129], wnaf_g128[129];
    int b1, blam, bg1, bg128, bits, i, n;
    secp256k1_ge tmpa;
    secp256k1_scalar_split_lambda(&na_1, &na_lam, na);
    b1 = secp256k1_ecmult_wnaf(wnaf_1, 130, &na_1, PK_WINDOW);
    blam = secp256k1_ecmult_wnaf(wnaf_lam, 130, &na_lam, PK_WINDOW);
    secp256k1_scalar_split_128(&ng_1, &ng_128, ng);
    bg1 = secp256k1_ecmult_wnaf(wnaf_g1, 129, &ng_1, WINDOW_G);
    bg128 = secp256k1_ecmult_wnaf(wnaf_g128, 129, &ng_128, WINDOW_G);
    bits = b1;
    if (blam > bits) bits = blam;
    if (bg1 > bits) bits = bg1;
    if (bg128 > bits) bits = bg128;
    secp256k1_gej_set_infinity(r);
    for (i = bits - 1; i >= 0; i--) {
        secp256k1_gej_double_var(r, r, NULL);
        if (i < b1 && (n = wnaf_1[i])) {
            ECMULT_TABLE_GET_GE_STORAGE(&tmpa, pre, n, PK_WINDOW);
            secp256k1_gej_add_ge_var(r, r, &tmpa, NULL);
        }
        if (i < blam && (n = wnaf_lam[i])) {
            ECMULT_TABLE_GET_GE_STORAGE(&tmpa, pre_lam, n, PK_WINDOW);
            secp256k1_gej_add_ge_var(r, r, &tmpa, NULL);
        }
        if (i < bg1 && (n = wnaf_g1[i])) {
            ECMULT_TABLE_GET_GE_STORAGE(&tmpa, *ctx->pre_g, n, WINDOW_G);
            secp256k1_gej_add_ge_var(r, r, &tmpa, NULL);
        }
        if (i < bg128 && (n = wnaf_g128[i])) {
            ECMULT_TABLE_GET_GE_STORAGE(&tmpa, *ctx->pre_g_128, n, WINDOW_G);
            secp256k1_gej_add_ge_var(r, r, &tmpa, NULL);
        }
    }
}

/* ecdsaVerifyMany(sigs: n·64 bytes, digests: n·32 bytes, pk: 65 bytes) → Uint8Array(n), 1
   where the signature is valid (low s), else 0 */
static napi_value ecdsa_verify_many(napi_env env, napi_callback_info info) {
    nkms_state *st = get_state(env);
    size_t argc = 3, slen, mlen, plen, n, i;
    napi_value argv[3], out;
    unsigned char *sig, *msg, *pk, *o;
    secp256k1_ge q;
    secp256k1_gej qj;
    secp256k1_ge_storage pre[PK_TABLE], pre_lam[PK_TABLE];
    secp256k1_scalar *rs, *ss, *acc, inv;
    unsigned char *valid;
    size_t last = 0, count = 0;
    NAPI_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 3 || !get_bytes(env, argv[0], &sig, &slen) || !get_bytes(env, argv[1], &msg, &mlen) ||
        !get_bytes(env, argv[2], &pk, &plen))
        return NULL;
    n = slen / 64;
    if (slen % 64 || mlen != 32 * n || plen != 65) return throw_type(env, "ecdsaVerifyMany: expected n·64, n·32 and 65 bytes");
    out = new_bytes(env, n ? n : 0, &o);
    if (out == NULL) return throw_error(env, "ecdsaVerifyMany: out of memory");
    if (n == 0 || !parse_point(&q, pk)) {
        if (n) memset(o, 0, n);
        return out;
    }
    rs = (secp256k1_scalar *)malloc(n * sizeof(secp256k1_scalar));
    ss = (secp256k1_scalar *)malloc(n * sizeof(secp256k1_scalar));
    acc = (secp256k1_scalar *)malloc(n * sizeof(secp256k1_scalar));
    valid = o;
    if (rs == NULL || ss == NULL || acc == NULL) {
        free(rs);
        free(ss);
        free(acc);
        return throw_error(env, "ecdsaVerifyMany: out of memory");
    }
    for (i = 0; i < n; i++) {
        int of1 = 0, of2 = 0;
        secp256k1_scalar_set_b32(&rs[i], sig + 64 * i, &of1);
        secp256k1_scalar_set_b32(&ss[i], sig + 64 * i + 32, &of2);
        valid[i] = !of1 && !of2 && !secp256k1_scalar_is_zero(&rs[i]) && !secp256k1_scalar_is_zero(&ss[i]) &&
                   !secp256k1_scalar_is_high(&ss[i]);
        if (valid[i]) {
            if (count == 0) acc[i] = ss[i];
            else secp256k1_scalar_mul(&acc[i], &acc[last], &ss[i]);
            last = i;
            count++;
        }
    }
    if (count > 0) {
        size_t prev;
        secp256k1_gej_set_ge(&qj, &q);
        secp256k1_ecmult_odd_multiples_table_storage_var(PK_TABLE, pre, &qj);
        for (i = 0; i < PK_TABLE; i++) {
            secp256k1_ge t;
            secp256k1_ge_from_storage(&t, &pre[i]);
            secp256k1_ge_mul_lambda(&t, &t);
            secp256k1_ge_to_storage(&pre_lam[i], &t);
        }
        secp256k1_scalar_inverse_var(&inv, &acc[last]);
        /* walk back: inv = (s_0 ⋯ s_i)⁻¹ at each valid i */
        for (i = last + 1; i-- > 0;) {
            secp256k1_scalar sinv, u1, u2, m;
            secp256k1_gej pr;
            if (!valid[i]) continue;
            /* the previous valid index, if any */
            prev = i;
            while (prev > 0 && !valid[prev - 1]) prev--;
            if (prev > 0) {
                secp256k1_scalar_mul(&sinv, &inv, &acc[prev - 1]);
                secp256k1_scalar_mul(&inv, &inv, &ss[i]);
            } else {
                sinv = inv;
            }
            secp256k1_scalar_set_b32(&m, msg + 32 * i, NULL);
            secp256k1_scalar_mul(&u1, &sinv, &m);
            secp256k1_scalar_mul(&u2, &sinv, &rs[i]);
            strauss_pk_g(&st->ctx->ecmult_ctx, &pr, pre, pre_lam, &u2, &u1);
            valid[i] = (unsigned char)ecdsa_check_x(&rs[i], &pr);
        }
    }
    free(rs);
    free(ss);
    free(acc);
    return out;
}

/* mulAddGEquals(point: 65 bytes, a: 32 bytes, g: 32 bytes, expected: 65 bytes) → whether
   a·P + g·G = expected; one secp256k1_ecmult walk, compared in Jacobian coordinates (no field
   inversion, no encoding). Variable-time (public data only). */
static napi_value mul_add_g_equals(napi_env env, napi_callback_info info) {
    nkms_state *st = get_state(env);
    size_t argc = 4, plen, alen, glen, elen;
    napi_value argv[4], out;
    unsigned char *pt, *ab, *gb, *eb;
    secp256k1_scalar a, g;
    secp256k1_ge p, e;
    secp256k1_gej pj, rj;
    secp256k1_fe z2, t;
    int of1 = 0, of2 = 0, eq = 0;
    NAPI_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 4 || !get_bytes(env, argv[0], &pt, &plen) || !get_bytes(env, argv[1], &ab, &alen) ||
        !get_bytes(env, argv[2], &gb, &glen) || !get_bytes(env, argv[3], &eb, &elen))
        return NULL;
    if (plen != 65 || alen != 32 || glen != 32 || elen != 65)
        return throw_type(env, "mulAddGEquals: expected 65, 32, 32 and 65 bytes");
    secp256k1_scalar_set_b32(&a, ab, &of1);
    secp256k1_scalar_set_b32(&g, gb, &of2);
    if (of1 || of2) return throw_type(env, "mulAddGEquals: scalar not below the group order");
    if (!parse_point(&p, pt) || !parse_point(&e, eb)) return throw_type(env, "mulAddGEquals: not a point on the curve");
    secp256k1_gej_set_ge(&pj, &p);
    secp256k1_ecmult(&st->ctx->ecmult_ctx, &rj, &pj, &a, &g);
    /* (X, Y, Z) = (x, y) ⟺ X = x·Z² and Y = y·Z³; the expected point is never infinity */
    if (!secp256k1_gej_is_infinity(&rj)) {
        secp256k1_fe_sqr(&z2, &rj.z);
        secp256k1_fe_mul(&t, &e.x, &z2);
        if (secp256k1_fe_equal_var(&t, &rj.x)) {
            secp256k1_fe_mul(&z2, &z2, &rj.z);
            secp256k1_fe_mul(&t, &e.y, &z2);
            eq = secp256k1_fe_equal_var(&t, &rj.y);
        }
    }
    NAPI_CHECK(napi_get_boolean(env, eq, &out));
    return out;
}

/* decompress(points: n·33 bytes, compressed SEC1) → n·65 bytes uncompressed, or null when
   any of them is not a point on the curve (public data: variable-time square root) */
static napi_value decompress(napi_env env, napi_callback_info info) {
    size_t argc = 1, len, n, i;
    napi_value argv[1], out;
    unsigned char *in, *o;
    NAPI_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 1 || !get_bytes(env, argv[0], &in, &len)) return NULL;
    if (len == 0 || len % 33 != 0) return throw_type(env, "decompress: expected n·33 bytes");
    n = len / 33;
    out = new_bytes(env, 65 * n, &o);
    if (out == NULL) return throw_error(env, "decompress: out of memory");
    for (i = 0; i < n; i++) {
        secp256k1_ge p;
        secp256k1_fe x;
        const unsigned char *c = in + 33 * i;
        if ((c[0] != 2 && c[0] != 3) || !secp256k1_fe_set_b32(&x, c + 1) || !secp256k1_ge_set_xo_var(&p, &x, c[0] == 3)) {
            NAPI_CHECK(napi_get_null(env, &out));
            return out;
        }
        write_point(o + 65 * i, &p);
    }
    return out;
}

/* ecdsaSignRecoverable(digest: 32 bytes, seckey: 32 bytes in [1, n)) → 65 bytes r ‖ s ‖ recid.
   Byte-identical to secp256k1_ecdsa_sign_recoverable with the default nonce function (RFC 6979,
   no extra data), which the `secp256k1` package's ecdsaSign calls, and as constant-time in the
   key and the nonce: the same nonce loop and secp256k1_ecdsa_sig_sign, with R = k·G from the
   blinded G comb instead of secp256k1_ecmult_gen (both constant-time), the constant-time scalar
   inverse, low s (recid adjusted). */
static napi_value ecdsa_sign_recoverable(napi_env env, napi_callback_info info) {
    nkms_state *st = get_state(env);
    size_t argc = 2, mlen, klen;
    napi_value argv[2], out;
    unsigned char *msg32, *key32, *o;
    unsigned char nonce32[32], b[32];
    secp256k1_scalar sec, msg, non, sigr, sigs, n;
    secp256k1_gej rp;
    secp256k1_ge r;
    unsigned int count = 0;
    int overflow = 0, recid = 0;
    NAPI_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 2 || !get_bytes(env, argv[0], &msg32, &mlen) || !get_bytes(env, argv[1], &key32, &klen)) return NULL;
    if (mlen != 32 || klen != 32) return throw_type(env, "ecdsaSignRecoverable: expected a 32-byte digest and a 32-byte key");
    if (!parse_nonzero_scalar(&sec, key32)) {
        secp256k1_scalar_clear(&sec);
        return throw_type(env, "ecdsaSignRecoverable: secret key must be in [1, n)");
    }
    secp256k1_scalar_set_b32(&msg, msg32, NULL);
    while (1) {
        nonce_function_rfc6979(nonce32, msg32, key32, NULL, NULL, count);
        secp256k1_scalar_set_b32(&non, nonce32, &overflow);
        if (!overflow && !secp256k1_scalar_is_zero(&non)) {
            /* secp256k1_ecdsa_sig_sign with the comb for k·G */
            comb_mul(st->gcomb, &rp, &non);
            secp256k1_ge_set_gej(&r, &rp);
            secp256k1_fe_normalize(&r.x);
            secp256k1_fe_normalize(&r.y);
            secp256k1_fe_get_b32(b, &r.x);
            secp256k1_scalar_set_b32(&sigr, b, &overflow);
            recid = (overflow ? 2 : 0) | (secp256k1_fe_is_odd(&r.y) ? 1 : 0);
            secp256k1_scalar_mul(&n, &sigr, &sec);
            secp256k1_scalar_add(&n, &n, &msg);
            secp256k1_scalar_inverse(&sigs, &non);
            secp256k1_scalar_mul(&sigs, &sigs, &n);
            secp256k1_scalar_clear(&n);
            secp256k1_gej_clear(&rp);
            secp256k1_ge_clear(&r);
            if (!secp256k1_scalar_is_zero(&sigs)) {
                if (secp256k1_scalar_is_high(&sigs)) {
                    secp256k1_scalar_negate(&sigs, &sigs);
                    recid ^= 1;
                }
                break;
            }
        }
        count++;
    }
    memset(nonce32, 0, sizeof(nonce32));
    memset(b, 0, sizeof(b));
    secp256k1_scalar_clear(&msg);
    secp256k1_scalar_clear(&non);
    secp256k1_scalar_clear(&sec);
    out = new_bytes(env, 65, &o);
    if (out == NULL) return throw_error(env, "ecdsaSignRecoverable: out of memory");
    secp256k1_scalar_get_b32(o, &sigr);
    secp256k1_scalar_get_b32(o + 32, &sigs);
    o[64] = (unsigned char)recid;
    return out;
}

/* randomize(seed: 32 bytes): new blinding for the G and U combs */
static napi_value randomize(napi_env env, napi_callback_info info) {
    nkms_state *st = get_state(env);
    size_t argc = 1, len;
    napi_value argv[1];
    unsigned char *seed;
    NAPI_CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 1 || !get_bytes(env, argv[0], &seed, &len)) return NULL;
    if (len != 32) return throw_type(env, "randomize: expected a 32-byte seed");
    if (!secp256k1_context_randomize(st->ctx, seed)) return throw_error(env, "randomize failed");
    comb_blind(st->ucomb, seed, 1);
    comb_blind(st->gcomb, seed, 2);
    return NULL;
}

static void free_state(napi_env env, void *data, void *hint) {
    nkms_state *st = (nkms_state *)data;
    (void)env;
    (void)hint;
    if (st == NULL) return;
    if (st->scratch) secp256k1_scratch_destroy(&st->ctx->error_callback, st->scratch);
    if (st->ctx) secp256k1_context_destroy(st->ctx);
    free(st->ucomb);
    free(st->gcomb);
    free(st);
}

static napi_value init(napi_env env, napi_value exports) {
    static const struct {
        const char *name;
        napi_callback fn;
    } fns[] = {{"mulMany", mul_many}, {"mulGen", mul_gen}, {"msm", msm}, {"ecdsaVerify", ecdsa_verify}, {"ecdsaVerifyMany", ecdsa_verify_many}, {"randomize", randomize}, {"mulAddGEquals", mul_add_g_equals}, {"decompress", decompress}, {"ecdsaSignRecoverable", ecdsa_sign_recoverable}};
    nkms_state *st = (nkms_state *)calloc(1, sizeof(nkms_state));
    secp256k1_ge u;
    size_t i;
    if (st == NULL) return throw_error(env, "nkms_secp256k1: out of memory");
    st->ctx = secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
    if (st->ctx != NULL) st->scratch = secp256k1_scratch_create(&st->ctx->error_callback, SCRATCH_SIZE);
    st->ucomb = (comb_ctx *)malloc(sizeof(comb_ctx));
    st->gcomb = (comb_ctx *)malloc(sizeof(comb_ctx));
    if (st->ctx == NULL || st->scratch == NULL || !parse_point(&u, POINT_U) || st->ucomb == NULL ||
        st->gcomb == NULL || !comb_build(st->ucomb, &u) || !comb_build(st->gcomb, &secp256k1_ge_const_g)) {
        free_state(env, st, NULL);
        return throw_error(env, "nkms_secp256k1: initialisation failed");
    }
    if (napi_set_instance_data(env, st, free_state, NULL) != napi_ok) {
        free_state(env, st, NULL);
        return throw_error(env, "nkms_secp256k1: initialisation failed");
    }
    for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        napi_value f;
        NAPI_CHECK(napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f));
        NAPI_CHECK(napi_set_named_property(env, exports, fns[i].name, f));
    }
    return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
