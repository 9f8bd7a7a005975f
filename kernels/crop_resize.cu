// Crop + resize of a BGR uint8 frame straight into the engine's NCHW input (float32 or float16).
// Semantics: masktrt.runtime.crop.crop_subwindow; arithmetic: kernels/crop_reference.py (OpenCV's
// 11-bit fixed-point bilinear with its 16-bit SIMD vertical pass, bit for bit).
// Compiled with --fmad=false so that double/float expressions round exactly as on the CPU.

__device__ __forceinline__ void resize_coef(int d, double scale, int src, bool clamp,
                                            int* i0, int* i1, int* w0, int* w1) {
    float f = (float)(((double)d + 0.5) * scale - 0.5);
    int i = (int)floorf(f);
    f = f - (float)i;
    if (clamp) {
        if (i < 0) { f = 0.f; i = 0; }
        if (i >= src - 1) { f = 0.f; i = src - 1; }
    }
    *w1 = __float2int_rn(f * 2048.f);
    *w0 = __float2int_rn((1.f - f) * 2048.f);
    *i0 = min(max(i, 0), src - 1);
    *i1 = min(max(i + 1, 0), src - 1);
}

// One channel of the source patch: the frame pixel, or the pad colour outside the frame.
__device__ __forceinline__ int patch_px(const unsigned char* frame, long long pitch, int fh, int fw,
                                        int x, int y, int c, int pad) {
    if (x < 0 || y < 0 || x >= fw || y >= fh) return pad;
    return frame[(long long)y * pitch + 3LL * x + c];
}

// uint8 value -> IEEE half bits, exact (0..255 are representable); avoids cuda_fp16.h.
__device__ __forceinline__ unsigned short u8_to_half_bits(int v) {
    if (v == 0) return 0;
    int e = 31 - __clz(v);                       // floor(log2 v), 0..7
    return (unsigned short)(((e + 15) << 10) | ((v << (10 - e)) & 0x3FF));
}

extern "C" __global__ void crop_resize_bgr(
    const unsigned char* __restrict__ frame, int frame_h, int frame_w, long long frame_pitch,
    int xmin, int ymin, int src_size, int dst_size, double scale,
    int pad_b, int pad_g, int pad_r, void* __restrict__ out, int out_half) {
    int dx = blockIdx.x * blockDim.x + threadIdx.x;
    int dy = blockIdx.y * blockDim.y + threadIdx.y;
    if (dx >= dst_size || dy >= dst_size) return;
    int x0, x1, a0, a1, y0, y1, b0, b1;
    resize_coef(dx, scale, src_size, true, &x0, &x1, &a0, &a1);
    resize_coef(dy, scale, src_size, false, &y0, &y1, &b0, &b1);
    const int pads[3] = {pad_b, pad_g, pad_r};
    long long plane = (long long)dst_size * dst_size;
    long long o = (long long)dy * dst_size + dx;
    for (int c = 0; c < 3; ++c) {
        int h0 = patch_px(frame, frame_pitch, frame_h, frame_w, xmin + x0, ymin + y0, c, pads[c]) * a0
               + patch_px(frame, frame_pitch, frame_h, frame_w, xmin + x1, ymin + y0, c, pads[c]) * a1;
        int h1 = patch_px(frame, frame_pitch, frame_h, frame_w, xmin + x0, ymin + y1, c, pads[c]) * a0
               + patch_px(frame, frame_pitch, frame_h, frame_w, xmin + x1, ymin + y1, c, pads[c]) * a1;
        int v = (((h0 >> 4) * b0) >> 16) + (((h1 >> 4) * b1) >> 16);
        v = min(max((v + 2) >> 2, 0), 255);
        if (out_half) ((unsigned short*)out)[c * plane + o] = u8_to_half_bits(v);
        else ((float*)out)[c * plane + o] = (float)v;
    }
}
