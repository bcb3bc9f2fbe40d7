/* Instantiated twice by fastrnn_gates.h (float, double); no include guard on purpose.
 * Derivatives use saved outputs: sigmoid' = y (1 - y), tanh' = 1 - y^2. */

/* ---------------------------------------------------------------- vanilla RNN */

/* 2: h_t = act(a_t) with a_t = y (1a, in place) + z (1b); writes y and the state h. */
FR_ROW void FR_NAME(fr_rnn_forward_row)(
    int H, int relu, FR_REAL *FR_RESTRICT y, const FR_REAL *FR_RESTRICT z,
    FR_REAL *FR_RESTRICT h)
{
    int j;
    if (relu) {
        for (j = 0; j < H; j++) {
            FR_REAL v = y[j] + z[j];
            v = v < 0 ? 0 : v; /* NaN stays NaN (as torch.relu) */
            y[j] = v;
            h[j] = v;
        }
    } else {
        for (j = 0; j < H; j++) {
            FR_REAL v = FR_TANH(y[j] + z[j]);
            y[j] = v;
            h[j] = v;
        }
    }
}

/* 2 backward: da_t = (dh + dY_t) act'(h_t). */
FR_ROW void FR_NAME(fr_rnn_backward_row)(
    int H, int relu, const FR_REAL *FR_RESTRICT y, const FR_REAL *FR_RESTRICT dy,
    const FR_REAL *FR_RESTRICT dh, FR_REAL *FR_RESTRICT da)
{
    int j;
    if (relu) {
        for (j = 0; j < H; j++)
            da[j] = y[j] > 0 ? dh[j] + dy[j] : 0;
    } else {
        for (j = 0; j < H; j++)
            da[j] = (dh[j] + dy[j]) * (1 - y[j] * y[j]);
    }
}

/* ---------------------------------------------------------------- LSTM (i, f, g, o) */

/* Gate block k of unit j sits at g[k * gs + j] and z[k * zs + j], peephole k at
 * wp[k * ws + j]: a whole row has every stride H; a slice of units (the units-split time
 * loop, lstm.pyx) keeps the row's stride H in g and wp and its own in z. */
FR_ALWAYS_INLINE void FR_NAME(fr_lstm_forward_row_impl)(
    int H, const int peephole, const int save, int gs, int zs, int ws,
    FR_REAL *FR_RESTRICT g,             /* IN-OUT (4 blocks): a from 1a -> i, f, g, o
                                           (left as a unless save) */
    const FR_REAL *FR_RESTRICT z,       /* IN (4 blocks): W_hh h_prev */
    const FR_REAL *FR_RESTRICT wp,      /* IN (3 blocks): peepholes p_i, p_f, p_o */
    FR_REAL *FR_RESTRICT c,             /* IN-OUT (H): c_prev -> c_t */
    FR_REAL *FR_RESTRICT h,             /* OUT (H): state h_t */
    FR_REAL *FR_RESTRICT y,             /* OUT (H): output h_t */
    FR_REAL *FR_RESTRICT c_out)         /* OUT (H): saved c_t (only if save) */
{
    int j;
    for (j = 0; j < H; j++) {
        /* 1b: a += W_hh h_prev */
        FR_REAL ai = g[j] + z[j], af = g[gs + j] + z[zs + j];
        FR_REAL ag = g[2 * gs + j] + z[2 * zs + j], ao = g[3 * gs + j] + z[3 * zs + j];
        FR_REAL cp = c[j], vi, vf, vg, vo, ct, ht;
        /* 2: i, f (peepholes see c_prev), g */
        if (peephole) {
            ai += wp[j] * cp;
            af += wp[ws + j] * cp;
        }
        vi = FR_SIGMOID(ai);
        vf = FR_SIGMOID(af);
        vg = FR_TANH(ag);
        /* 3: c_t = f c_prev + i g */
        ct = vf * cp + vi * vg;
        /* 4: o (peephole sees c_t), h_t = o tanh(c_t) */
        if (peephole)
            ao += wp[2 * ws + j] * ct;
        vo = FR_SIGMOID(ao);
        ht = vo * FR_TANH(ct);
        if (save) { /* for backward and tracing; inference skips this memory traffic */
            g[j] = vi;
            g[gs + j] = vf;
            g[2 * gs + j] = vg;
            g[3 * gs + j] = vo;
            c_out[j] = ct;
        }
        c[j] = ct;
        h[j] = ht;
        y[j] = ht;
    }
}

