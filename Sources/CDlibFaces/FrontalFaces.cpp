// dlib's HOG frontal face detector behind a C interface, called as dlib's Python binding calls it
// (tools/python/src/object_detection.cpp, run_detector_with_upscale): the reference crops were
// made through that binding, so upsampling and the mapping back must be the same.
#include "CDlibFaces.h"

#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms/image_pyramid.h>

#include <vector>

namespace {

using Detector = dlib::frontal_face_detector;

// The model, deserialised once (thread-safe static initialisation) and only read afterwards.
// A detector is not const while it runs (its scanner keeps the image's feature pyramid, tens of
// MB for a large frame), so each call scans with its own copy, freed when the call returns:
// copying the filters costs far less than a scan, and nothing large outlives the call.
const Detector &prototype() {
    static const Detector model = dlib::get_frontal_face_detector();
    return model;
}

}  // namespace

extern "C" int64_t dfg_detect_faces(const uint8_t *gray, int64_t width, int64_t height, int64_t stride,
                                    int32_t upsample, dfg_face_detection *out, int64_t capacity) {
    if (gray == nullptr || width <= 0 || height <= 0 || stride < width || upsample < 0 || upsample > 3
        || capacity < 0 || (capacity > 0 && out == nullptr)) {
        return DFG_FACES_BAD_ARGUMENT;
    }
    // Checked one factor at a time, so that no product overflows.
    if (width > DFG_FACES_MAX_UPSAMPLED_PIXELS || height > DFG_FACES_MAX_UPSAMPLED_PIXELS / width
        || (width * height) > (DFG_FACES_MAX_UPSAMPLED_PIXELS >> (2 * upsample))) {
        return DFG_FACES_TOO_LARGE;
    }
    try {
        dlib::array2d<unsigned char> image(height, width);
        for (int64_t y = 0; y < height; ++y) {
            const uint8_t *row = gray + y * stride;
            for (int64_t x = 0; x < width; ++x) image[y][x] = row[x];
        }
        Detector detector(prototype());
        std::vector<dlib::rect_detection> detections;
        if (upsample == 0) {
            detector(image, detections, 0.0);
        } else {
            dlib::pyramid_down<2> pyramid;
            dlib::array2d<unsigned char> upsampled;
            dlib::pyramid_up(image, upsampled, pyramid);
            for (int32_t level = 1; level < upsample; ++level) dlib::pyramid_up(upsampled);
            detector(upsampled, detections, 0.0);
            for (auto &detection : detections) {
                // drectangle to rectangle rounds each side, as the binding's assignment does.
                detection.rect = pyramid.rect_down(detection.rect, upsample);
            }
        }
        const int64_t count = static_cast<int64_t>(detections.size());
        for (int64_t i = 0; i < count && i < capacity; ++i) {
            const auto &d = detections[static_cast<size_t>(i)];
            out[i] = dfg_face_detection{d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom(),
                                        d.detection_confidence};
        }
        return count;
    } catch (...) {
        return DFG_FACES_FAILED;
    }
}
