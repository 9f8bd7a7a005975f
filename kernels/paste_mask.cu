// Mask paste-back + binarisation: 127x127 refine logits -> uint8 {0,1} frame mask.
// Semantics: masktrt.runtime.mask (sigmoid, cv2.warpAffine bilinear with border -1, > seg_thr);
// arithmetic: kernels/paste_reference.py (OpenCV 5's float32 warp: fma coordinates and blends).
// Compiled with --fmad=false: every fused operation below is explicit.

// Sigmoid with the reference's float32 steps 1 / (1 + exp(-x)); exp is taken in double and rounded
// once (correctly rounded float32 exp nearly always; NumPy's may differ in the last ulp).
extern "C" __global__ void sigmoid_map(const float* __restrict__ logits, float* __restrict__ prob, int count) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= count) return;
    float e = (float)exp(-(double)logits[i]);
    prob[i] = __fdiv_rn(1.f, __fadd_rn(1.f, e));
}

__device__ __forceinline__ float map_at(const float* prob, int n, int x, int y) {
    return (x >= 0 && y >= 0 && x < n && y < n) ? prob[y * n + x] : -1.f;
}

// Writes the rectangle [wx0, wx1) x [wy0, wy1) of the mask (the union of this frame's and the
// previous frame's cover); pixels outside this frame's cover [cx0, cx1) x [cy0, cy1) get 0.
extern "C" __global__ void paste_mask(
    const float* __restrict__ prob, int n, float m0, float m2, float m4, float m5, float seg_thr,
    unsigned char* __restrict__ mask, long long mask_pitch,
    int wx0, int wy0, int wx1, int wy1, int cx0, int cy0, int cx1, int cy1) {
    int x = wx0 + blockIdx.x * blockDim.x + threadIdx.x;
    int y = wy0 + blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= wx1 || y >= wy1) return;
    unsigned char out = 0;
    if (x >= cx0 && x < cx1 && y >= cy0 && y < cy1) {
        float sx = __fmaf_rn(m0, (float)x, m2);
        float sy = __fadd_rn(__fmul_rn((float)y, m4), m5);
        int ix = (int)floorf(sx), iy = (int)floorf(sy);
        float ax = __fsub_rn(sx, (float)ix), ay = __fsub_rn(sy, (float)iy);
        if (ix + 1 >= 0 && ix < n && iy + 1 >= 0 && iy < n) {
            float p00 = map_at(prob, n, ix, iy), p01 = map_at(prob, n, ix + 1, iy);
            float p10 = map_at(prob, n, ix, iy + 1), p11 = map_at(prob, n, ix + 1, iy + 1);
            float v0 = __fmaf_rn(ax, __fsub_rn(p01, p00), p00);
            float v1 = __fmaf_rn(ax, __fsub_rn(p11, p10), p10);
            float v = __fmaf_rn(ay, __fsub_rn(v1, v0), v0);
            out = v > seg_thr ? 1 : 0;
        }
    }
    mask[(long long)y * mask_pitch + x] = out;
}