/* The four instantiations of the row loop: peepholes or not, saving gates or not. */
#define FR_LSTM_FORWARD_CASES(n, gs, zs)                                                   \
    do {                                                                                  \
        if (wp && c_out)                                                                  \
            FR_NAME(fr_lstm_forward_row_impl)(n, 1, 1, gs, zs, gs, g, z, wp, c, h, y, c_out); \
        else if (wp)                                                                      \
            FR_NAME(fr_lstm_forward_row_impl)(n, 1, 0, gs, zs, gs, g, z, wp, c, h, y, c_out); \
        else if (c_out)                                                                   \
            FR_NAME(fr_lstm_forward_row_impl)(n, 0, 1, gs, zs, gs, g, z, wp, c, h, y, c_out); \
        else                                                                              \
            FR_NAME(fr_lstm_forward_row_impl)(n, 0, 0, gs, zs, gs, g, z, wp, c, h, y, c_out); \
    } while (0)

/* Steps 1b-4 for one row; wp == NULL means no peepholes, c_out == NULL inference (the
 * gates stay unwritten in g, no c_t saved). */
FR_ROW void FR_NAME(fr_lstm_forward_row)(
    int H, const FR_REAL *wp, FR_REAL *g, const FR_REAL *z, FR_REAL *c, FR_REAL *h,
    FR_REAL *y, FR_REAL *c_out)
{
    FR_LSTM_FORWARD_CASES(H, H, H);
}

/* Steps 1b-4 for n units of one row: gate blocks gs apart in g and wp, zs apart in z. */
FR_ROW void FR_NAME(fr_lstm_forward_units)(
    int n, int gs, int zs, const FR_REAL *wp, FR_REAL *g, const FR_REAL *z, FR_REAL *c,
    FR_REAL *h, FR_REAL *y, FR_REAL *c_out)
{
    FR_LSTM_FORWARD_CASES(n, gs, zs);
}
#undef FR_LSTM_FORWARD_CASES

/* Gate block k of unit j at g[k * gs + j], da[k * gs + j]; peephole k at wp[k * gs + j]
 * and dwp[k * gs + j] (gs = H for a whole row; a slice of units keeps the row's H). */
FR_ALWAYS_INLINE void FR_NAME(fr_lstm_backward_row_impl)(
    int H, const int peephole, int gs,
    const FR_REAL *FR_RESTRICT g,       /* IN (4 blocks): i, f, g, o at time t */
    const FR_REAL *FR_RESTRICT c_t,     /* IN (H) */
    const FR_REAL *FR_RESTRICT c_prev,  /* IN (H) */
    const FR_REAL *FR_RESTRICT dy,      /* IN (H): dY_t */
    const FR_REAL *FR_RESTRICT wp,      /* IN (3 blocks) */
    const FR_REAL *FR_RESTRICT dh,      /* IN (H): dh carried from step t+1 */
    FR_REAL *FR_RESTRICT dc,            /* IN-OUT (H): dc carried -> dc_prev */
    FR_REAL *FR_RESTRICT da,            /* OUT (4 blocks): pre-activation gradients */
    FR_REAL *FR_RESTRICT dwp)           /* IN-OUT (3 blocks): peephole gradient sums */
{
    int j;
    for (j = 0; j < H; j++) {
        FR_REAL vi = g[j], vf = g[gs + j], vg = g[2 * gs + j], vo = g[3 * gs + j];
        FR_REAL cp = c_prev[j], tc = FR_TANH(c_t[j]);
        /* 4: dh_t = dh + dY_t; da_o */
        FR_REAL dht = dh[j] + dy[j];
        FR_REAL dao = dht * tc * vo * (1 - vo);
        /* 3: dc_t (through h_t and, with peepholes, through o) */
        FR_REAL dct = dc[j] + dht * vo * (1 - tc * tc);
        FR_REAL dai, daf, dag;
        if (peephole)
            dct += wp[2 * gs + j] * dao;
        /* 2: da_i, da_f, da_g; dc_prev */
        dai = dct * vg * vi * (1 - vi);
        daf = dct * cp * vf * (1 - vf);
        dag = dct * vi * (1 - vg * vg);
        if (peephole) {
            dc[j] = dct * vf + wp[j] * dai + wp[gs + j] * daf;
            dwp[j] += dai * cp;
            dwp[gs + j] += daf * cp;
            dwp[2 * gs + j] += dao * c_t[j];
        } else {
            dc[j] = dct * vf;
        }
        da[j] = dai;
        da[gs + j] = daf;
        da[2 * gs + j] = dag;
        da[3 * gs + j] = dao;
    }
}

