// Minimum-area rotated rectangle of the largest connected foreground component of a uint8 mask.
// Semantics: findContours(RETR_EXTERNAL) + largest contourArea (> min area) + minAreaRect (spec
// §3.8.6-8); algorithm and its NumPy twin: kernels/mbr_reference.py (read its docstring first).
// All kernels work on a region of interest (rx0, ry0, w, h) of the mask; outside it is background.
// Launch order: ccl_init, ccl_merge, ccl_compress, contour_area, select_largest, row_extremes,
// hull_mbr. Node n = w*h is the exterior background; roots are minimum indices (raster-first).

__device__ __forceinline__ bool fg_at(const unsigned char* mask, long long pitch, int rx0, int ry0, int x, int y) {
    return mask[(long long)(ry0 + y) * pitch + rx0 + x] != 0;
}

__device__ __forceinline__ int find_root(int* parent, int i) {
    volatile int* p = parent;
    int q = p[i];
    while (q != i) { i = q; q = p[i]; }
    return i;
}

// Union by minimum index; a lost atomicMin race re-unites the displaced parent (Playne & Hawick).
__device__ void unite(int* parent, int a, int b) {
    while (true) {
        a = find_root(parent, a);
        b = find_root(parent, b);
        if (a == b) return;
        if (a < b) { int t = a; a = b; b = t; }
        int old = atomicMin(&parent[a], b);
        if (old == a) return;
        a = old;
    }
}

extern "C" __global__ void ccl_init(int* parent, int count) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= count) parent[i] = i;
}

// Foreground: 8-connectivity; background: 4-connectivity, border pixels joined to the exterior.
extern "C" __global__ void ccl_merge(const unsigned char* __restrict__ mask, long long pitch,
                                     int rx0, int ry0, int w, int h, int* parent) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    int i = y * w + x;
    bool f = fg_at(mask, pitch, rx0, ry0, x, y);
    if (x > 0 && fg_at(mask, pitch, rx0, ry0, x - 1, y) == f) unite(parent, i, i - 1);
    if (y > 0 && fg_at(mask, pitch, rx0, ry0, x, y - 1) == f) unite(parent, i, i - w);
    if (f && y > 0) {
        if (x > 0 && fg_at(mask, pitch, rx0, ry0, x - 1, y - 1)) unite(parent, i, i - w - 1);
        if (x + 1 < w && fg_at(mask, pitch, rx0, ry0, x + 1, y - 1)) unite(parent, i, i - w + 1);
    }
    if (!f && (x == 0 || y == 0 || x == w - 1 || y == h - 1)) unite(parent, i, w * h);
}

extern "C" __global__ void ccl_compress(int* parent, int count) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= count) parent[i] = find_root(parent, i);
}

// "Filled" flag of pixel (x, y) for a component whose exterior background root is ext.
__device__ __forceinline__ int filled(const unsigned char* mask, long long pitch, int rx0, int ry0,
                                      int w, int h, const int* parent, int ext, int x, int y) {
    if (x < 0 || y < 0 || x >= w || y >= h) return parent[w * h] != ext;
    if (fg_at(mask, pitch, rx0, ry0, x, y)) return 1;
    return parent[y * w + x] != ext;
}

// Each foreground pixel adds its doubled share of its component's outer-contour area (Green).
extern "C" __global__ void contour_area(const unsigned char* __restrict__ mask, long long pitch,
                                        int rx0, int ry0, int w, int h, const int* __restrict__ parent,
                                        long long* area2) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h || !fg_at(mask, pitch, rx0, ry0, x, y)) return;
    int root = parent[y * w + x];
    int ext = parent[root >= w ? root - w : w * h];
#define M(dx, dy) filled(mask, pitch, rx0, ry0, w, h, parent, ext, x + (dx), y + (dy))
    long long c = 0;
    bool down = y + 1 < h && fg_at(mask, pitch, rx0, ry0, x, y + 1);
    int left2d = M(-1, 0) | M(-1, 1), right2d = M(1, 0) | M(1, 1);
    if (down && left2d != right2d) c += left2d ? 2LL * x : -2LL * x;
    int tr = M(1, 0), bl = M(0, 1), br = M(1, 1), tl = M(-1, 0), bll = M(-1, 1);
    if (br && !tr && bl) c += 2LL * x + 1;
    if (br && tr && !bl) c -= 2LL * x + 1;
    if (bll && !tl && bl) c -= 2LL * x - 1;
    if (bll && tl && !bl) c += 2LL * x - 1;
#undef M
    if (c != 0) atomicAdd((unsigned long long*)&area2[root], (unsigned long long)c);
}

// best = max over roots of (area2 << 32 | root + 1): largest area, ties to the last root.
extern "C" __global__ void select_largest(const unsigned char* __restrict__ mask, long long pitch,
                                          int rx0, int ry0, int w, int h, const int* __restrict__ parent,
                                          const long long* __restrict__ area2, unsigned long long* best) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    int i = y * w + x;
    if (parent[i] != i || !fg_at(mask, pitch, rx0, ry0, x, y)) return;
    atomicMax(best, ((unsigned long long)area2[i] << 32) | (unsigned long long)(i + 1));
}

