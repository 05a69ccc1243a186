#ifndef CDLIBFACES_H
#define CDLIBFACES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One detection of dlib's frontal face detector: its rectangle in the input's pixels (dlib's
/// inclusive corners, which may reach past the image) and its detection confidence.
typedef struct {
    int64_t left, top, right, bottom;
    double score;
} dfg_face_detection;

/// What `dfg_detect_faces` returns besides a count.
enum {
    DFG_FACES_BAD_ARGUMENT = -1,   ///< null buffer, size <= 0, stride < width, upsampling out of 0...3
    DFG_FACES_TOO_LARGE = -2,      ///< the upsampled image would exceed the shim's pixel cap
    DFG_FACES_FAILED = -3,         ///< dlib threw (out of memory, or any other exception)
};

/// The largest upsampled image (width * height * 4^upsample) the shim accepts.
#define DFG_FACES_MAX_UPSAMPLED_PIXELS ((int64_t)1 << 28)

/// Runs dlib 19.24's HOG frontal face detector on an 8-bit gray image as the Python binding's
/// `detector(gray, upsample)` does: `pyramid_up` `upsample` times, detection at threshold 0,
/// each rectangle mapped back by `pyramid_down<2>::rect_down(rect, upsample)`.
/// Rows are `stride` bytes apart. Writes at most `capacity` detections to `out` in dlib's order
/// (descending score) and returns how many there are in all (possibly more than `capacity`),
/// or one of the negative codes above. Thread-safe: each call scans with its own copy of the model.
int64_t dfg_detect_faces(const uint8_t *gray, int64_t width, int64_t height, int64_t stride,
                         int32_t upsample, dfg_face_detection *out, int64_t capacity);

/// The fast mode: `dfg_detect_faces`'s scan on the coarse pyramid levels (at most half the
/// upsampled width), and on the fine levels only in windows around what those found (each box
/// grown by a quarter of its width, plus a guard band). Every detection it returns is a response of
/// `dfg_detect_faces`'s own scan (box and score to the bit); it misses a detection dlib finds only on the
/// fine levels away from every coarse one (a face smaller than about 83 pixels at upsampling 1),
/// and one that only such a missed detection suppresses would appear. Nothing coarse: every
/// level, as `dfg_detect_faces`. `upsample` 0 is `dfg_detect_faces`. Same arguments and results.
int64_t dfg_detect_faces_fast(const uint8_t *gray, int64_t width, int64_t height, int64_t stride,
                              int32_t upsample, dfg_face_detection *out, int64_t capacity);

#ifdef __cplusplus
}
#endif

#endif