/* Steps 4-2 backward for one row; wp == NULL means no peepholes (dwp unused). */
FR_ROW void FR_NAME(fr_lstm_backward_row)(
    int H, const FR_REAL *wp, const FR_REAL *g, const FR_REAL *c_t,
    const FR_REAL *c_prev, const FR_REAL *dy, const FR_REAL *dh, FR_REAL *dc,
    FR_REAL *da, FR_REAL *dwp)
{
    if (wp)
        FR_NAME(fr_lstm_backward_row_impl)(H, 1, H, g, c_t, c_prev, dy, wp, dh, dc, da, dwp);
    else
        FR_NAME(fr_lstm_backward_row_impl)(H, 0, H, g, c_t, c_prev, dy, wp, dh, dc, da, dwp);
}

/* Steps 4-2 backward for n units of one row, gate blocks gs apart in g, da, wp, dwp. */
FR_ROW void FR_NAME(fr_lstm_backward_units)(
    int n, int gs, const FR_REAL *wp, const FR_REAL *g, const FR_REAL *c_t,
    const FR_REAL *c_prev, const FR_REAL *dy, const FR_REAL *dh, FR_REAL *dc,
    FR_REAL *da, FR_REAL *dwp)
{
    if (wp)
        FR_NAME(fr_lstm_backward_row_impl)(n, 1, gs, g, c_t, c_prev, dy, wp, dh, dc, da, dwp);
    else
        FR_NAME(fr_lstm_backward_row_impl)(n, 0, gs, g, c_t, c_prev, dy, wp, dh, dc, da, dwp);
}

/* ---------------------------------------------------------------- GRU (r, z, n) */

/* PyTorch form, 1c-2: r, z; n = tanh(a_n + r (W_hn h_prev + b_hn)); h_t.  Gate block k
 * of unit j at a[k * gs + j] and s[k * ss + j] (a whole row: gs = ss = H). */
FR_ALWAYS_INLINE void FR_NAME(fr_gru_forward_impl)(
    int H, const int save, int gs, int ss,
    FR_REAL *FR_RESTRICT a,             /* IN-OUT (3 blocks): a from 1a -> r, z, n */
    const FR_REAL *FR_RESTRICT s,       /* IN (3 blocks): W_hh h_prev */
    const FR_REAL *FR_RESTRICT b_hn,    /* IN (H) */
    FR_REAL *FR_RESTRICT aux,           /* OUT (H): W_hn h_prev + b_hn (only if save) */
    FR_REAL *FR_RESTRICT h,             /* IN-OUT (H): h_prev -> h_t */
    FR_REAL *FR_RESTRICT y)             /* OUT (H) */
{
    int j;
    for (j = 0; j < H; j++) {
        /* 1c: r, z */
        FR_REAL rg = FR_SIGMOID(a[j] + s[j]);
        FR_REAL zg = FR_SIGMOID(a[gs + j] + s[ss + j]);
        /* 1d: n = tanh(a_n + r * (W_hn h_prev + b_hn)) */
        FR_REAL hn = s[2 * ss + j] + b_hn[j];
        FR_REAL ng = FR_TANH(a[2 * gs + j] + rg * hn);
        a[j] = rg;
        a[gs + j] = zg;
        a[2 * gs + j] = ng;
        if (save) /* for backward; inference skips it */
            aux[j] = hn;
        /* 2: h_t = (1 - z) n + z h_prev */
        ng = ng + zg * (h[j] - ng);
        y[j] = ng;
        h[j] = ng;
    }
}

/* aux == NULL: inference (nothing saved for backward). */
FR_ROW void FR_NAME(fr_gru_forward_row)(
    int H, FR_REAL *a, const FR_REAL *s, const FR_REAL *b_hn, FR_REAL *aux, FR_REAL *h,
    FR_REAL *y)
{
    if (aux)
        FR_NAME(fr_gru_forward_impl)(H, 1, H, H, a, s, b_hn, aux, h, y);
    else
        FR_NAME(fr_gru_forward_impl)(H, 0, H, H, a, s, b_hn, aux, h, y);
}