extern "C" __global__ void row_extremes(const int* __restrict__ parent, int w, int h,
                                        const unsigned long long* __restrict__ best, int* rowmin, int* rowmax) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    int root = (int)(*best & 0xFFFFFFFFULL) - 1;
    if (root < 0 || parent[y * w + x] != root) return;
    atomicMin(&rowmin[y], x);
    atomicMax(&rowmax[y], x);
}

__device__ __forceinline__ long long cross3(int2 o, int2 a, int2 b) {
    return (long long)(a.x - o.x) * (b.y - o.y) - (long long)(a.y - o.y) * (b.x - o.x);
}

#define MBR_THREADS 256

// One block: monotone-chain hull of the row extremes, then rotating calipers over hull edges.
// out: 8 corner coordinates (frame pixels), found, contour area, rectangle area.
extern "C" __global__ void hull_mbr(const int* __restrict__ rowmin, const int* __restrict__ rowmax, int h,
                                    const unsigned long long* __restrict__ best, long long min_area2,
                                    int rx0, int ry0, int2* pts, int2* hull, float* out) {
    __shared__ int count;
    __shared__ double area_s[MBR_THREADS];
    __shared__ int edge_s[MBR_THREADS];
    unsigned long long b = *best;
    long long area2 = (long long)(b >> 32);
    if (threadIdx.x == 0) {
        int n = 0, k = 0;
        if ((long long)(b & 0xFFFFFFFFULL) > 0 && area2 > min_area2) {
            for (int y = 0; y < h; ++y) {
                if (rowmin[y] > rowmax[y]) continue;
                pts[n++] = make_int2(rowmin[y], y);
                if (rowmax[y] != rowmin[y]) pts[n++] = make_int2(rowmax[y], y);
            }
            for (int i = 0; i < n; ++i) {
                while (k >= 2 && cross3(hull[k - 2], hull[k - 1], pts[i]) <= 0) --k;
                hull[k++] = pts[i];
            }
            for (int i = n - 2, t = k + 1; i >= 0; --i) {
                while (k >= t && cross3(hull[k - 2], hull[k - 1], pts[i]) <= 0) --k;
                hull[k++] = pts[i];
            }
            k = n > 1 ? k - 1 : n;
        }
        count = k;
    }
    __syncthreads();
    int k = count;
    double best_area = 1e300;
    int best_edge = 0x7FFFFFFF;
    for (int i = threadIdx.x; i < k && k >= 3; i += blockDim.x) {
        int2 p = hull[i], q = hull[(i + 1) % k];
        double ex = q.x - p.x, ey = q.y - p.y, len = hypot(ex, ey);
        double ux = ex / len, uy = ey / len;
        double a0 = 0, a1 = 0, b0 = 0, b1 = 0;
        for (int j = 0; j < k; ++j) {
            double dx = hull[j].x - p.x, dy = hull[j].y - p.y;
            double a = dx * ux + dy * uy, bb = dy * ux - dx * uy;
            a0 = fmin(a0, a); a1 = fmax(a1, a); b0 = fmin(b0, bb); b1 = fmax(b1, bb);
        }
        double area = (a1 - a0) * (b1 - b0);
        if (area < best_area) { best_area = area; best_edge = i; }
    }
    area_s[threadIdx.x] = best_area;
    edge_s[threadIdx.x] = best_edge;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) {
            double oa = area_s[threadIdx.x + s];
            int oe = edge_s[threadIdx.x + s];
            if (oa < area_s[threadIdx.x] || (oa == area_s[threadIdx.x] && oe < edge_s[threadIdx.x])) {
                area_s[threadIdx.x] = oa;
                edge_s[threadIdx.x] = oe;
            }
        }
        __syncthreads();
    }
    if (threadIdx.x != 0) return;
    for (int i = 0; i < 11; ++i) out[i] = 0.f;
    out[9] = (float)(0.5 * (double)area2);
    if (k < 3) return;
    int i = edge_s[0];
    int2 p = hull[i], q = hull[(i + 1) % k];
    double ex = q.x - p.x, ey = q.y - p.y, len = hypot(ex, ey);
    double ux = ex / len, uy = ey / len, vx = -uy, vy = ux;
    double a0 = 0, a1 = 0, b0 = 0, b1 = 0;
    for (int j = 0; j < k; ++j) {
        double dx = hull[j].x - p.x, dy = hull[j].y - p.y;
        double a = dx * ux + dy * uy, bb = dx * vx + dy * vy;
        a0 = fmin(a0, a); a1 = fmax(a1, a); b0 = fmin(b0, bb); b1 = fmax(b1, bb);
    }
    const double as[4] = {a0, a1, a1, a0}, bs[4] = {b0, b0, b1, b1};
    for (int c = 0; c < 4; ++c) {
        out[2 * c] = (float)(rx0 + p.x + as[c] * ux + bs[c] * vx);
        out[2 * c + 1] = (float)(ry0 + p.y + as[c] * uy + bs[c] * vy);
    }
    out[8] = 1.f;
    out[10] = (float)area_s[0];
}
