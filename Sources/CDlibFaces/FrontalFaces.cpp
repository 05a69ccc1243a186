// dlib's HOG frontal face detector behind a C interface, called as dlib's Python binding calls it
// (tools/python/src/object_detection.cpp, run_detector_with_upscale): the reference crops were
// made through that binding, so upsampling and the mapping back must be the same.
#include "CDlibFaces.h"

#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms/image_pyramid.h>

#include <memory>
#include <mutex>
#include <new>
#include <vector>

namespace {

using Detector = dlib::frontal_face_detector;

// A detector is not const while it runs (its scanner keeps the image's feature pyramid), so each
// call borrows one. Deserialising the model once and copying it is cheaper than reading it again.
class DetectorPool {
public:
    std::unique_ptr<Detector> take() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!prototype_) prototype_ = std::make_unique<Detector>(dlib::get_frontal_face_detector());
        if (idle_.empty()) return std::make_unique<Detector>(*prototype_);
        auto detector = std::move(idle_.back());
        idle_.pop_back();
        return detector;
    }

    void give_back(std::unique_ptr<Detector> detector) {
        std::lock_guard<std::mutex> lock(mutex_);
        idle_.push_back(std::move(detector));
    }

private:
    std::mutex mutex_;
    std::unique_ptr<Detector> prototype_;
    std::vector<std::unique_ptr<Detector>> idle_;
};

DetectorPool &pool() {
    static DetectorPool instance;  // never destroyed before exit; thread-safe initialisation
    return instance;
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
    std::unique_ptr<Detector> detector;
    try {
        dlib::array2d<unsigned char> image(height, width);
        for (int64_t y = 0; y < height; ++y) {
            const uint8_t *row = gray + y * stride;
            for (int64_t x = 0; x < width; ++x) image[y][x] = row[x];
        }
        detector = pool().take();
        std::vector<dlib::rect_detection> detections;
        if (upsample == 0) {
            (*detector)(image, detections, 0.0);
        } else {
            dlib::pyramid_down<2> pyramid;
            dlib::array2d<unsigned char> upsampled;
            dlib::pyramid_up(image, upsampled, pyramid);
            for (int32_t level = 1; level < upsample; ++level) dlib::pyramid_up(upsampled);
            (*detector)(upsampled, detections, 0.0);
            for (auto &detection : detections) {
                // drectangle to rectangle rounds each side, as the binding's assignment does.
                detection.rect = pyramid.rect_down(detection.rect, upsample);
            }
        }
        pool().give_back(std::move(detector));
        const int64_t count = static_cast<int64_t>(detections.size());
        for (int64_t i = 0; i < count && i < capacity; ++i) {
            const auto &d = detections[static_cast<size_t>(i)];
            out[i] = dfg_face_detection{d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom(),
                                        d.detection_confidence};
        }
        return count;
    } catch (...) {
        // A detector that threw mid-scan is dropped with `detector`; the pool makes another.
        return DFG_FACES_FAILED;
    }
}