/* The same for n units of a row (the units-split time loop, gru.pyx). */
FR_ROW void FR_NAME(fr_gru_forward_units)(
    int n, int gs, int ss, FR_REAL *a, const FR_REAL *s, const FR_REAL *b_hn, FR_REAL *aux,
    FR_REAL *h, FR_REAL *y)
{
    if (aux)
        FR_NAME(fr_gru_forward_impl)(n, 1, gs, ss, a, s, b_hn, aux, h, y);
    else
        FR_NAME(fr_gru_forward_impl)(n, 0, gs, ss, a, s, b_hn, aux, h, y);
}

/* PyTorch form backward, 2-1c: dA_ih = [da_r, da_z, da_n], dA_hh = [.., .., da_n r].
 * Gate block k of unit j at g[k * gs + j], da[k * gs + j], dd[k * gs + j]. */
FR_ALWAYS_INLINE void FR_NAME(fr_gru_backward_impl)(
    int H, int gs,
    const FR_REAL *FR_RESTRICT g,       /* IN (3 blocks): r, z, n */
    const FR_REAL *FR_RESTRICT aux,     /* IN (H): W_hn h_prev + b_hn */
    const FR_REAL *FR_RESTRICT dy,      /* IN (H) */
    const FR_REAL *FR_RESTRICT hp,      /* IN (H): h_prev */
    FR_REAL *FR_RESTRICT dh,            /* IN-OUT (H): dh -> dh_tot z (1b adds the rest) */
    FR_REAL *FR_RESTRICT da,            /* OUT (3 blocks) */
    FR_REAL *FR_RESTRICT dd)            /* OUT (3 blocks) */
{
    int j;
    for (j = 0; j < H; j++) {
        FR_REAL rg = g[j], zg = g[gs + j], ng = g[2 * gs + j];
        /* 2: dh_tot = dY_t + dh */
        FR_REAL dht = dh[j] + dy[j];
        /* 1d: da_n = dn (1 - n^2); dr = da_n aux */
        FR_REAL dan = dht * (1 - zg) * (1 - ng * ng);
        /* 1c: da_r, da_z */
        FR_REAL dar = dan * aux[j] * rg * (1 - rg);
        FR_REAL daz = dht * (hp[j] - ng) * zg * (1 - zg);
        da[j] = dar;
        da[gs + j] = daz;
        da[2 * gs + j] = dan;
        dd[j] = dar;
        dd[gs + j] = daz;
        dd[2 * gs + j] = dan * rg;
        dh[j] = dht * zg;
    }
}

FR_ROW void FR_NAME(fr_gru_backward_row)(
    int H, const FR_REAL *g, const FR_REAL *aux, const FR_REAL *dy, const FR_REAL *hp,
    FR_REAL *dh, FR_REAL *da, FR_REAL *dd)
{
    FR_NAME(fr_gru_backward_impl)(H, H, g, aux, dy, hp, dh, da, dd);
}

/* The same for n units of a row, gate blocks gs apart in g, da and dd. */
FR_ROW void FR_NAME(fr_gru_backward_units)(
    int n, int gs, const FR_REAL *g, const FR_REAL *aux, const FR_REAL *dy,
    const FR_REAL *hp, FR_REAL *dh, FR_REAL *da, FR_REAL *dd)
{
    FR_NAME(fr_gru_backward_impl)(n, gs, g, aux, dy, hp, dh, da, dd);
}

/* Cho form, 1c: r, z and the reset state r * h_prev (before the W_hn product). */
FR_ROW void FR_NAME(fr_gru_cho_forward_rz_row)(
    int H, FR_REAL *FR_RESTRICT a, const FR_REAL *FR_RESTRICT s,
    const FR_REAL *FR_RESTRICT h, FR_REAL *FR_RESTRICT rh)
{
    int j;
    for (j = 0; j < H; j++) {
        FR_REAL rg = FR_SIGMOID(a[j] + s[j]);
        FR_REAL zg = FR_SIGMOID(a[H + j] + s[H + j]);
        a[j] = rg;
        a[H + j] = zg;
        rh[j] = rg * h[j];
    }
}

/* Cho form, 1d-2: n = tanh(a_n + W_hn (r h_prev)); h_t = (1 - z) n + z h_prev. */
FR_ROW void FR_NAME(fr_gru_cho_forward_n_row)(
    int H, FR_REAL *FR_RESTRICT a, const FR_REAL *FR_RESTRICT sn,
    FR_REAL *FR_RESTRICT h, FR_REAL *FR_RESTRICT y)
{
    int j;
    for (j = 0; j < H; j++) {
        FR_REAL ng = FR_TANH(a[2 * H + j] + sn[j]);
        a[2 * H + j] = ng;
        ng = ng + a[H + j] * (h[j] - ng);
        y[j] = ng;
        h[j] = ng;
    }
}

/* Cho form backward, 2-1d: da_n, da_z (da_r needs d(r h) = da_n W_hn first). */
FR_ROW void FR_NAME(fr_gru_cho_backward_nz_row)(
    int H, const FR_REAL *FR_RESTRICT g, const FR_REAL *FR_RESTRICT dy,
    const FR_REAL *FR_RESTRICT hp, FR_REAL *FR_RESTRICT dh,
    FR_REAL *FR_RESTRICT dn, FR_REAL *FR_RESTRICT drz)
{
    int j;
    for (j = 0; j < H; j++) {
        FR_REAL zg = g[H + j], ng = g[2 * H + j];
        /* 2: dh_tot = dY_t + dh */
        FR_REAL dht = dh[j] + dy[j];
        /* 1d: da_n = dn (1 - n^2) */
        dn[j] = dht * (1 - zg) * (1 - ng * ng);
        /* 1c: da_z = dz z (1 - z) */
        drz[H + j] = dht * (hp[j] - ng) * zg * (1 - zg);
        dh[j] = dht * zg;
    }
}

/* Cho form backward, 1d-1c: dr = d(r h) h_prev; dh_prev += d(r h) r; da_r. */
FR_ROW void FR_NAME(fr_gru_cho_backward_r_row)(
    int H, const FR_REAL *FR_RESTRICT g, const FR_REAL *FR_RESTRICT hp,
    const FR_REAL *FR_RESTRICT drh, const FR_REAL *FR_RESTRICT dn,
    FR_REAL *FR_RESTRICT dh, FR_REAL *FR_RESTRICT drz, FR_REAL *FR_RESTRICT da,
    FR_REAL *FR_RESTRICT rh)
{
    int j;
    for (j = 0; j < H; j++) {
        FR_REAL rg = g[j];
        FR_REAL dar = drh[j] * hp[j] * rg * (1 - rg);
        dh[j] += drh[j] * rg;
        drz[j] = dar;
        da[j] = dar;
        da[H + j] = drz[H + j];
        da[2 * H + j] = dn[j];
        rh[j] = rg * hp[j];
    }
}

/* Minimal GRU (z, n), 1c-2. */
FR_ROW void FR_NAME(fr_gru_minimal_forward_row)(
    int H, FR_REAL *FR_RESTRICT a, const FR_REAL *FR_RESTRICT s,
    FR_REAL *FR_RESTRICT h, FR_REAL *FR_RESTRICT y)
{
    int j;
    for (j = 0; j < H; j++) {
        FR_REAL zg = FR_SIGMOID(a[j] + s[j]);
        FR_REAL ng = FR_TANH(a[H + j] + s[H + j]);
        a[j] = zg;
        a[H + j] = ng;
        ng = ng + zg * (h[j] - ng);
        y[j] = ng;
        h[j] = ng;
    }
}

/* Minimal GRU backward, 2-1c: [da_z, da_n]. */
FR_ROW void FR_NAME(fr_gru_minimal_backward_row)(
    int H, const FR_REAL *FR_RESTRICT g, const FR_REAL *FR_RESTRICT dy,
    const FR_REAL *FR_RESTRICT hp, FR_REAL *FR_RESTRICT dh, FR_REAL *FR_RESTRICT dd)
{
    int j;
    for (j = 0; j < H; j++) {
        FR_REAL zg = g[j], ng = g[H + j];
        FR_REAL dht = dh[j] + dy[j];
        dd[j] = dht * (hp[j] - ng) * zg * (1 - zg);
        dd[H + j] = dht * (1 - zg) * (1 - ng * ng);
        dh[j] = dht * zg;
    }
}

/* ---------------------------------------------------------------- shared */

/* 1a/1b backward, bias gradients: out[j] = sum_r A[r, j] for j in [lo, hi), A (R, N).
 * Rows are added in order, so the sums do not depend on how columns are split. */
FR_ROW void FR_NAME(fr_column_sums)(
    const FR_REAL *FR_RESTRICT A, FR_REAL *FR_RESTRICT out, int R, int N, int lo, int hi)
{
    int r, j;
    for (j = lo; j < hi; j++)
        out[j] = 0;
    for (r = 0; r < R; r++) {
        const FR_REAL *FR_RESTRICT row = A + (long)r * N;
        for (j = lo; j < hi; j++)
            out[j] += row[j];
    }
}
